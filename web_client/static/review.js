"use strict";
// Pre-review: the notary's queue, a case's materials opened in the browser, accept or return
// with ONE notice listing everything; an admin of the office assigns cases to notaries.

NotaryI18n.register("zh-CN", {
  "review.title": "材料预审",
  "review.login": "登录",
  "review.loginName": "邮箱或手机号",
  "review.password": "密码",
  "review.loginButton": "登录",
  "review.queue": "待预审",
  "review.queueHelp": "优先办理的案件在前，其余按等待时间排序。",
  "review.matter": "事项",
  "review.flags": "标记",
  "review.waiting": "已等待",
  "review.hours": "{n} 小时",
  "review.supervisionMoved": "统计、随机抽查和抽中案件的卷宗在监督管理页面：",
  "review.supervisionLink": "前往监督管理",
  "review.open": "打开",
  "review.office": "本处案件（分配）",
  "review.state": "状态",
  "review.assigned": "承办公证员",
  "review.assign": "分配",
  "review.unassigned": "未分配",
  "review.caseId": "案件号",
  "review.parties": "当事人",
  "review.materials": "材料",
  "review.noticeHelp": "请一次列明全部缺漏或问题。第二次起的通知只能涉及上次通知后新提交的材料。",
  "review.requirement": "材料",
  "review.provided": "已提交",
  "review.problem": "问题（留空表示无问题）",
  "review.message": "给申请人的说明",
  "review.sendNotice": "发送一次性补正通知",
  "review.accept": "受理",
  "review.recuse": "回避",
  "review.reason": "理由",
  "review.recuseButton": "申请回避",
  "review.view": "查看",
  "review.none": "—",
  "review.noticeSent": "补正通知已发送。",
  "review.accepted": "已受理。",
  "review.recused": "已回避，案件退回本处重新分配。",
  "review.assigned.ok": "已分配。",
  "review.noItems": "请至少填写一项问题，或直接受理。",
  "review.noticeN": "第 {n} 次通知",
  "review.busy": "请稍候…",
  "review.catalog": "公证事项目录（管理员）",
  "review.catalogMatter": "事项",
  "review.catalogFee": "基准收费（元）",
  "review.catalogDays": "办理时间（工作日）",
  "review.catalogRemote": "可远程视频办理",
  "review.catalogActive": "对外提供",
  "review.catalogSave": "保存修改",
  "review.catalogSaved": "已保存（第 {n} 版）。",
  "mode.commitment_signed": "已签署承诺",
  "mode.shared_data_ok": "同意共享核验",
});
NotaryI18n.register("en", {
  "review.title": "Pre-review",
  "review.login": "Log in",
  "review.loginName": "E-mail or phone",
  "review.password": "Password",
  "review.loginButton": "Log in",
  "review.queue": "Waiting for pre-review",
  "review.queueHelp": "Priority cases first, then by waiting time.",
  "review.matter": "Matter",
  "review.flags": "Flags",
  "review.waiting": "Waiting",
  "review.hours": "{n} h",
  "review.supervisionMoved": "Statistics, random checks and the files of drawn cases are on the supervision page: ",
  "review.supervisionLink": "go to Supervision",
  "review.open": "Open",
  "review.office": "Office cases (assignment)",
  "review.state": "State",
  "review.assigned": "Notary",
  "review.assign": "Assign",
  "review.unassigned": "unassigned",
  "review.caseId": "Case",
  "review.parties": "Parties",
  "review.materials": "Materials",
  "review.noticeHelp": "List everything missing or wrong at once. A later notice may only name materials handed in since the last one.",
  "review.requirement": "Material",
  "review.provided": "Handed in",
  "review.problem": "Problem (empty: fine)",
  "review.message": "Message to the applicant",
  "review.sendNotice": "Send the one notice",
  "review.accept": "Accept",
  "review.recuse": "Recusal",
  "review.reason": "Reason",
  "review.recuseButton": "Recuse myself",
  "review.view": "View",
  "review.none": "—",
  "review.noticeSent": "The notice was sent.",
  "review.accepted": "Accepted.",
  "review.recused": "Recused; the case goes back to the office for assignment.",
  "review.assigned.ok": "Assigned.",
  "review.noItems": "Name at least one problem, or accept the case.",
  "review.noticeN": "Notice no. {n}",
  "review.busy": "Please wait…",
  "review.catalog": "Matter catalog (admin)",
  "review.catalogMatter": "Matter",
  "review.catalogFee": "Base fee (CNY)",
  "review.catalogDays": "Time (working days)",
  "review.catalogRemote": "Remote video allowed",
  "review.catalogActive": "Offered",
  "review.catalogSave": "Save",
  "review.catalogSaved": "Saved (revision {n}).",
  "mode.commitment_signed": "commitment signed",
  "mode.shared_data_ok": "shared-data check agreed",
});

