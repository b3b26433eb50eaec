"use strict";
// The applicant's view after the interview: decision, delivery status, rating, complaints.

NotaryI18n.register("zh-CN", {
  "mine.title": "我的公证事项",
  "mine.login": "登录",
  "mine.loginName": "邮箱或手机号",
  "mine.password": "密码",
  "mine.loginButton": "登录",
  "mine.cases": "我的案件",
  "mine.open": "查看",
  "mine.state": "状态",
  "mine.decision": "审批结果",
  "mine.joinSession": "进入视频询问",
  "mine.joinHint": "公证员开启视频询问后，请用本账户进入（无需另外的链接）。",
  "mine.noDecision": "尚未审批",
  "mine.delivery": "送达",
  "mine.noDelivery": "尚未选择送达方式",
  "mine.agreed": "视频询问中约定",
  "mine.chooseDelivery": "选择送达方式",
  "mine.address": "邮寄地址（仅邮寄时填写）",
  "mine.save": "保存",
  "mine.method": "方式",
  "mine.carrier": "快递公司",
  "mine.tracking": "运单号",
  "mine.receipt": "签收回执",
  "mine.receiptKept": "已存档",
  "mine.rating": "评价",
  "mine.rateHelp": "您对本次办理满意吗？",
  "mine.comment": "意见（可选）",
  "mine.rate": "提交评价",
  "mine.rated": "您的评价：{grade}",
  "mine.notYet": "案件办结后可以评价。",
  "mine.complaints": "投诉",
  "mine.complaintText": "投诉内容（将送交监督部门）",
  "mine.complain": "提交投诉",
  "mine.answer": "答复：",
  "mine.close": "问题已解决，关闭",
  "mine.busy": "请稍候……",
  "mine.saved": "已保存。",
  "outcome.approved": "准予公证",
  "outcome.refused": "不予办理",
  "method.post": "邮寄",
  "method.electronic": "电子送达",
  "method.pickup": "到公证处领取",
  "delivery.preparing": "准备中",
  "delivery.dispatched": "已寄出 / 已发送",
  "delivery.ready": "可领取",
  "delivery.delivered": "已送达",
  "delivery.failed": "送达失败，将重新送达",
  "grade.good": "好评",
  "grade.fair": "中评",
  "grade.poor": "差评",
  "complaint.open": "待答复",
  "complaint.answered": "已答复",
  "complaint.closed": "已关闭",
  "error.case_not_over": "案件办结后才能评价。",
  "error.already_rated": "本案件已评价。",
  "error.not_deliverable": "目前没有可送达的公证书。",
  "error.delivery_underway": "公证书已在送达途中，不能再更改方式。",
  "error.invalid_address": "邮寄需要填写地址。",
  "error.too_many_complaints": "本案件的未答复投诉已达上限。",
  "error.no_session": "公证员尚未开启本案件的视频询问，请在预约时间再试。",
  "error.generic": "出错了：",
});
NotaryI18n.register("en", {
  "mine.title": "My notarization",
  "mine.login": "Log in",
  "mine.loginName": "E-mail or phone",
  "mine.password": "Password",
  "mine.loginButton": "Log in",
  "mine.cases": "My cases",
  "mine.open": "Open",
  "mine.state": "Status",
  "mine.decision": "Decision",
  "mine.joinSession": "Join the video interview",
  "mine.joinHint": "Once the notary opens the interview, join it with this account (no other link needed).",
  "mine.noDecision": "Not decided yet",
  "mine.delivery": "Delivery",
  "mine.noDelivery": "No delivery method chosen yet",
  "mine.agreed": "Agreed in the interview",
  "mine.chooseDelivery": "Choose how to receive the certificate",
  "mine.address": "Postal address (post only)",
  "mine.save": "Save",
  "mine.method": "Method",
  "mine.carrier": "Carrier",
  "mine.tracking": "Tracking number",
  "mine.receipt": "Signed receipt",
  "mine.receiptKept": "kept on file",
  "mine.rating": "Rating",
  "mine.rateHelp": "How satisfied are you with this case?",
  "mine.comment": "Comment (optional)",
  "mine.rate": "Send rating",
  "mine.rated": "Your rating: {grade}",
  "mine.notYet": "You can rate the case once it is finished.",
  "mine.complaints": "Complaints",
  "mine.complaintText": "Your complaint (goes to the supervisor)",
  "mine.complain": "Send complaint",
  "mine.answer": "Answer: ",
  "mine.close": "Resolved, close it",
  "mine.busy": "Please wait…",
  "mine.saved": "Saved.",
  "outcome.approved": "Approved",
  "outcome.refused": "Refused",
  "method.post": "Post",
  "method.electronic": "Electronic",
  "method.pickup": "Pick up at the office",
  "delivery.preparing": "Preparing",
  "delivery.dispatched": "Sent",
  "delivery.ready": "Ready for pick-up",
  "delivery.delivered": "Delivered",
  "delivery.failed": "Failed; will be sent again",
  "grade.good": "Good",
  "grade.fair": "Fair",
  "grade.poor": "Poor",
  "complaint.open": "Awaiting answer",
  "complaint.answered": "Answered",
  "complaint.closed": "Closed",
  "error.case_not_over": "You can rate the case once it is finished.",
  "error.already_rated": "This case is already rated.",
  "error.not_deliverable": "There is no certificate to deliver yet.",
  "error.delivery_underway": "The certificate is on its way; the method cannot change now.",
  "error.invalid_address": "Post needs an address.",
  "error.too_many_complaints": "This case has too many open complaints.",
  "error.no_session": "The notary has not opened this case's video interview yet; try again at the appointment time.",
  "error.generic": "Something went wrong: ",
});

