"use strict";
// Booking the video interview: free times in the applicant's own clock and the office's,
// side by side (and the consulate's, for a three-party interview); book, move, cancel.
// Times are formatted by the server in each zone; the page only lays them out.

NotaryI18n.register("zh-CN", {
  "book.title": "预约视频面谈",
  "book.login": "登录",
  "book.loginName": "邮箱或手机号",
  "book.password": "密码",
  "book.loginButton": "登录",
  "book.findTimes": "查找可预约时间",
  "book.caseId": "案件编号",
  "book.yourZone": "您所在的时区",
  "book.show": "显示可预约时间",
  "book.freeTimes": "可预约时间",
  "book.help": "面谈时长 {minutes} 分钟。左列为您的当地时间（{zone}），右列为公证处时间（{office}）。",
  "book.helpSite": "三方面谈：公证员与现场核验人员（{site}）同时在线。",
  "book.yourTime": "您的时间",
  "book.officeTime": "公证处时间",
  "book.siteTime": "现场时间",
  "book.book": "预约",
  "book.moveHere": "改到此时间",
  "book.none": "所选期间暂无可预约时间，请稍后再查看或联系公证处。",
  "book.yourAppointment": "您的预约",
  "book.change": "更改时间",
  "book.cancel": "取消预约",
  "book.confirmCancel": "确定取消这次面谈吗？",
  "book.booked": "预约成功。",
  "book.moved": "已改期。",
  "book.cancelled": "已取消。",
  "book.pickNew": "请在下方选择新的时间。",
  "book.changes": "已改期 {count} 次",
  "book.busy": "正在加载…",
  "book.state.booked": "已预约",
  "book.state.cancelled": "已取消",
  "error.invalid_credentials": "账号或密码错误。",
  "error.rate_limited": "操作过于频繁，请稍后再试。",
  "error.case_not_found": "未找到该案件。",
  "error.not_bookable": "该案件当前不能预约（需先通过预审）。",
  "error.slot_taken": "该时间刚被预约，请另选时间。",
  "error.slot_unavailable": "该时间不可预约。",
  "error.too_soon": "距面谈时间太近，无法预约。",
  "error.too_late": "已过可更改期限，请联系公证处。",
  "error.too_many_reschedules": "改期次数已达上限，请联系公证处。",
  "error.invalid_timezone": "时区名称无效，例如 Asia/Shanghai。",
  "error.busy": "系统繁忙，请重试。",
  "error.generic": "操作失败：",
});
NotaryI18n.register("en", {
  "book.title": "Book your video interview",
  "book.login": "Log in",
  "book.loginName": "E-mail or phone",
  "book.password": "Password",
  "book.loginButton": "Log in",
  "book.findTimes": "Find a time",
  "book.caseId": "Case number",
  "book.yourZone": "Your time zone",
  "book.show": "Show free times",
  "book.freeTimes": "Free times",
  "book.help": "The interview takes {minutes} minutes. Left: your local time ({zone}); right: the notary office's time ({office}).",
  "book.helpSite": "Three-party interview: the notary and the site officer ({site}) are both free.",
  "book.yourTime": "Your time",
  "book.officeTime": "Office time",
  "book.siteTime": "Site time",
  "book.book": "Book",
  "book.moveHere": "Move here",
  "book.none": "No free times in this period. Please look again later or call the office.",
  "book.yourAppointment": "Your appointment",
  "book.change": "Change time",
  "book.cancel": "Cancel",
  "book.confirmCancel": "Cancel this interview?",
  "book.booked": "Booked.",
  "book.moved": "Moved.",
  "book.cancelled": "Cancelled.",
  "book.pickNew": "Choose the new time below.",
  "book.changes": "moved {count} times",
  "book.busy": "Loading…",
  "book.state.booked": "Booked",
  "book.state.cancelled": "Cancelled",
  "error.invalid_credentials": "The login or the password is wrong.",
  "error.rate_limited": "Too many changes; please wait a moment.",
  "error.case_not_found": "No such case.",
  "error.not_bookable": "This case cannot be booked yet (it must pass the pre-review first).",
  "error.slot_taken": "That time was just taken; please choose another.",
  "error.slot_unavailable": "That time cannot be booked.",
  "error.too_soon": "That is too soon to book.",
  "error.too_late": "It is too late to change this; please call the office.",
  "error.too_many_reschedules": "This interview cannot be moved again; please call the office.",
  "error.invalid_timezone": "Not a time zone name, e.g. Europe/Berlin.",
  "error.busy": "The system is busy; please try again.",
  "error.generic": "That did not work: ",
});