const { explain, session, call, element, badge, flags } = NotaryCases;
const auth = session("review");
const status = document.getElementById("message");
let role = sessionStorage.getItem("notarylink.reviewRole");
let current = null;
let previewUrl = null;

function say(text) { status.textContent = text; }
function api(method, path, body) { return call(auth, method, path, body); }
function hours(value) { return NotaryI18n.t("review.hours").replace("{n}", Number(value || 0).toFixed(1)); }

async function showDesk() {
  document.getElementById("login-form").hidden = true;
  if (role === "notary") {
    document.getElementById("queue-section").hidden = false;
    const data = await api("GET", `/api/review/queue?lang=${NotaryI18n.lang}`);
    document.getElementById("queue").replaceChildren(...data.queue.map((c) => {
      const tr = element("tr");
      const open = element("button", NotaryI18n.t("review.open"));
      open.type = "button";
      open.addEventListener("click", () => openCase(c.id));
      const flagCell = element("td");
      flagCell.append(...flags(c));
      tr.append(element("td", c.matter_name), flagCell, element("td", hours(c.waiting_hours)), element("td"));
      tr.lastChild.append(open);
      tr.dataset.caseId = c.id;
      return tr;
    }));
  }
  if (role === "supervisor") showSupervision();
  if (role === "admin") await showCatalog();
  if (role === "admin") {
    document.getElementById("office-section").hidden = false;
    const data = await api("GET", `/api/cases?lang=${NotaryI18n.lang}`);
    document.getElementById("office-cases").replaceChildren(...data.cases.map(officeRow));
  }
}

function showSupervision() {
  // Statistics, draws and the drawn files are the supervisor's desk (supervise.html).
  document.getElementById("supervision-section").hidden = false;
}

let catalog = [];

async function showCatalog() {
  document.getElementById("catalog-section").hidden = false;
  catalog = (await api("GET", `/api/matters?lang=${NotaryI18n.lang}`)).matters;
  const select = document.getElementById("catalog-matter");
  const chosen = select.value;
  select.replaceChildren(...catalog.map((m) => {
    const option = element("option", m.name);
    option.value = m.code;
    option.selected = m.code === chosen;
    return option;
  }));
  fillCatalogForm();
}

function fillCatalogForm() {
  const matter = catalog.find((m) => m.code === document.getElementById("catalog-matter").value);
  if (!matter) return;
  document.getElementById("catalog-fee").value = (matter.fee.base_cents / 100).toFixed(2);
  document.getElementById("catalog-days").value = matter.expected_days;
  document.getElementById("catalog-remote").checked = matter.remote_allowed;
  document.getElementById("catalog-active").checked = true;
}

