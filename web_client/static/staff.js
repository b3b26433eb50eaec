"use strict";
// The notary's desk: log in, create a video session, hand out one join link per participant.

NotaryI18n.register("zh-CN", {
  "staff.title": "公证员工作台",
  "staff.pages": "其他页面",
  "staff.page.review": "材料预审与案件分配",
  "staff.page.hours": "面谈时间安排",
  "staff.page.aftercare": "审批与送达",
  "staff.page.supervise": "监督管理（监督人员）",
  "staff.page.matters": "公证事项与一次性告知",
  "staff.page.apply": "在线申请（代当事人申请）",
  "staff.page.book": "预约视频面谈",
  "staff.page.myCase": "当事人的“我的公证事项”",
  "staff.page.verify": "公证书核验",
  "staff.page.home": "首页",
  "staff.login": "登录",
  "staff.loginName": "邮箱或手机号",
  "staff.password": "密码",
  "staff.loginButton": "登录",
  "staff.newSession": "新建视频询问",
  "staff.sessionTitle": "标题",
  "staff.caseRef": "案件编号",
  "staff.applicant": "当事人姓名",
  "staff.siteOfficer": "驻外使领馆或服务点人员（可选）",
  "staff.create": "创建并生成入会链接",
  "staff.links": "入会链接",
  "staff.linksHelp": "每位参与人一条链接，仅本人使用，过期失效。请通过安全渠道发送。",
  "staff.open": "打开",
  "staff.busy": "请稍候…",
  "staff.loggedIn": "已登录：",
  "staff.recordings": "录像回放",
  "staff.recordingId": "会话编号",
  "staff.openPlayback": "打开回放",
  "role.notary": "公证员",
  "role.applicant": "当事人",
  "role.site_officer": "现场核验人员",
  "role.observer": "观察员",
  "error.invalid_credentials": "账号或密码错误。",
  "error.rate_limited": "尝试次数过多，请稍后再试。",
  "error.generic": "操作失败：",
});
NotaryI18n.register("en", {
  "staff.title": "Notary desk",
  "staff.pages": "Other pages",
  "staff.page.review": "Pre-review and case assignment",
  "staff.page.hours": "Interview hours",
  "staff.page.aftercare": "Decisions and delivery",
  "staff.page.supervise": "Supervision (supervisors)",
  "staff.page.matters": "Notarial matters and their complete notice",
  "staff.page.apply": "Apply (on an applicant's behalf)",
  "staff.page.book": "Book a video interview",
  "staff.page.myCase": "The applicant's \"My notarization\"",
  "staff.page.verify": "Verify a notarial certificate",
  "staff.page.home": "Home",
  "staff.login": "Log in",
  "staff.loginName": "E-mail or phone",
  "staff.password": "Password",
  "staff.loginButton": "Log in",
  "staff.newSession": "New video interview",
  "staff.sessionTitle": "Title",
  "staff.caseRef": "Case number",
  "staff.applicant": "Applicant's name",
  "staff.siteOfficer": "Consular or service-point officer (optional)",
  "staff.create": "Create and make join links",
  "staff.links": "Join links",
  "staff.linksHelp": "One link per participant, for that person only, valid for a limited time. Send each over a safe channel.",
  "staff.open": "Open",
  "staff.busy": "Please wait…",
  "staff.loggedIn": "Logged in: ",
  "staff.recordings": "Recordings",
  "staff.recordingId": "Session id",
  "staff.openPlayback": "Open playback",
  "role.notary": "Notary",
  "role.applicant": "Applicant",
  "role.site_officer": "Site officer",
  "role.observer": "Observer",
  "error.invalid_credentials": "The login or the password is wrong.",
  "error.rate_limited": "Too many attempts; please wait a moment.",
  "error.generic": "That did not work: ",
});

// The session token lives in this tab only (sessionStorage), never in a URL.
let token = sessionStorage.getItem("notarylink.staffToken");
const message = document.getElementById("message");

function say(text) { message.textContent = text; }

function explain(error) {
  const key = `error.${error.code}`;
  const known = NotaryI18n.t(key);
  return known === key ? NotaryI18n.t("error.generic") + error.message : known;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: Object.assign(
      { "Content-Type": "application/json" },
      token ? { Authorization: `Bearer ${token}` } : {},
    ),
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json();
  if (!response.ok) throw data.error;
  return data;
}

function showDesk(account) {
  document.getElementById("login-form").hidden = true;
  document.getElementById("room-form").hidden = false;
  document.getElementById("recordings").hidden = false;
  if (account) {
    document.getElementById("who").textContent = NotaryI18n.t("staff.loggedIn") + account.display_name;
  }
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  say(NotaryI18n.t("staff.busy"));
  try {
    const data = await api("POST", "/api/auth/login", {
      login: form.get("login"), password: form.get("password"),
    });
    token = data.token;
    sessionStorage.setItem("notarylink.staffToken", token);
    sessionStorage.setItem("notarylink.staffName", data.account.display_name);
    say("");
    showDesk(data.account);
  } catch (error) {
    say(explain(error));
  }
});

document.getElementById("room-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const participants = [{ role: "applicant", name: form.get("applicant") }];
  if (form.get("site_officer")) participants.push({ role: "site_officer", name: form.get("site_officer") });
  say(NotaryI18n.t("staff.busy"));
  try {
    const data = await api("POST", "/api/rooms", {
      title: form.get("title"),
      case_ref: form.get("case_ref"),
      notary_name: sessionStorage.getItem("notarylink.staffName") || undefined,
      participants,
    });
    say("");
    const list = document.getElementById("link-list");
    list.replaceChildren();
    for (const link of data.links) {
      const item = document.createElement("li");
      const title = document.createElement("strong");
      title.textContent = `${NotaryI18n.t(`role.${link.role}`)} · ${link.name}`;
      const url = document.createElement("input");
      url.value = link.url;
      url.readOnly = true;
      url.size = 40;
      url.setAttribute("aria-label", title.textContent);
      const open = document.createElement("a");
      open.href = link.url;
      open.target = "_blank";
      open.rel = "noopener";
      open.textContent = NotaryI18n.t("staff.open");
      item.append(title, document.createElement("br"), url, " ", open);
      item.dataset.role = link.role;
      list.append(item);
    }
    document.getElementById("links").hidden = false;
    setRecordingId(data.room.id); // its playback, once the session has ended
  } catch (error) {
    if (error && (error.code === "token_expired" || error.code === "token_invalid")) {
      sessionStorage.removeItem("notarylink.staffToken");
      token = null;
      location.reload();
      return;
    }
    say(explain(error));
  }
});

// Recordings: a session id opens its playback (same tab: the login stays in this tab).
function setRecordingId(id) {
  const field = document.getElementById("recording-id");
  field.value = id;
  field.dispatchEvent(new Event("input"));
}

document.getElementById("recording-id").addEventListener("input", (event) => {
  const id = event.target.value.trim();
  const link = document.getElementById("open-playback");
  link.href = `/static/playback.html?session=${encodeURIComponent(id)}`;
  link.setAttribute("aria-disabled", String(!id));
});
document.getElementById("recording-id").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && event.target.value.trim()) {
    location.href = document.getElementById("open-playback").href;
  }
});

NotaryI18n.apply();
if (token) showDesk({ display_name: sessionStorage.getItem("notarylink.staffName") || "" });
