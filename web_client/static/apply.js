"use strict";
// Applying online: an account, a case for a matter, parties, materials (uploaded with a
// progress bar, or a signed commitment, or consent to a shared-data check), then submit.

NotaryI18n.register("zh-CN", {
  "apply.title": "在线申请公证",
  "apply.catalog": "查看全部公证事项与一次性告知",
  "apply.login": "已有账号，登录",
  "apply.loginName": "邮箱或手机号",
  "apply.password": "密码",
  "apply.loginButton": "登录",
  "apply.register": "注册新账号",
  "apply.displayName": "姓名",
  "apply.registerLogin": "邮箱或手机号",
  "apply.newPassword": "密码（至少 10 个字符）",
  "apply.registerButton": "注册并登录",
  "apply.newCase": "新建申请",
  "apply.office": "公证处",
  "apply.matter": "公证事项",
  "apply.priority": "优先办理（如适用）",
  "apply.elderly": "申请人为老年人",
  "apply.disabled": "申请人为残疾人",
  "apply.fastLane": "企业绿色通道",
  "apply.create": "创建申请",
  "apply.myCases": "我的申请",
  "apply.caseId": "案件号",
  "apply.materials": "材料",
  "apply.uploadHelp": "可上传 JPEG、PNG 或 PDF，每个文件不超过 10 MB。",
  "apply.parties": "当事人",
  "apply.partyKind": "身份",
  "apply.partyName": "姓名",
  "apply.relationship": "与申请人关系",
  "apply.addParty": "添加",
  "apply.declare": "回避申报",
  "apply.declareHelp": "如您或其他当事人与本处某位公证员有亲属关系，请申报，该公证员将回避。",
  "apply.notary": "公证员",
  "apply.relationToNotary": "与该公证员的关系",
  "apply.reason": "说明",
  "apply.declareButton": "申报",
  "apply.declared": "已申报。",
  "apply.submit": "提交预审",
  "apply.submitted": "已提交，公证员将进行预审。",
  "apply.upload": "上传",
  "apply.chooseFile": "选择文件",
  "apply.uploading": "正在上传…",
  "apply.uploaded": "上传完成",
  "apply.commit": "签署告知承诺",
  "apply.commitText": "本人承诺：所述事实真实，如有不实愿承担法律责任。",
  "apply.shared": "同意通过共享数据核验",
  "apply.provided": "已提供",
  "apply.missing": "未提供",
  "apply.optional": "（如适用）",
  "apply.notice": "补正通知（第 {n} 次）",
  "apply.open": "打开",
  "apply.busy": "请稍候…",
});
NotaryI18n.register("en", {
  "apply.title": "Apply for a notarization",
  "apply.catalog": "See every matter and its complete notice",
  "apply.login": "Log in",
  "apply.loginName": "E-mail or phone",
  "apply.password": "Password",
  "apply.loginButton": "Log in",
  "apply.register": "Create an account",
  "apply.displayName": "Full name",
  "apply.registerLogin": "E-mail or phone",
  "apply.newPassword": "Password (10 characters or more)",
  "apply.registerButton": "Create and log in",
  "apply.newCase": "New application",
  "apply.office": "Notary office",
  "apply.matter": "Matter",
  "apply.priority": "Priority (where it applies)",
  "apply.elderly": "The applicant is elderly",
  "apply.disabled": "The applicant has a disability",
  "apply.fastLane": "Enterprise fast lane",
  "apply.create": "Create application",
  "apply.myCases": "My applications",
  "apply.caseId": "Case",
  "apply.materials": "Materials",
  "apply.uploadHelp": "JPEG, PNG or PDF, 10 MB at most per file.",
  "apply.parties": "Parties",
  "apply.partyKind": "Role",
  "apply.partyName": "Name",
  "apply.relationship": "Relationship to the applicant",
  "apply.addParty": "Add",
  "apply.declare": "Declare a relationship (recusal)",
  "apply.declareHelp": "If you or another party is related to a notary of this office, declare it: that notary will not handle the case.",
  "apply.notary": "Notary",
  "apply.relationToNotary": "Relationship to that notary",
  "apply.reason": "Explanation",
  "apply.declareButton": "Declare",
  "apply.declared": "Declared.",
  "apply.submit": "Submit for pre-review",
  "apply.submitted": "Submitted; a notary will pre-review it.",
  "apply.upload": "Upload",
  "apply.chooseFile": "Choose a file",
  "apply.uploading": "Uploading…",
  "apply.uploaded": "Uploaded",
  "apply.commit": "Sign a commitment instead",
  "apply.commitText": "I commit that the facts stated are true and accept legal responsibility if they are not.",
  "apply.shared": "Let the office check it via shared data",
  "apply.provided": "provided",
  "apply.missing": "missing",
  "apply.optional": " (if it applies)",
  "apply.notice": "Notice no. {n}",
  "apply.open": "Open",
  "apply.busy": "Please wait…",
});

const { explain, session, call, element, badge, flags } = NotaryCases;
const auth = session("applicant");
const status = document.getElementById("message");
let current = null; // the open case's file, as the API returns it
let offices = [];