const { explain, session, call, element } = NotaryCases;
const auth = session("mine");
const status = document.getElementById("message");
let current = null;

function say(text) { status.textContent = text; }
function api(method, path, body) { return call(auth, method, path, body); }
function t(key) { return NotaryI18n.t(key); }
function when(iso) { return iso ? new Date(iso).toLocaleString(NotaryI18n.lang) : ""; }

async function showCases() {
  document.getElementById("login-form").hidden = true;
  document.getElementById("cases-section").hidden = false;
  const data = await api("GET", `/api/cases?lang=${NotaryI18n.lang}`);
  document.getElementById("cases").replaceChildren(...data.cases.map((c) => {
    const li = element("li", `${c.matter_name} · ${t(`state.${c.state}`)} `);
    const open = element("button", t("mine.open"));
    open.type = "button";
    open.dataset.caseId = c.id;
    open.addEventListener("click", () => openCase(c.id).catch((error) => say(explain(error))));
    li.append(open);
    return li;
  }));
}

function fact(list, label, value) {
  list.append(element("dt", label), element("dd", value));
}

async function openCase(caseId) {
  const base = `/api/cases/${encodeURIComponent(caseId)}`;
  const [file, decided, delivery, rating, complaints] = await Promise.all([
    api("GET", `${base}?lang=${NotaryI18n.lang}`),
    api("GET", `${base}/decision`),
    api("GET", `${base}/delivery`),
    api("GET", `${base}/rating`),
    api("GET", `${base}/complaints`),
  ]);
  current = file.case;
  document.getElementById("case-section").hidden = false;
  document.getElementById("case-title").textContent = current.matter_name;
  document.getElementById("case-state").textContent = t(`state.${current.state}`);
  // The interview is due: the applicant joins it with this account (their own seat).
  document.getElementById("join-section").hidden = current.state !== "scheduled";
  const d = decided.decision;
  document.getElementById("decision").textContent = d
    ? `${t(`outcome.${d.outcome}`)} — ${d.reasons}` : t("mine.noDecision");

  const facts = document.getElementById("delivery-facts");
  facts.replaceChildren();
  const steps = document.getElementById("delivery-steps");
  steps.replaceChildren();
  const dv = delivery.delivery;
  if (dv) {
    fact(facts, t("mine.method"), t(`method.${dv.method}`));
    fact(facts, t("mine.state"), t(`delivery.${dv.state}`));
    if (dv.carrier) fact(facts, t("mine.carrier"), dv.carrier);
    if (dv.tracking_number) fact(facts, t("mine.tracking"), dv.tracking_number);
    if (dv.receipt) fact(facts, t("mine.receipt"), t("mine.receiptKept"));
    steps.replaceChildren(...dv.events.map((e) =>
      element("li", `${when(e.at)} · ${t(`delivery.${e.state}`)}${e.note ? ` · ${e.note}` : ""}`)));
  } else {
    fact(facts, t("mine.method"), t("mine.noDelivery"));
    const agreed = delivery.agreed_method;
    if (agreed) {
      // What the confirmed interview record names: offered first, still the applicant's choice.
      fact(facts, t("mine.agreed"), t(`method.${agreed}`));
      const radio = document.querySelector(`#delivery-form input[name="method"][value="${agreed}"]`);
      if (radio) radio.checked = true;
    }
  }
  const choosable = d && d.outcome === "approved" && (!dv || dv.state === "preparing")
    && ["decided", "certificate_issued"].includes(current.state);
  document.getElementById("delivery-form").hidden = !choosable;

  const r = rating.rating;
  const over = ["delivered", "archived"].includes(current.state)
    || (current.state === "decided" && d && d.outcome === "refused");
  document.getElementById("rating-done").textContent = r
    ? t("mine.rated").replace("{grade}", t(`grade.${r.grade}`)) + (r.comment ? ` — ${r.comment}` : "")
    : over ? "" : t("mine.notYet");
  document.getElementById("rating-form").hidden = Boolean(r) || !over;

  document.getElementById("complaints").replaceChildren(...complaints.complaints.map((c) => {
    const li = element("li", `${when(c.created_at)} · ${t(`complaint.${c.state}`)} · ${c.body}`);
    if (c.answer) li.append(element("p", t("mine.answer") + c.answer, "muted"));
    if (c.state === "answered") {
      const close = element("button", t("mine.close"));
      close.type = "button";
      close.addEventListener("click", () => act("POST", `/api/complaints/${c.id}/close`));
      li.append(close);
    }
    return li;
  }));
}

