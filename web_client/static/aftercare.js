"use strict";
// The office's side after the interview: decide (or refer first), give second opinions, move
// deliveries on, archive finished cases. Notaries see their own cases; an admin sees the office's
// deliveries and archives delivered cases.

NotaryI18n.register("zh-CN", {
  "ac.title": "审批与送达",
  "ac.login": "登录",
  "ac.loginName": "邮箱或手机号",
  "ac.password": "密码",
  "ac.loginButton": "登录",
  "ac.toDecide": "待审批",
  "ac.opinions": "请我提出意见",
  "ac.deliveries": "送达",
  "ac.none": "没有待办。",
  "ac.toArchive": "待归档",
  "ac.archive": "归档",
  "ac.archiveNote": "归档说明（可选）",
  "ac.refused": "不予办理",
  "ac.reasons": "理由",
  "ac.approve": "准予公证",
  "ac.refuse": "不予办理",
  "ac.question": "疑难问题",
  "ac.secondNotary": "第二公证员（账号 ID）",
  "ac.referSecond": "提请第二公证员审查",
  "ac.referCollective": "提交集体讨论",
  "ac.openReferral": "待结论：{kind}",
  "ac.minutes": "讨论记录",
  "ac.participants": "参加人员（每行一人：姓名，职务）",
  "ac.opinion": "审查意见",
  "ac.recommendApprove": "建议准予",
  "ac.recommendRefuse": "建议不予",
  "ac.carrier": "快递公司",
  "ac.tracking": "运单号",
  "ac.receipt": "签收回执（图片或 PDF）",
  "ac.upload": "上传回执",
  "ac.step.dispatched": "已寄出 / 已发送",
  "ac.step.ready": "可领取",
  "ac.step.delivered": "已送达",
  "ac.step.failed": "送达失败",
  "ac.noMethod": "申请人尚未选择送达方式",
  "ac.busy": "请稍候……",
  "ac.saved": "已保存。",
  "kind.second_notary": "第二公证员",
  "kind.collective": "集体讨论",
  "method.post": "邮寄",
  "method.electronic": "电子送达",
  "method.pickup": "到公证处领取",
  "delivery.preparing": "准备中",
  "delivery.dispatched": "已寄出 / 已发送",
  "delivery.ready": "可领取",
  "delivery.delivered": "已送达",
  "delivery.failed": "送达失败",
  "error.referral_open": "提请的意见尚未作出，暂不能审批。",
  "error.receipt_missing": "请先上传签收回执。",
  "error.invalid_carrier": "请填写快递公司。",
  "error.invalid_tracking_number": "请填写正确的运单号。",
  "error.invalid_reasons": "请填写理由。",
  "error.not_issued": "公证书尚未出具。",
  "error.not_finished": "案件尚未办结，不能归档。",
  "error.decision_mismatch": "准予办理的案件须出具公证书并送达后归档。",
  "error.generic": "出错了：",
});
NotaryI18n.register("en", {
  "ac.title": "Decisions and delivery",
  "ac.login": "Log in",
  "ac.loginName": "E-mail or phone",
  "ac.password": "Password",
  "ac.loginButton": "Log in",
  "ac.toDecide": "To decide",
  "ac.opinions": "Second opinions asked of me",
  "ac.deliveries": "Delivery",
  "ac.none": "Nothing to do.",
  "ac.toArchive": "To archive",
  "ac.archive": "Archive",
  "ac.archiveNote": "Note (optional)",
  "ac.refused": "refused",
  "ac.reasons": "Reasons",
  "ac.approve": "Approve",
  "ac.refuse": "Refuse",
  "ac.question": "The difficult question",
  "ac.secondNotary": "Second notary (account id)",
  "ac.referSecond": "Ask a second notary",
  "ac.referCollective": "Refer to a collective discussion",
  "ac.openReferral": "Awaiting conclusion: {kind}",
  "ac.minutes": "Minutes",
  "ac.participants": "Participants (one per line: name, role)",
  "ac.opinion": "Opinion",
  "ac.recommendApprove": "Recommend approval",
  "ac.recommendRefuse": "Recommend refusal",
  "ac.carrier": "Carrier",
  "ac.tracking": "Tracking number",
  "ac.receipt": "Signed receipt (image or PDF)",
  "ac.upload": "Upload receipt",
  "ac.step.dispatched": "Sent",
  "ac.step.ready": "Ready for pick-up",
  "ac.step.delivered": "Delivered",
  "ac.step.failed": "Failed",
  "ac.noMethod": "The applicant has not chosen a delivery method yet",
  "ac.busy": "Please wait…",
  "ac.saved": "Saved.",
  "kind.second_notary": "second notary",
  "kind.collective": "collective discussion",
  "method.post": "Post",
  "method.electronic": "Electronic",
  "method.pickup": "Pick-up",
  "delivery.preparing": "Preparing",
  "delivery.dispatched": "Sent",
  "delivery.ready": "Ready for pick-up",
  "delivery.delivered": "Delivered",
  "delivery.failed": "Failed",
  "error.referral_open": "A referral is still open: decide once it is concluded.",
  "error.receipt_missing": "Upload the signed receipt first.",
  "error.invalid_carrier": "Name the carrier.",
  "error.invalid_tracking_number": "Enter a valid tracking number.",
  "error.invalid_reasons": "Give the reasons.",
  "error.not_issued": "The certificate is not issued yet.",
  "error.not_finished": "The case is not finished: it cannot be archived yet.",
  "error.decision_mismatch": "An approved case is archived once its certificate is delivered.",
  "error.generic": "Something went wrong: ",
});