// The session token lives in this tab only (sessionStorage), never in a URL.
let token = sessionStorage.getItem("notarylink.applicantToken");
let current = null; // the loaded slots, appointment and the zone they are shown in
let moving = null; // the appointment being moved, while the applicant picks a new time
const message = document.getElementById("message");
const caseForm = document.getElementById("case-form");

let shown = null; // the message key on screen, so a language switch can translate it

function say(text, key = null) {
  message.textContent = text;
  shown = key;
}

function sayKey(key) { say(NotaryI18n.t(key), key); }

function fill(key, values) {
  return NotaryI18n.t(key).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

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
  const data = await response.json();
  if (!response.ok) throw data.error;
  return data;
}

// "2026-03-08T21:00-04:00" -> { day: "2026-03-08", text: "21:00 (UTC-04:00)" }
function clock(iso) {
  const offset = iso.slice(16) || "+00:00";
  return { day: iso.slice(0, 10), text: `${iso.slice(11, 16)} (UTC${offset})` };
}

function dayLabel(day) {
  const weekday = new Intl.DateTimeFormat(NotaryI18n.lang, { weekday: "long", timeZone: "UTC" })
    .format(new Date(`${day}T00:00:00Z`));
  return `${day} ${weekday}`;
}

function showBooking() {
  document.getElementById("login-form").hidden = true;
  caseForm.hidden = false;
}

async function load() {
  const form = new FormData(caseForm);
  const caseId = String(form.get("case_id")).trim();
  const tz = String(form.get("tz")).trim();
  say(NotaryI18n.t("book.busy"));
  document.querySelector("main").setAttribute("aria-busy", "true");
  try {
    const query = new URLSearchParams({ case_id: caseId, tz });
    const [slots, mine] = await Promise.all([
      api("GET", `/api/appointments/slots?${query}`),
      api("GET", `/api/appointments?${new URLSearchParams({ tz })}`),
    ]);
    current = {
      caseId, tz, slots,
      appointment: mine.appointments.find((a) => a.case_id === caseId && a.state === "booked") || null,
    };
    say("");
    render();
  } catch (error) {
    if (error && (error.code === "token_expired" || error.code === "token_invalid")) {
      sessionStorage.removeItem("notarylink.applicantToken");
      location.reload();
      return;
    }
    say(explain(error));
  } finally {
    document.querySelector("main").removeAttribute("aria-busy");
  }
}

function render() {
  renderAppointment();
  renderSlots();
}

function renderAppointment() {
  const section = document.getElementById("appointment-section");
  const box = document.getElementById("appointment");
  box.replaceChildren();
  const appointment = current && current.appointment;
  section.hidden = !appointment;
  if (!appointment) return;
  const local = clock(appointment.local.start);
  const office = clock(appointment.office.start);
  const lines = [
    [NotaryI18n.t("book.yourTime"), `${dayLabel(local.day)} ${local.text}`],
    [NotaryI18n.t("book.officeTime"), `${dayLabel(office.day)} ${office.text}`],
  ];
  for (const [label, value] of lines) {
    const line = document.createElement("p");
    const strong = document.createElement("strong");
    strong.textContent = `${label}: `;
    line.append(strong, value);
    box.append(line);
  }
  const state = document.createElement("p");
  state.className = "muted";
  state.textContent = NotaryI18n.t(`book.state.${appointment.state}`)
    + (appointment.reschedule_count ? ` · ${fill("book.changes", { count: appointment.reschedule_count })}` : "");
  box.append(state);
  const change = document.createElement("button");
  change.type = "button";
  change.textContent = NotaryI18n.t("book.change");
  change.addEventListener("click", () => {
    moving = appointment.id;
    sayKey("book.pickNew");
    renderSlots();
  });
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.textContent = NotaryI18n.t("book.cancel");
  cancel.addEventListener("click", async () => {
    if (!confirm(NotaryI18n.t("book.confirmCancel"))) return;
    await act(() => api("POST", `/api/appointments/${appointment.id}/cancel`, {}), "book.cancelled");
  });
  box.append(change, " ", cancel);
}

