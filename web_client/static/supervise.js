"use strict";
// The supervisor's desk: statistics, complaints to answer, random checks (双随机) with the drawn
// case's file (read only) and findings, ratings. The one page for supervisors (review.html links
// here).

NotaryI18n.register("zh-CN", {
  "sup.title": "监督管理",
  "sup.login": "登录",
  "sup.loginName": "邮箱或手机号",
  "sup.password": "密码",
  "sup.loginButton": "登录",
  "sup.complaints": "投诉",
  "sup.show": "显示：",
  "sup.none": "没有记录。",
  "sup.answer": "答复",
  "sup.answerHint": "答复内容",
  "sup.close": "关闭",
  "sup.checks": "双随机抽查",
  "sup.drawCount": "抽取案件数",
  "sup.draw": "随机抽取",
  "sup.drewN": "抽取了 {n} 件。",
  "sup.case": "案件",
  "sup.drawnAt": "抽取时间",
  "sup.findings": "检查意见",
  "sup.open": "记录意见",
  "sup.newFinding": "新的检查意见",
  "sup.record": "保存意见",
  "sup.findingText": "检查发现",
  "sup.findingsOf": "检查意见：{matter}",
  "sup.ratings": "满意度评价",
  "sup.ratingLine": "共 {count} 条；好评 {good}，中评 {fair}，差评 {poor}；平均 {mean} 分",
  "sup.statistics": "统计（不含个人信息）",
  "sup.stat.total": "案件总数",
  "sup.stat.waiting": "待预审（最长等待）",
  "sup.stat.priority": "优先办理案件",
  "sup.stat.drawn": "已抽查",
  "sup.hours": "{n} 小时",
  "sup.file": "卷宗（只读）",
  "sup.fileHelp": "抽中的案件可查阅卷宗；秘密案件（遗嘱）不会被抽中。",
  "sup.view": "查看",
  "sup.commitment": "已签署承诺",
  "sup.sharedData": "同意共享核验",
  "sup.busy": "请稍候……",
  "sup.saved": "已保存。",
  "complaint.open": "待答复",
  "complaint.answered": "已答复",
  "complaint.closed": "已关闭",
  "severity.none": "未发现问题",
  "severity.minor": "一般问题",
  "severity.serious": "严重问题",
  "error.not_drawn": "只能对抽中的案件记录意见。",
  "error.complaint_not_open": "该投诉已答复。",
  "error.generic": "出错了：",
});
NotaryI18n.register("en", {
  "sup.title": "Supervision",
  "sup.login": "Log in",
  "sup.loginName": "E-mail or phone",
  "sup.password": "Password",
  "sup.loginButton": "Log in",
  "sup.complaints": "Complaints",
  "sup.show": "Show: ",
  "sup.none": "Nothing here.",
  "sup.answer": "Answer",
  "sup.answerHint": "Your answer",
  "sup.close": "Close",
  "sup.checks": "Random checks",
  "sup.drawCount": "Cases to draw",
  "sup.draw": "Draw at random",
  "sup.drewN": "{n} drawn.",
  "sup.case": "Case",
  "sup.drawnAt": "Drawn",
  "sup.findings": "Findings",
  "sup.open": "Record findings",
  "sup.newFinding": "New finding",
  "sup.record": "Save finding",
  "sup.findingText": "What was found",
  "sup.findingsOf": "Findings: {matter}",
  "sup.ratings": "Satisfaction ratings",
  "sup.ratingLine": "{count} ratings; good {good}, fair {fair}, poor {poor}; mean score {mean}",
  "sup.statistics": "Statistics (no personal data)",
  "sup.stat.total": "Cases",
  "sup.stat.waiting": "Waiting for pre-review (longest)",
  "sup.stat.priority": "Priority cases",
  "sup.stat.drawn": "Drawn for checks",
  "sup.hours": "{n} h",
  "sup.file": "Case file (read only)",
  "sup.fileHelp": "A drawn case's file may be read; secret cases (wills) are never drawn.",
  "sup.view": "View",
  "sup.commitment": "commitment signed",
  "sup.sharedData": "shared-data check agreed",
  "sup.busy": "Please wait…",
  "sup.saved": "Saved.",
  "complaint.open": "Awaiting answer",
  "complaint.answered": "Answered",
  "complaint.closed": "Closed",
  "severity.none": "No problem found",
  "severity.minor": "Minor",
  "severity.serious": "Serious",
  "error.not_drawn": "Findings go on drawn cases only.",
  "error.complaint_not_open": "This complaint is already answered.",
  "error.generic": "Something went wrong: ",
});