const { explain, session, call, element } = NotaryCases;
const auth = session("aftercare");
const status = document.getElementById("message");
let role = sessionStorage.getItem("notarylink.aftercareRole");

// The next steps the office may take, by method and current state (as notary/delivery.py).
const NEXT = {
  post: { preparing: ["dispatched"], dispatched: ["delivered", "failed"], failed: ["dispatched"] },
  electronic: { preparing: ["dispatched"], dispatched: ["delivered", "failed"], failed: ["dispatched"] },
  pickup: { preparing: ["ready"], ready: ["delivered"] },
};

function say(text) { status.textContent = text; }
function api(method, path, body) { return call(auth, method, path, body); }
function t(key) { return NotaryI18n.t(key); }

function field(labelKey, control) {
  const label = element("label");
  label.append(element("span", t(labelKey)), element("br"), control);
  return element("p").appendChild(label).parentNode;
}

function textarea(name, max) {
  const node = element("textarea");
  node.name = name; node.rows = 2; node.cols = 50; node.maxLength = max;
  return node;
}

function input(name, max) {
  const node = element("input");
  node.name = name; node.maxLength = max; node.size = 24;
  return node;
}

function button(key, onClick, primary = false) {
  const node = element("button", t(key), primary ? "primary" : undefined);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

async function act(work) {
  say(t("ac.busy"));
  try {
    await work();
    say(t("ac.saved"));
    await showDesk();
  } catch (error) {
    say(explain(error));
  }
}

async function decisionItem(c) {
  const li = element("li");
  li.dataset.caseId = c.id;
  li.append(element("strong", c.matter_name));
  const info = await api("GET", `/api/cases/${c.id}/decision`);
  const open = (info.referrals || []).find((r) => r.state === "open");
  const reasons = textarea("reasons", 2000);
  li.append(field("ac.reasons", reasons));
  const decide = (outcome) => act(() => api("POST", `/api/cases/${c.id}/decision`, { outcome, reasons: reasons.value }));
  li.append(button("ac.approve", () => decide("approved"), true), " ", button("ac.refuse", () => decide("refused")));
  if (open && open.kind === "collective") {
    li.append(element("p", t("ac.openReferral").replace("{kind}", t("kind.collective")), "muted"));
    const minutes = textarea("minutes", 20000);
    const people = textarea("participants", 3000);
    li.append(field("ac.minutes", minutes), field("ac.participants", people));
    const conclude = (recommendation) => act(() => api("POST", `/api/referrals/${open.id}/conclusion`, {
      recommendation,
      record: minutes.value,
      participants: people.value.split("\n").map((line) => line.trim()).filter(Boolean).map((line) => {
        const [name, ...rest] = line.split(/[,，]/);
        return { name: name.trim(), role: rest.join(",").trim() };
      }),
    }));
    li.append(button("ac.recommendApprove", () => conclude("approved")), " ", button("ac.recommendRefuse", () => conclude("refused")));
  } else if (open) {
    li.append(element("p", t("ac.openReferral").replace("{kind}", t("kind.second_notary")), "muted"));
  } else {
    const question = textarea("question", 2000);
    const second = input("second_notary_id", 36);
    li.append(field("ac.question", question), field("ac.secondNotary", second));
    li.append(
      button("ac.referSecond", () => act(() => api("POST", `/api/cases/${c.id}/referrals`, { kind: "second_notary", question: question.value, second_notary_id: second.value }))),
      " ",
      button("ac.referCollective", () => act(() => api("POST", `/api/cases/${c.id}/referrals`, { kind: "collective", question: question.value }))),
    );
  }
  return li;
}

function referralItem(item) {
  const li = element("li");
  li.dataset.referralId = item.referral.id;
  li.append(element("strong", item.case.matter_name), element("p", item.referral.question));
  const opinion = textarea("record", 20000);
  li.append(field("ac.opinion", opinion));
  const conclude = (recommendation) => act(() => api("POST", `/api/referrals/${item.referral.id}/conclusion`, { recommendation, record: opinion.value }));
  li.append(button("ac.recommendApprove", () => conclude("approved"), true), " ", button("ac.recommendRefuse", () => conclude("refused")));
  return li;
}

async function deliveryItem(c) {
  const li = element("li");
  li.dataset.caseId = c.id;
  li.append(element("strong", c.matter_name));
  const { delivery } = await api("GET", `/api/cases/${c.id}/delivery`);
  if (!delivery && c.state === "decided") return null;  // refused, or not chosen before issue
  if (!delivery) { li.append(element("p", t("ac.noMethod"), "muted")); return li; }
  li.append(element("p", `${t(`method.${delivery.method}`)} · ${t(`delivery.${delivery.state}`)}`
    + (delivery.tracking_number ? ` · ${delivery.carrier} ${delivery.tracking_number}` : "")));
  if (delivery.address) li.append(element("p", delivery.address, "muted"));
  const steps = (NEXT[delivery.method] || {})[delivery.state] || [];
  const carrier = input("carrier", 64);
  const tracking = input("tracking_number", 64);
  if (delivery.method === "post" && steps.includes("dispatched")) li.append(field("ac.carrier", carrier), field("ac.tracking", tracking));
  if (delivery.method === "post" && delivery.state === "dispatched") {
    const file = element("input");
    file.type = "file"; file.name = "file"; file.accept = "image/jpeg,image/png,application/pdf";
    li.append(field("ac.receipt", file), button("ac.upload", () => act(async () => {
      if (!file.files.length) throw { code: "receipt_missing" };
      const form = new FormData();
      form.append("file", file.files[0]);
      const response = await fetch(`/api/cases/${c.id}/delivery/receipt`, {
        method: "PUT", headers: { Authorization: `Bearer ${auth.token}` }, body: form,
      });
      const data = await response.json().catch(() => ({}));
      if (!response.ok) throw data.error || { code: "generic", message: String(response.status) };
    })));
  }
  for (const step of steps) {
    li.append(" ", button(`ac.step.${step}`, () => act(() => {
      const body = { state: step };
      if (step === "dispatched" && delivery.method === "post") Object.assign(body, { carrier: carrier.value, tracking_number: tracking.value });
      return api("POST", `/api/cases/${c.id}/delivery/steps`, body);
    }), step !== "failed"));
  }
  return li;
}

function archiveItem(c, refused) {
  const li = element("li");
  li.dataset.caseId = c.id;
  li.append(element("strong", c.matter_name), ` · ${refused ? t("ac.refused") : t(`state.${c.state}`)}`);
  const note = input("reason", 500);
  li.append(field("ac.archiveNote", note));
  li.append(button("ac.archive", () => act(() => api("POST", `/api/cases/${c.id}/archive`, { reason: note.value || undefined })), true));
  return li;
}

async function toArchive(cases, isNotary) {
  // A refused case is finished once decided; only its notary reads the decision to know.
  const refused = isNotary
    ? (await Promise.all(cases.filter((c) => c.state === "decided").map(async (c) => {
      const { decision } = await api("GET", `/api/cases/${c.id}/decision`);
      return decision && decision.outcome === "refused" ? c : null;
    }))).filter(Boolean)
    : [];
  return [
    ...refused.map((c) => archiveItem(c, true)),
    ...cases.filter((c) => c.state === "delivered").map((c) => archiveItem(c, false)),
  ];
}

function fill(id, items) {
  document.getElementById(id).replaceChildren(...(items.length ? items : [element("li", t("ac.none"), "muted")]));
}

async function showDesk() {
  document.getElementById("login-form").hidden = true;
  document.getElementById("desk").hidden = false;
  const { cases } = await api("GET", `/api/cases?lang=${NotaryI18n.lang}`);
  const isNotary = role === "notary";
  document.getElementById("deciding").hidden = !isNotary;
  document.getElementById("opinions").hidden = !isNotary;
  if (isNotary) {
    fill("to-decide", await Promise.all(cases.filter((c) => c.state === "interviewed").map(decisionItem)));
    const { referrals } = await api("GET", `/api/referrals?lang=${NotaryI18n.lang}`);
    fill("referrals", referrals.map(referralItem));
  }
  const deliveries = await Promise.all(cases.filter((c) => ["decided", "certificate_issued"].includes(c.state)).map(deliveryItem));
  fill("to-deliver", deliveries.filter(Boolean));
  fill("to-archive", await toArchive(cases, isNotary));
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  say(t("ac.busy"));
  try {
    const data = await api("POST", "/api/auth/login", { login: form.get("login"), password: form.get("password") });
    auth.token = data.token;
    role = data.account.role;
    sessionStorage.setItem("notarylink.aftercareRole", role);
    say("");
    await showDesk();
  } catch (error) {
    say(explain(error));
  }
});

NotaryI18n.apply();
document.addEventListener("notarylink:lang", () => { if (auth.token) showDesk().catch(() => {}); });
if (auth.token) showDesk().catch((error) => { auth.token = null; document.getElementById("login-form").hidden = false; say(explain(error)); });
