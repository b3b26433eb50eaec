"use strict";
// Interview hours for notaries and site officers: publish weekly or one-date windows in the
// office's own time (evenings and weekends too), remove them, and see the coming bookings.

NotaryI18n.register("zh-CN", {
  "hours.title": "面谈时间安排",
  "hours.login": "登录",
  "hours.loginName": "邮箱或手机号",
  "hours.password": "密码",
  "hours.loginButton": "登录",
  "hours.add": "发布可预约时间",
  "hours.zone": "时间均为本机构时间（{zone}），可包括晚间和周末。",
  "hours.weekly": "每周",
  "hours.once": "指定日期",
  "hours.from": "从",
  "hours.to": "至",
  "hours.publish": "发布",
  "hours.mine": "我的可预约时间",
  "hours.when": "日期",
  "hours.time": "时间",
  "hours.remove": "删除",
  "hours.none": "尚未发布。",
  "hours.bookings": "近期预约",
  "hours.officeTime": "本机构时间",
  "hours.applicantTime": "当事人当地时间",
  "hours.case": "案件",
  "hours.noBookings": "暂无预约。",
  "hours.published": "已发布。",
  "hours.removed": "已删除。",
  "hours.busy": "请稍候…",
  "day.0": "周一", "day.1": "周二", "day.2": "周三", "day.3": "周四",
  "day.4": "周五", "day.5": "周六", "day.6": "周日",
  "error.invalid_credentials": "账号或密码错误。",
  "error.forbidden": "您的角色不能发布面谈时间。",
  "error.invalid_window": "时间段无效（按 15 分钟取整，结束晚于开始，日期不早于今天）。",
  "error.rate_limited": "操作过于频繁，请稍后再试。",
  "error.generic": "操作失败：",
});
NotaryI18n.register("en", {
  "hours.title": "Interview hours",
  "hours.login": "Log in",
  "hours.loginName": "E-mail or phone",
  "hours.password": "Password",
  "hours.loginButton": "Log in",
  "hours.add": "Publish free hours",
  "hours.zone": "All times are your office's time ({zone}); evenings and weekends are fine.",
  "hours.weekly": "Every",
  "hours.once": "On",
  "hours.from": "From",
  "hours.to": "to",
  "hours.publish": "Publish",
  "hours.mine": "My hours",
  "hours.when": "When",
  "hours.time": "Time",
  "hours.remove": "Remove",
  "hours.none": "Nothing published yet.",
  "hours.bookings": "Coming interviews",
  "hours.officeTime": "Office time",
  "hours.applicantTime": "Applicant's local time",
  "hours.case": "Case",
  "hours.noBookings": "No interviews booked.",
  "hours.published": "Published.",
  "hours.removed": "Removed.",
  "hours.busy": "Please wait…",
  "day.0": "Monday", "day.1": "Tuesday", "day.2": "Wednesday", "day.3": "Thursday",
  "day.4": "Friday", "day.5": "Saturday", "day.6": "Sunday",
  "error.invalid_credentials": "The login or the password is wrong.",
  "error.forbidden": "Your role cannot publish interview hours.",
  "error.invalid_window": "Not a valid window (quarter hours, ending after it starts, not in the past).",
  "error.rate_limited": "Too many changes; please wait a moment.",
  "error.generic": "That did not work: ",
});

// The staff token is shared with the notary desk (staff.html), in this tab only.
let token = sessionStorage.getItem("notarylink.staffToken");
let shown = null; // message key on screen, translated again on a language switch
let data = null; // { zone, windows, bookings }
const message = document.getElementById("message");

function say(text, key = null) { message.textContent = text; shown = key; }
function sayKey(key) { say(NotaryI18n.t(key), key); }

function explain(error) {
  const key = `error.${error && error.code}`;
  const known = NotaryI18n.t(key);
  return known === key ? NotaryI18n.t("error.generic") + ((error && error.message) || "") : known;
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
  const payload = await response.json();
  if (!response.ok) throw payload.error;
  return payload;
}