document.getElementById("catalog-matter").addEventListener("change", fillCatalogForm);
document.getElementById("catalog-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const data = await api("PATCH", `/api/matters/${encodeURIComponent(form.get("code"))}`, {
      reason: form.get("reason"),
      changes: {
        base_fee_cents: Math.round(Number(form.get("fee")) * 100),
        expected_days: Number(form.get("days")),
        remote_allowed: form.get("remote") === "on",
        active: form.get("active") === "on",
      },
    });
    await showCatalog();
    say(NotaryI18n.t("review.catalogSaved").replace("{n}", data.matter.revision));
  } catch (error) {
    say(explain(error));
  }
});

function officeRow(c) {
  const tr = element("tr");
  const select = element("select");
  select.setAttribute("aria-label", NotaryI18n.t("review.assigned"));
  const assign = element("button", NotaryI18n.t("review.assign"));
  assign.type = "button";
  assign.disabled = true;
  api("GET", `/api/cases/${c.id}/candidates`).then((data) => {
    select.replaceChildren(...data.candidates.map((n) => {
      const option = element("option", n.conflicts.length ? `${n.display_name} (${n.conflicts.join(", ")})` : n.display_name);
      option.value = n.id;
      option.disabled = n.conflicts.length > 0; // the server refuses them anyway
      option.selected = n.id === c.assigned_notary_id;
      return option;
    }));
    assign.disabled = false;
  }).catch((error) => say(explain(error)));
  assign.addEventListener("click", async () => {
    try {
      await api("POST", `/api/cases/${c.id}/assign`, { notary_id: select.value });
      say(NotaryI18n.t("review.assigned.ok"));
    } catch (error) {
      say(explain(error));
    }
  });
  const cell = element("td");
  cell.append(select, " ", assign);
  tr.append(element("td", c.matter_name), element("td", NotaryI18n.t(`state.${c.state}`)), cell);
  return tr;
}

async function openMaterial(material) {
  // The file needs the bearer token, so it is fetched here and shown from a blob URL.
  const response = await fetch(`/api/cases/${current.case.id}/materials/${material.id}/content`, {
    headers: { Authorization: `Bearer ${auth.token}` },
  });
  if (!response.ok) { say(explain((await response.json()).error)); return; }
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = URL.createObjectURL(await response.blob());
  if (material.content_type === "application/pdf") {
    window.open(previewUrl, "_blank", "noopener");
  } else {
    const frame = document.getElementById("preview");
    frame.src = previewUrl;
    frame.hidden = false;
  }
}

function materialCell(requirement) {
  const cell = element("td");
  for (const material of current.materials.filter((m) => m.requirement === requirement.code)) {
    const line = element("div");
    if (material.kind === "upload") {
      const view = element("button", `${NotaryI18n.t("review.view")}: ${material.file_name}`);
      view.type = "button";
      view.addEventListener("click", () => openMaterial(material));
      line.append(view);
    } else if (material.kind === "commitment") {
      line.append(badge(NotaryI18n.t("mode.commitment_signed"), "commitment"), ` ${material.statement}`);
    } else {
      line.append(badge(NotaryI18n.t("mode.shared_data_ok"), "shared_data"));
    }
    line.dataset.materialId = material.id;
    cell.append(line);
  }
  if (!cell.childNodes.length) cell.append(NotaryI18n.t("review.none"));
  return cell;
}