function say(text) { status.textContent = text; }
function api(method, path, body) { return call(auth, method, path, body); }

async function loggedIn() {
  document.getElementById("account").hidden = true;
  document.getElementById("start").hidden = false;
  const [officeList, catalog] = await Promise.all([
    api("GET", "/api/offices"), api("GET", `/api/matters?lang=${NotaryI18n.lang}`),
  ]);
  offices = officeList.offices;
  const officeSelect = document.getElementById("office");
  officeSelect.replaceChildren(...offices.map((o) => {
    const option = element("option", NotaryI18n.lang === "en" ? o.name_en : o.name_zh);
    option.value = o.code;
    return option;
  }));
  const wanted = new URLSearchParams(location.search).get("matter");
  const matterSelect = document.getElementById("matter");
  matterSelect.replaceChildren(...catalog.matters.map((m) => {
    const option = element("option", m.name);
    option.value = m.code;
    option.selected = m.code === wanted;
    return option;
  }));
  await listCases();
}

async function listCases() {
  const data = await api("GET", `/api/cases?lang=${NotaryI18n.lang}`);
  document.getElementById("my-cases").replaceChildren(...data.cases.map((c) => {
    const li = element("li");
    const open = element("button", NotaryI18n.t("apply.open"));
    open.type = "button";
    open.addEventListener("click", () => openCase(c.id));
    li.append(`${c.matter_name} · `, badge(NotaryI18n.t(`state.${c.state}`), "state"), " ", open);
    return li;
  }));
}

async function openCase(caseId) {
  current = await api("GET", `/api/cases/${caseId}?lang=${NotaryI18n.lang}`);
  render();
  const office = offices.find((o) => o.code === document.getElementById("office").value);
  if (office) {
    const notaries = await api("GET", `/api/offices/${encodeURIComponent(office.code)}/notaries`);
    document.getElementById("notaries").replaceChildren(...notaries.notaries.map((n) => {
      const option = element("option", n.display_name);
      option.value = n.id;
      return option;
    }));
  }
}