// "2026-03-09T09:00+08:00" -> "2026-03-09 09:00 (UTC+08:00)"
function clock(iso) { return `${iso.slice(0, 10)} ${iso.slice(11, 16)} (UTC${iso.slice(16) || "+00:00"})`; }

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.append(td);
  return td;
}

async function load() {
  say(NotaryI18n.t("hours.busy"));
  try {
    const mine = await api("GET", "/api/availability");
    const bookings = await api("GET", `/api/appointments?${new URLSearchParams({ tz: mine.timezone })}`);
    data = { zone: mine.timezone, windows: mine.windows, bookings: bookings.appointments };
    say("");
    render();
  } catch (error) {
    if (error && (error.code === "token_expired" || error.code === "token_invalid")) {
      sessionStorage.removeItem("notarylink.staffToken");
      location.reload();
      return;
    }
    say(explain(error));
  }
}

function render() {
  const select = document.querySelector("select[name=weekday]");
  const chosen = select.value || "5";
  select.replaceChildren();
  for (let day = 0; day < 7; day += 1) {
    const option = document.createElement("option");
    option.value = String(day);
    option.textContent = NotaryI18n.t(`day.${day}`);
    select.append(option);
  }
  select.value = chosen;
  if (!data) return;
  document.getElementById("zone-note").textContent = NotaryI18n.t("hours.zone").replace("{zone}", data.zone);

  const windows = document.getElementById("windows");
  windows.replaceChildren();
  if (!data.windows.length) {
    const row = document.createElement("tr");
    cell(row, NotaryI18n.t("hours.none")).colSpan = 3;
    windows.append(row);
  }
  for (const window_ of data.windows) {
    const row = document.createElement("tr");
    row.dataset.windowId = window_.id;
    cell(row, window_.date || NotaryI18n.t(`day.${window_.weekday}`));
    cell(row, `${window_.start}–${window_.end}`);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = NotaryI18n.t("hours.remove");
    remove.addEventListener("click", () => change(
      () => api("DELETE", `/api/availability/${encodeURIComponent(window_.id)}`), "hours.removed",
    ));
    cell(row, "").append(remove);
    windows.append(row);
  }

  const bookings = document.getElementById("bookings");
  bookings.replaceChildren();
  if (!data.bookings.length) {
    const row = document.createElement("tr");
    cell(row, NotaryI18n.t("hours.noBookings")).colSpan = 3;
    bookings.append(row);
  }
  for (const booking of data.bookings) {
    const row = document.createElement("tr");
    cell(row, clock(booking.office.start));
    cell(row, `${clock(booking.applicant.start)} ${booking.applicant_timezone}`);
    cell(row, booking.case_id);
    bookings.append(row);
  }
}

async function change(work, doneKey) {
  say(NotaryI18n.t("hours.busy"));
  try {
    await work();
    await load();
    sayKey(doneKey);
  } catch (error) {
    say(explain(error));
  }
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  say(NotaryI18n.t("hours.busy"));
  try {
    const login = await api("POST", "/api/auth/login", {
      login: form.get("login"), password: form.get("password"),
    });
    token = login.token;
    sessionStorage.setItem("notarylink.staffToken", token);
    sessionStorage.setItem("notarylink.staffName", login.account.display_name);
    showDesk();
  } catch (error) {
    say(explain(error));
  }
});

document.getElementById("window-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = { start: form.get("start"), end: form.get("end") === "00:00" ? "24:00" : form.get("end") };
  if (form.get("kind") === "once") body.date = form.get("date");
  else body.weekday = Number(form.get("weekday"));
  await change(() => api("POST", "/api/availability", body), "hours.published");
});

document.addEventListener("notarylink:lang", () => {
  if (shown) sayKey(shown);
  render();
});

async function showDesk() {
  document.getElementById("login-form").hidden = true;
  document.getElementById("desk").hidden = false;
  await load();
}

NotaryI18n.apply();
if (token) showDesk();