function renderSlots() {
  const section = document.getElementById("slots-section");
  const body = document.getElementById("slots");
  const head = document.getElementById("slots-head");
  body.replaceChildren();
  head.replaceChildren();
  if (!current) return;
  const data = current.slots;
  // With a live appointment, free times matter only while moving it.
  section.hidden = Boolean(current.appointment) && !moving;
  const site = Boolean(data.site_timezone);
  let help = fill("book.help", {
    minutes: data.interview_minutes, zone: data.timezone, office: data.office_timezone,
  });
  if (site) help += " " + fill("book.helpSite", { site: data.site_timezone });
  document.getElementById("slots-help").textContent = help;
  const columns = ["book.yourTime", "book.officeTime"].concat(site ? ["book.siteTime"] : []);
  for (const key of columns.concat([""])) {
    const th = document.createElement("th");
    th.textContent = key ? NotaryI18n.t(key) : "";
    head.append(th);
  }
  if (!data.slots.length) {
    const row = document.createElement("tr");
    const cell = document.createElement("td");
    cell.colSpan = columns.length + 1;
    cell.textContent = NotaryI18n.t("book.none");
    row.append(cell);
    body.append(row);
    return;
  }
  let lastDay = null;
  for (const slot of data.slots) {
    const local = clock(slot.local.start);
    if (local.day !== lastDay) {
      lastDay = local.day;
      const dayRow = document.createElement("tr");
      dayRow.className = "day";
      const th = document.createElement("th");
      th.colSpan = columns.length + 1;
      th.textContent = dayLabel(local.day);
      dayRow.append(th);
      body.append(dayRow);
    }
    const row = document.createElement("tr");
    row.dataset.startsAt = slot.starts_at;
    const cells = [local.text, `${clock(slot.office.start).day} ${clock(slot.office.start).text}`];
    if (site) cells.push(`${clock(slot.site.start).day} ${clock(slot.site.start).text}`);
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      row.append(td);
    }
    const td = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = NotaryI18n.t(moving ? "book.moveHere" : "book.book");
    button.addEventListener("click", () => choose(slot));
    td.append(button);
    row.append(td);
    body.append(row);
  }
}

async function choose(slot) {
  if (moving) {
    const id = moving;
    await act(
      () => api("POST", `/api/appointments/${id}/reschedule`, { starts_at: slot.starts_at, timezone: current.tz }),
      "book.moved",
    );
  } else {
    await act(
      () => api("POST", "/api/appointments", {
        case_id: current.caseId, starts_at: slot.starts_at, timezone: current.tz,
      }),
      "book.booked",
    );
  }
}

// Run a change, then reload slots and appointment; the outcome stays on screen.
async function act(change, doneKey) {
  say(NotaryI18n.t("book.busy"));
  const buttons = [...document.querySelectorAll("main button")];
  buttons.forEach((b) => { b.disabled = true; });
  let failure = null;
  try {
    await change();
    moving = null;
  } catch (error) {
    failure = error;
  }
  await load(); // renders fresh slot buttons; the form's own button is enabled again below
  buttons.forEach((b) => { b.disabled = false; });
  if (failure) say(explain(failure));
  else sayKey(doneKey);
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  say(NotaryI18n.t("book.busy"));
  try {
    const data = await api("POST", "/api/auth/login", {
      login: form.get("login"), password: form.get("password"),
    });
    token = data.token;
    sessionStorage.setItem("notarylink.applicantToken", token);
    say("");
    showBooking();
    if (caseForm.elements.case_id.value) await load();
  } catch (error) {
    say(explain(error));
  }
});

caseForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  moving = null;
  await load();
});

document.addEventListener("notarylink:lang", () => {
  if (shown) sayKey(shown);
  if (current) render();
});

caseForm.elements.tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
caseForm.elements.case_id.value = new URLSearchParams(location.search).get("case") || "";
NotaryI18n.apply();
if (token) showBooking();