const { explain, session, call, element } = NotaryCases;
const auth = session("supervise");
const status = document.getElementById("message");
let currentCheck = null;
let previewUrl = null;

function say(text) { status.textContent = text; }
function api(method, path, body) { return call(auth, method, path, body); }
function t(key) { return NotaryI18n.t(key); }
function when(iso) { return iso ? new Date(iso).toLocaleString(NotaryI18n.lang) : ""; }

async function showDesk() {
  document.getElementById("login-form").hidden = true;
  document.getElementById("desk").hidden = false;
  await Promise.all([showStatistics(), showComplaints(), showChecks()]);
}

async function showStatistics() {
  const { statistics: stats } = await api("GET", "/api/supervision/statistics");
  const total = Object.values(stats.cases_by_state).reduce((a, b) => a + b, 0);
  const waited = t("sup.hours").replace("{n}", Number(stats.waiting_for_review.max_hours || 0).toFixed(1));
  const rows = [
    ["sup.stat.total", String(total)],
    ["sup.stat.waiting", `${stats.waiting_for_review.count} (${waited})`],
    ["sup.stat.priority", String(stats.priority_cases)],
    ["sup.stat.drawn", String(stats.drawn_for_check)],
  ];
  for (const [state, count] of Object.entries(stats.cases_by_state)) {
    if (count) rows.push([`state.${state}`, String(count)]);
  }
  document.getElementById("statistics").replaceChildren(...rows.flatMap(([key, value]) => {
    const dd = element("dd", value);
    dd.dataset.stat = key;
    return [element("dt", t(key)), dd];
  }));
}

async function showComplaints() {
  const state = document.getElementById("complaint-state").value;
  const data = await api("GET", `/api/complaints?state=${state}&lang=${NotaryI18n.lang}`);
  const list = document.getElementById("complaints");
  if (!data.complaints.length) { list.replaceChildren(element("li", t("sup.none"), "muted")); return; }
  list.replaceChildren(...data.complaints.map((c) => {
    const li = element("li");
    li.dataset.complaintId = c.id;
    li.append(element("p", `${when(c.created_at)} · ${c.case.matter_name} · ${t(`state.${c.case.state}`)}`, "muted"));
    li.append(element("p", c.body));
    if (c.answer) li.append(element("p", `${t("sup.answer")}: ${c.answer}`, "muted"));
    if (c.state === "open") {
      const form = element("form");
      const text = element("textarea");
      text.name = "answer"; text.rows = 2; text.cols = 50; text.maxLength = 4000; text.required = true;
      text.setAttribute("aria-label", t("sup.answerHint"));
      const send = element("button", t("sup.answer"), "primary");
      send.type = "submit";
      form.append(text, send);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        act("POST", `/api/complaints/${c.id}/answer`, { answer: text.value });
      });
      li.append(form);
    } else if (c.state === "answered") {
      const close = element("button", t("sup.close"));
      close.type = "button";
      close.addEventListener("click", () => act("POST", `/api/complaints/${c.id}/close`));
      li.append(close);
    }
    return li;
  }));
}