async function act(method, path, body) {
  say(t("mine.busy"));
  try {
    await api(method, path, body);
    say(t("mine.saved"));
    await openCase(current.id);
  } catch (error) {
    say(explain(error));
  }
}

document.getElementById("join-session").addEventListener("click", async () => {
  say(t("mine.busy"));
  try {
    const { link } = await api("POST", `/api/cases/${encodeURIComponent(current.id)}/session-link`);
    window.location.assign(link.url);
  } catch (error) {
    say(explain(error));
  }
});

document.getElementById("delivery-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = { method: form.get("method") };
  if (body.method === "post") body.address = form.get("address");
  act("PUT", `/api/cases/${current.id}/delivery`, body);
});

document.getElementById("rating-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = { grade: form.get("grade") };
  if (form.get("comment")) body.comment = form.get("comment");
  act("POST", `/api/cases/${current.id}/rating`, body);
});

document.getElementById("complaint-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  act("POST", `/api/cases/${current.id}/complaints`, { body: form.get("body") })
    .then(() => event.target.reset());
});

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  say(t("mine.busy"));
  try {
    const data = await api("POST", "/api/auth/login", { login: form.get("login"), password: form.get("password") });
    auth.token = data.token;
    say("");
    await showCases();
  } catch (error) {
    say(explain(error));
  }
});

NotaryI18n.apply();
document.addEventListener("notarylink:lang", () => {
  if (auth.token) showCases().catch(() => {});
  if (current) openCase(current.id).catch(() => {});
});
if (auth.token) showCases().catch((error) => { auth.token = null; document.getElementById("login-form").hidden = false; say(explain(error)); });