function uploadFile(caseId, requirement, file, bar, label) {
  // XMLHttpRequest, not fetch: only it reports upload progress.
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/cases/${encodeURIComponent(caseId)}/materials`);
    xhr.setRequestHeader("Authorization", `Bearer ${auth.token}`);
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      bar.max = event.total;
      bar.value = event.loaded;
      label.textContent = `${Math.round((100 * event.loaded) / event.total)}%`;
    });
    xhr.addEventListener("load", () => {
      let data = {};
      try { data = JSON.parse(xhr.responseText || "{}"); } catch (_error) { data = {}; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(data.error || { code: "generic", message: String(xhr.status) });
    });
    xhr.addEventListener("error", () => reject({ code: "network", message: "" }));
    const form = new FormData();
    form.append("requirement", requirement);
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

function requirementRow(requirement) {
  const editable = ["draft", "returned"].includes(current.case.state);
  const provided = current.materials.filter((m) => m.requirement === requirement.code);
  const missing = current.missing.includes(requirement.code);
  const li = element("li", null, "requirement");
  li.dataset.requirement = requirement.code;
  const title = element("div");
  title.append(
    element("strong", requirement.name + (requirement.optional ? NotaryI18n.t("apply.optional") : "")),
    badge(NotaryI18n.t(`mode.${requirement.mode}`), requirement.mode), " ",
    element("span", NotaryI18n.t(missing ? "apply.missing" : provided.length ? "apply.provided" : ""), missing ? "missing" : "done"),
  );
  li.append(title);
  for (const material of provided) {
    li.append(element("div", `· ${material.file_name || NotaryI18n.t(`mode.${material.kind}`)}`, "muted"));
  }
  if (!editable) return li;

  const controls = element("div");
  const input = element("input");
  input.type = "file";
  input.accept = "image/jpeg,image/png,application/pdf";
  input.setAttribute("aria-label", `${NotaryI18n.t("apply.chooseFile")}: ${requirement.name}`);
  const button = element("button", NotaryI18n.t("apply.upload"));
  button.type = "button";
  const bar = element("progress");
  bar.hidden = true;
  bar.value = 0;
  bar.setAttribute("aria-label", NotaryI18n.t("apply.uploading"));
  const label = element("span", "", "muted upload-label");
  button.addEventListener("click", async () => {
    const file = input.files[0];
    if (!file) { input.click(); return; }
    button.disabled = true;
    bar.hidden = false;
    bar.removeAttribute("value"); // indeterminate until the first progress event
    label.textContent = NotaryI18n.t("apply.uploading");
    try {
      await uploadFile(current.case.id, requirement.code, file, bar, label);
      bar.max = 1;
      bar.value = 1;
      label.textContent = NotaryI18n.t("apply.uploaded");
      say(`${NotaryI18n.t("apply.uploaded")}: ${file.name}`);
      await refresh({ keep: li.dataset.requirement, bar, label });
    } catch (error) {
      bar.hidden = true;
      label.textContent = "";
      say(explain(error));
    } finally {
      button.disabled = false;
    }
  });
  controls.append(input, " ", button, " ", bar, " ", label);
  if (requirement.mode === "commitment") {
    const commit = element("button", NotaryI18n.t("apply.commit"));
    commit.type = "button";
    commit.addEventListener("click", () => act("POST", "commitments", {
      requirement: requirement.code, statement: NotaryI18n.t("apply.commitText"),
    }));
    controls.append(" ", commit);
  }
  if (requirement.mode === "shared_data") {
    const shared = element("button", NotaryI18n.t("apply.shared"));
    shared.type = "button";
    shared.addEventListener("click", () => act("POST", "shared-data", { requirement: requirement.code }));
    controls.append(" ", shared);
  }
  li.append(controls);
  return li;
}

function render(kept) {
  const file = current;
  document.getElementById("case").hidden = false;
  document.getElementById("case-matter").textContent = file.matter.name;
  const state = document.getElementById("case-state");
  state.textContent = NotaryI18n.t(`state.${file.case.state}`);
  state.className = `status ${file.case.state === "returned" ? "error" : "ok"}`;
  document.getElementById("case-id").textContent = file.case.id;
  document.getElementById("notices").replaceChildren(...file.notices.map((notice) => {
    const box = element("div", null, "notice");
    box.append(element("strong", NotaryI18n.t("apply.notice").replace("{n}", notice.round)));
    if (notice.message) box.append(element("p", notice.message));
    const list = element("ul");
    for (const entry of notice.items) {
      const named = file.matter.materials.find((m) => m.code === entry.requirement);
      list.append(element("li", `${named ? named.name : entry.requirement}: ${entry.problem}`));
    }
    box.append(list);
    return box;
  }));
  const rows = file.matter.materials.map(requirementRow);
  if (kept) {
    // Keep the finished progress bar on screen next to the file it uploaded.
    const row = rows.find((r) => r.dataset.requirement === kept.keep);
    const bar = row && row.querySelector("progress");
    if (bar) {
      bar.replaceWith(kept.bar);
      row.querySelector(".upload-label").replaceWith(kept.label);
    }
  }
  document.getElementById("requirements").replaceChildren(...rows);
  document.getElementById("parties").replaceChildren(...file.parties.map((p) => element(
    "li", `${p.name} · ${NotaryI18n.t(`party.${p.kind}`)}${p.relationship ? ` · ${NotaryI18n.t(`rel.${p.relationship}`)}` : ""}`,
  )));
  const editable = ["draft", "returned"].includes(file.case.state);
  document.getElementById("party-form").hidden = !editable;
  document.getElementById("submit-case").hidden = !editable;
}

async function refresh(kept) {
  current = await api("GET", `/api/cases/${current.case.id}?lang=${NotaryI18n.lang}`);
  render(kept);
}

async function act(method, what, body) {
  say(NotaryI18n.t("apply.busy"));
  try {
    await api(method, `/api/cases/${current.case.id}/${what}`, body);
    say("");
    await refresh();
  } catch (error) {
    say(explain(error));
  }
}

async function login(loginName, password) {
  const data = await api("POST", "/api/auth/login", { login: loginName, password });
  auth.token = data.token;
  await loggedIn();
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  say(NotaryI18n.t("apply.busy"));
  try { await login(form.get("login"), form.get("password")); say(""); } catch (error) { say(explain(error)); }
});

document.getElementById("register-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  say(NotaryI18n.t("apply.busy"));
  try {
    await api("POST", "/api/applicants", {
      login: form.get("login"), password: form.get("password"), display_name: form.get("display_name"),
    });
    await login(form.get("login"), form.get("password"));
    say("");
  } catch (error) {
    say(explain(error));
  }
});

document.getElementById("case-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  say(NotaryI18n.t("apply.busy"));
  try {
    const created = await api("POST", `/api/cases?lang=${NotaryI18n.lang}`, {
      matter: form.get("matter"),
      office: form.get("office"),
      elderly: form.get("elderly") === "on",
      disabled_applicant: form.get("disabled_applicant") === "on",
      fast_lane: form.get("fast_lane") === "on",
    });
    say("");
    await listCases();
    await openCase(created.case.id);
  } catch (error) {
    say(explain(error));
  }
});

document.getElementById("party-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  await act("POST", "parties", {
    kind: form.get("kind"), name: form.get("name"), relationship: form.get("relationship") || null,
  });
  event.target.reset();
});

document.getElementById("declare-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  await act("POST", "declarations", {
    notary_id: form.get("notary_id"), relationship: form.get("relationship"), reason: form.get("reason"),
  });
  say(NotaryI18n.t("apply.declared"));
});

document.getElementById("submit-case").addEventListener("click", async () => {
  say(NotaryI18n.t("apply.busy"));
  try {
    current = await api("POST", `/api/cases/${current.case.id}/submit?lang=${NotaryI18n.lang}`);
    render();
    say(NotaryI18n.t("apply.submitted"));
  } catch (error) {
    say(explain(error));
  }
});

document.addEventListener("notarylink:lang", () => { if (current) refresh(); });
NotaryI18n.apply();
if (auth.token) {
  loggedIn().catch((error) => {
    auth.token = null;
    document.getElementById("account").hidden = false;
    say(explain(error));
  });
}