async function showChecks() {
  const data = await api("GET", "/api/supervision/checks");
  document.getElementById("checks").replaceChildren(...data.checks.map((c) => {
    const tr = element("tr");
    tr.dataset.caseId = c.case_id;
    const open = element("button", t("sup.open"));
    open.type = "button";
    open.addEventListener("click", () => openFindings(c).catch((error) => say(explain(error))));
    const summary = c.findings ? `${c.findings} · ${t(`severity.${c.worst}`)}` : "0";
    tr.append(element("td", `${c.matter_code} · ${t(`state.${c.state}`)}`), element("td", when(c.drawn_at)),
      element("td", summary), element("td"));
    tr.lastChild.append(open);
    return tr;
  }));
  const r = data.ratings;
  document.getElementById("ratings").textContent = t("sup.ratingLine")
    .replace("{count}", r.count).replace("{good}", r.by_grade.good).replace("{fair}", r.by_grade.fair)
    .replace("{poor}", r.by_grade.poor).replace("{mean}", r.mean_score ?? "—");
}

async function showFile(caseId) {
  const file = await api("GET", `/api/cases/${caseId}?lang=${NotaryI18n.lang}`);
  document.getElementById("file-parties").replaceChildren(...(file.parties || []).map((p) => element(
    "li", `${p.name} · ${t(`party.${p.kind}`)}${p.relationship ? ` · ${t(`rel.${p.relationship}`)}` : ""}`,
  )));
  document.getElementById("file-materials").replaceChildren(...(file.materials || []).map((m) => {
    const li = element("li");
    if (m.kind === "upload") {
      const view = element("button", `${t("sup.view")}: ${m.file_name}`);
      view.type = "button";
      view.addEventListener("click", () => openMaterial(caseId, m).catch((error) => say(explain(error))));
      li.append(view);
    } else {
      li.append(t(m.kind === "commitment" ? "sup.commitment" : "sup.sharedData"));
    }
    const needed = (file.matter.materials || []).find((r) => r.code === m.requirement);
    li.prepend(`${needed ? needed.name : m.requirement}: `);
    return li;
  }));
}

async function openMaterial(caseId, material) {
  // The file needs the bearer token: fetched here, shown from a blob URL in a sandboxed frame.
  const response = await fetch(`/api/cases/${caseId}/materials/${material.id}/content`, {
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

async function openFindings(check) {
  const changed = !currentCheck || currentCheck.case_id !== check.case_id;
  currentCheck = check;
  const data = await api("GET", `/api/cases/${check.case_id}/findings`);
  if (changed) {
    document.getElementById("preview").hidden = true;
    await showFile(check.case_id);
  }
  document.getElementById("finding-section").hidden = false;
  document.getElementById("finding-title").textContent = t("sup.findingsOf").replace("{matter}", check.matter_code);
  document.getElementById("findings").replaceChildren(...data.findings.map((f) =>
    element("li", `${when(f.created_at)} · ${t(`severity.${f.severity}`)} · ${f.text}`)));
}

async function act(method, path, body) {
  say(t("sup.busy"));
  try {
    await api(method, path, body);
    say(t("sup.saved"));
    await showDesk();
    if (currentCheck) await openFindings(currentCheck);
  } catch (error) {
    say(explain(error));
  }
}

document.getElementById("complaint-state").addEventListener("change", () => showComplaints().catch((error) => say(explain(error))));

document.getElementById("draw-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const count = Number(new FormData(event.target).get("count"));
  say(t("sup.busy"));
  try {
    const data = await api("POST", "/api/supervision/draws", { count });
    say(t("sup.drewN").replace("{n}", data.drawn.length));
    await Promise.all([showChecks(), showStatistics()]);
  } catch (error) {
    say(explain(error));
  }
});

document.getElementById("finding-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  act("POST", `/api/cases/${currentCheck.case_id}/findings`, { severity: form.get("severity"), text: form.get("text") })
    .then(() => event.target.reset());
});

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  say(t("sup.busy"));
  try {
    const data = await api("POST", "/api/auth/login", { login: form.get("login"), password: form.get("password") });
    auth.token = data.token;
    say("");
    await showDesk();
  } catch (error) {
    say(explain(error));
  }
});

NotaryI18n.apply();
document.addEventListener("notarylink:lang", () => { if (auth.token) showDesk().catch(() => {}); });
if (auth.token) showDesk().catch((error) => { auth.token = null; document.getElementById("login-form").hidden = false; say(explain(error)); });