function render() {
  const file = current;
  document.getElementById("case").hidden = false;
  document.getElementById("case-matter").textContent = file.matter.name;
  const state = document.getElementById("case-state");
  state.textContent = NotaryI18n.t(`state.${file.case.state}`);
  state.className = `status ${file.case.state === "returned" ? "error" : "ok"}`;
  document.getElementById("case-id").textContent = file.case.id;
  document.getElementById("case-flags").replaceChildren(...flags(file.case));
  document.getElementById("parties").replaceChildren(...file.parties.map((p) => element(
    "li", `${p.name} · ${NotaryI18n.t(`party.${p.kind}`)}${p.relationship ? ` · ${NotaryI18n.t(`rel.${p.relationship}`)}` : ""}`,
  )));
  document.getElementById("earlier-notices").replaceChildren(...file.notices.map((n) => {
    const box = element("div", null, "notice");
    box.append(element("strong", NotaryI18n.t("review.noticeN").replace("{n}", n.round)));
    const list = element("ul");
    for (const entry of n.items) {
      const named = file.matter.materials.find((m) => m.code === entry.requirement);
      list.append(element("li", `${named ? named.name : entry.requirement}: ${entry.problem}`));
    }
    box.append(list);
    return box;
  }));
  document.getElementById("requirements").replaceChildren(...file.matter.materials.map((r) => {
    const tr = element("tr");
    tr.dataset.requirement = r.code;
    const problem = element("input");
    problem.name = `problem:${r.code}`;
    problem.setAttribute("form", "notice-form"); // outside the form's markup, part of its data
    problem.maxLength = 500;
    problem.size = 30;
    problem.setAttribute("aria-label", `${NotaryI18n.t("review.problem")}: ${r.name}`);
    const problemCell = element("td", null, "problem");
    problemCell.append(problem);
    const name = element("td", r.name);
    name.append(badge(NotaryI18n.t(`mode.${r.mode}`), r.mode));
    tr.append(name, materialCell(r), problemCell);
    return tr;
  }));
  const reviewable = file.case.state === "submitted" && role === "notary";
  document.getElementById("notice-form").hidden = !reviewable;
  document.querySelectorAll("#case .problem").forEach((cell) => { cell.hidden = !reviewable; });
  document.getElementById("recuse-form").hidden = role !== "notary";
  document.getElementById("recuse-title").hidden = role !== "notary";
}

async function openCase(caseId) {
  say(NotaryI18n.t("review.busy"));
  try {
    current = await api("GET", `/api/cases/${caseId}?lang=${NotaryI18n.lang}`);
    render();
    say("");
  } catch (error) {
    say(explain(error));
  }
}

document.getElementById("notice-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const items = [];
  for (const requirement of current.matter.materials) {
    const problem = String(form.get(`problem:${requirement.code}`) || "").trim();
    if (!problem) continue;
    // Point at the newest material handed in for it, which is what a later notice may name.
    const latest = current.materials.filter((m) => m.requirement === requirement.code).pop();
    items.push({ requirement: requirement.code, problem, material_id: latest ? latest.id : undefined });
  }
  if (!items.length) { say(NotaryI18n.t("review.noItems")); return; }
  try {
    await api("POST", `/api/cases/${current.case.id}/notices`, { items, message: form.get("message") || undefined });
    await openCase(current.case.id);
    await showDesk();
    say(NotaryI18n.t("review.noticeSent"));
  } catch (error) {
    say(explain(error));
  }
});

document.getElementById("accept").addEventListener("click", async () => {
  try {
    await api("POST", `/api/cases/${current.case.id}/accept`);
    await openCase(current.case.id);
    await showDesk();
    say(NotaryI18n.t("review.accepted"));
  } catch (error) {
    say(explain(error));
  }
});

document.getElementById("recuse-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    await api("POST", `/api/cases/${current.case.id}/recuse`, { reason: form.get("reason") });
    document.getElementById("case").hidden = true;
    current = null;
    say(NotaryI18n.t("review.recused"));
    await showDesk();
  } catch (error) {
    say(explain(error));
  }
});

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  say(NotaryI18n.t("review.busy"));
  try {
    const data = await api("POST", "/api/auth/login", { login: form.get("login"), password: form.get("password") });
    auth.token = data.token;
    role = data.account.role;
    sessionStorage.setItem("notarylink.reviewRole", role);
    say("");
    await showDesk();
  } catch (error) {
    say(explain(error));
  }
});

NotaryI18n.apply();
document.addEventListener("notarylink:lang", () => {
  if (auth.token) showDesk().catch(() => {});
  if (current) openCase(current.case.id);
});
if (auth.token) showDesk().catch((error) => { auth.token = null; document.getElementById("login-form").hidden = false; say(explain(error)); });
