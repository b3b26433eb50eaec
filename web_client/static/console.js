// The notary's console: pre-join check, then the call with the lobby, the participants, the
// session's start and end, and everyone's network figures.
"use strict";

import { NotaryCall, networkQuality, tokenFromFragment } from "./call.js";
import {
  Banner,
  CallGrid,
  Controls,
  NetworkIndicator,
  PrejoinCheck,
  el,
  errorText,
  formatBitrate,
  formatFps,
  formatLoss,
  formatRtt,
  refreshChecks,
  show,
  t,
  translateAria,
  wireConnectionBanner,
  wireErrors,
} from "./call-ui.js";
import { RecordPanel } from "./record-panel.js";

NotaryI18n.register("zh-CN", {
  "console.title": "公证员控制台",
  "console.footer": "本次会话全程录音录像，录像与身份核验结果作为证据保存。",
  "console.notice": "进入后，等候室中的参与人需由您准许才能进入视频询问。本次会话将全程录音录像。",
  "console.enter": "进入会话",
  "console.session": "会话",
  "console.start": "开始会话",
  "console.end": "结束会话",
  "console.end_confirm": "确定结束本次会话？所有参与人都将离开，会话不能再继续。",
  "console.end_yes": "确定结束",
  "console.cancel": "取消",
  "console.lobby": "等候室",
  "console.lobby_empty": "暂无人等候。",
  "console.admit": "准许进入",
  "console.remove": "移出",
  "console.participants": "参与人",
  "console.mute_mic": "静音",
  "console.mute_cam": "关闭其摄像头",
  "console.muted_mic": "已静音",
  "console.muted_cam": "摄像头关闭",
  "console.stats": "网络状况",
  "identity.title": "身份核验",
  "identity.kind": "证件类型",
  "identity.passport": "护照资料页",
  "identity.resident_id": "居民身份证",
  "identity.upload": "上传证件照片",
  "identity.uploading": "正在识别证件照片中的人脸…",
  "identity.ready": "已取得证件人脸，正在与当事人实时画面比对。",
  "identity.waiting_consent": "当事人尚未同意人脸识别。",
  "identity.refused_photo": "证件照片不可用：",
  "identity.match": "一致",
  "identity.mismatch": "不一致",
  "identity.no_face": "未见人脸",
  "identity.several_faces": "画面中有多张人脸",
  "identity.person_changed": "画面中的人变了",
  "identity.confirmed": "确认身份",
  "identity.in_person": "由现场人员当面核验确认",
  "identity.refused": "身份不符",
  "identity.decided": "已记录决定：",
  "identity.note": "比对分数仅供参考，以公证员的决定为准；结果与决定均记入证据链。",
  "identity.id_face": "证件人脸",
  "identity.consent_given": "{name} 已同意人脸识别。",
  "identity.consent_missing": "{name} 尚未同意人脸识别：不会进行人脸比对与活体检测。",
  "identity.number_kind": "核对证件号码",
  "identity.resident_id_number": "居民身份证号码",
  "identity.passport_mrz": "护照机读码（两行）",
  "identity.number_label": "证件号码或机读码",
  "identity.number_check": "核对校验位",
  "identity.number_ok": "校验位正确：",
  "identity.number_bad": "校验未通过：",
  "identity.number_note": "校验位只能发现输入或识读错误，不能识别伪造证件：任何人都能算出正确的校验位。",
  "identity.sex.M": "男",
  "identity.sex.F": "女",
  "identity.sex.X": "未指明",
  "number.field.document code": "不是护照（P）类证件代码",
  "number.field.character": "含有机读码不允许的字符",
  "number.field.lines": "机读码应为两行，每行 44 个字符",
  "number.field.name": "姓名栏格式不对",
  "number.field.sex": "性别栏不对",
  "number.field.document number": "证件号码的校验位不符，可能输入有误",
  "number.field.birth date": "出生日期或其校验位不对",
  "number.field.expiry date": "有效期或其校验位不对",
  "number.field.personal number": "个人号码的校验位不符",
  "number.field.composite": "综合校验位不符，可能输入有误",
  "number.field.format": "身份证号码应为 17 位数字加 1 位数字或 X",
  "number.field.legacy_15_digit": "这是第一代 15 位号码：没有校验位，无法发现输入错误，且此类证件已停止使用；请输入现行证件的 18 位号码",
  "number.field.region": "前六位不是有效的地区代码",
  "number.field.birth_date": "号码中的出生日期无效",
  "number.field.checksum": "校验位不符，可能输入有误",
  "identity.capture_who": "由谁拍摄",
  "identity.capture_ask": "请对方用摄像头拍摄证件",
  "identity.capture_asked": "已请 {name} 将证件对准摄像头拍摄（2 分钟内有效）。",
  "identity.capture_none": "通话中没有当事人或现场人员。",
  "identity.captured": "{name} 拍摄的证件照片：",
  "identity.id_face_alt": "从证件照片中找到的人脸",
  "identity.latest": "最近一次：{verdict} · {time}",
  "identity.presence": "在场 · {time}",
  "identity.history": "比对记录",
  "identity.liveness_passed": "活体检测通过",
  "identity.liveness_failed": "活体检测未通过",
  "liveness.title": "活体检测",
  "liveness.start": "开始活体检测",
  "liveness.auto": "首次比对一致后自动开始",
  "liveness.running": "检测中，请当事人按屏幕提示做动作（剩余 {s} 秒）",
  "liveness.passed": "通过：当事人按随机顺序完成了全部动作。",
  "liveness.failed": "未通过：{reason}",
  "liveness.none": "尚未进行。需当事人同意人脸识别。",
  "liveness.reason.timeout": "未在时限内完成动作（静止照片或未配合）",
  "liveness.reason.wrong_order": "动作与要求的顺序不符（可能是预先录制的视频）",
  "liveness.reason.several_faces": "画面中有多张人脸",
  "liveness.reason.still_image": "画面完全静止（可能是照片）",
  "liveness.reason.not_the_id_holder": "做动作的人与证件照片不一致",
  "liveness.reason.incomplete": "视频中断，检测未完成",
  "action.blink": "眨眼",
  "action.turn_left": "向左转头",
  "action.turn_right": "向右转头",
  "error.busy": "活体检测正在进行，请等它结束。",
  "error.consent_missing": "当事人尚未同意人脸识别。",
  "error.no_video": "当事人没有视频画面。",
  "error.no_applicant": "本次会话没有当事人。",
  "console.stats_empty": "通话开始后每 5 秒更新。",
  "console.admit_label": "准许 {name} 进入",
  "console.remove_label": "将 {name} 移出会话",
  "console.mute_mic_label": "将 {name} 静音",
  "console.mute_cam_label": "关闭 {name} 的摄像头",
  "stats.who": "参与人",
  "stats.rtt": "时延",
  "stats.loss": "丢包",
  "stats.bitrate": "码率",
  "stats.fps": "帧率",
});
NotaryI18n.register("en", {
  "console.title": "Notary console",
  "console.footer": "This session is recorded in full; the recording and identity results are kept as evidence.",
  "console.notice": "Once you are in, people in the lobby join the interview only when you admit them. The session is recorded in full.",
  "console.enter": "Open the session",
  "console.session": "Session",
  "console.start": "Start session",
  "console.end": "End session",
  "console.end_confirm": "End this session? Everyone leaves and it cannot go on.",
  "console.end_yes": "Yes, end it",
  "console.cancel": "Cancel",
  "console.lobby": "Lobby",
  "console.lobby_empty": "Nobody is waiting.",
  "console.admit": "Admit",
  "console.remove": "Remove",
  "console.participants": "Participants",
  "console.mute_mic": "Mute",
  "console.mute_cam": "Camera off",
  "console.muted_mic": "muted",
  "console.muted_cam": "camera off",
  "console.stats": "Network",
  "identity.title": "Identity",
  "identity.kind": "Document",
  "identity.passport": "Passport data page",
  "identity.resident_id": "Resident ID card",
  "identity.upload": "Upload the ID photo",
  "identity.uploading": "Finding the face on the ID photo…",
  "identity.ready": "ID face taken; comparing with the applicant's live video.",
  "identity.waiting_consent": "The applicant has not consented to face processing yet.",
  "identity.refused_photo": "The ID photo cannot be used: ",
  "identity.match": "match",
  "identity.mismatch": "no match",
  "identity.no_face": "no face",
  "identity.several_faces": "several faces",
  "identity.person_changed": "a different person",
  "identity.confirmed": "Identity confirmed",
  "identity.in_person": "Confirmed in person by the site officer",
  "identity.refused": "Identity not confirmed",
  "identity.decided": "Decision recorded: ",
  "identity.note": "Scores inform, the notary decides; results and the decision go into the evidence chain.",
  "identity.id_face": "ID face",
  "identity.consent_given": "{name} has consented to face processing.",
  "identity.consent_missing": "{name} has not consented to face processing: no face match, no liveness check.",
  "identity.number_kind": "Check a document number",
  "identity.resident_id_number": "Resident ID number",
  "identity.passport_mrz": "Passport MRZ (two lines)",
  "identity.number_label": "Document number or MRZ",
  "identity.number_check": "Check the check digits",
  "identity.number_ok": "Check digits agree: ",
  "identity.number_bad": "Check failed: ",
  "identity.number_note": "Check digits catch typing and reading errors, not forgeries: anyone can compute a correct check digit.",
  "identity.sex.M": "male",
  "identity.sex.F": "female",
  "identity.sex.X": "unspecified",
  "identity.capture_who": "Taken by",
  "identity.capture_ask": "Ask for a camera photo of the ID",
  "identity.capture_asked": "{name} was asked to hold the ID document up to the camera (for 2 minutes).",
  "identity.capture_none": "Neither the applicant nor a site officer is in the call.",
  "identity.captured": "ID photo taken by {name}: ",
  "identity.id_face_alt": "The face found on the ID photo",
  "identity.latest": "Latest: {verdict} · {time}",
  "identity.presence": "Present · {time}",
  "identity.history": "Match history",
  "identity.liveness_passed": "liveness passed",
  "identity.liveness_failed": "liveness failed",
  "liveness.title": "Liveness check",
  "liveness.start": "Start liveness check",
  "liveness.auto": "Start by itself after the first match",
  "liveness.running": "Running: the applicant follows the on-screen steps ({s} s left)",
  "liveness.passed": "Passed: the applicant did every action in the random order.",
  "liveness.failed": "Not passed: {reason}",
  "liveness.none": "Not run yet. Needs the applicant's consent to face processing.",
  "liveness.reason.timeout": "an action was not done in time (a still photo, or no cooperation)",
  "liveness.reason.wrong_order": "actions not in the order asked for (possibly a recorded video)",
  "liveness.reason.several_faces": "several faces in the picture",
  "liveness.reason.still_image": "the picture did not move at all (possibly a photo)",
  "liveness.reason.not_the_id_holder": "the person doing the actions does not match the ID photo",
  "liveness.reason.incomplete": "the video stopped before the check was done",
  "action.blink": "blink",
  "action.turn_left": "turn left",
  "action.turn_right": "turn right",
  "error.busy": "A liveness check is running; wait for it to finish.",
  "error.consent_missing": "The applicant has not consented to face processing yet.",
  "error.no_video": "The applicant sends no video.",
  "error.no_applicant": "This session has no applicant.",
  "console.stats_empty": "Updated every 5 s once the call is up.",
  "console.admit_label": "Admit {name}",
  "console.remove_label": "Remove {name} from the session",
  "console.mute_mic_label": "Mute {name}",
  "console.mute_cam_label": "Turn {name}'s camera off",
  "stats.who": "Who",
  "stats.rtt": "RTT",
  "stats.loss": "Loss",
  "stats.bitrate": "Bitrate",
  "stats.fps": "FPS",
});

const $ = (id) => document.getElementById(id);
const banner = new Banner($("banner"));
const alertBanner = new Banner($("alert"));
let ended = null;
let stage = "prejoin";

const call = new NotaryCall(tokenFromFragment());
window.notarylinkCall = call; // for tests and support: the RTCPeerConnection is call.pc
const grid = new CallGrid(call, $("grid"), alertBanner);
const controls = new Controls(call, $("controls"), { onLeave: leave, onChange: () => grid.render() });
new NetworkIndicator(call, $("network"));
wireConnectionBanner(call, banner);
wireErrors(call, alertBanner);
const check = new PrejoinCheck(call, { controls, grid, onChange: () => renderAll() });
const recordPanel = new RecordPanel(call, $("record-panel"), () =>
  alertBanner.set(null, {}, "error", { raw: () => errorText("network") }),
);
call.addEventListener("message", () => recordPanel.render()); // the confirmers come and go

document.addEventListener("notarylink:lang", () => {
  translateAria();
  refreshChecks();
  renderAll();
});

function go(next) {
  stage = next;
  show(next);
  renderAll();
}

$("prejoin-continue").addEventListener("click", () => {
  check.finish();
  call.allowMedia(check.stream);
  go("call");
});

// --- the notary's actions ----------------------------------------------------------------

function act(message) {
  if (!call.send(message)) alertBanner.set(null, {}, "error", { raw: () => errorText("network") });
}

$("start").addEventListener("click", () => act({ type: "start" }));
$("end").addEventListener("click", () => {
  $("end-confirm").hidden = false;
  $("end-no").focus();
});
$("end-no").addEventListener("click", () => {
  $("end-confirm").hidden = true;
  $("end").focus();
});
$("end-yes").addEventListener("click", () => {
  $("end-confirm").hidden = true;
  act({ type: "end" });
});

function leave() {
  call.leave();
  finish("ended.left", true);
}

function finish(key, canRejoin, raw = null) {
  if (ended) return;
  ended = { key, raw };
  call.stop();
  check.release();
  banner.clear();
  $("rejoin").hidden = !canRejoin;
  go("ended");
}
$("rejoin").addEventListener("click", () => location.reload());

// --- events ------------------------------------------------------------------------------

call.addEventListener("welcome", () => {
  loadIdFace(); // after a reload the ID face may be held already
  renderAll();
});

call.addEventListener("message", ({ detail: { message } }) => {
  switch (message.type) {
    case "session_state":
      if (message.state === "ended") finish("ended.ended", false);
      break;
    case "identity":
      // A presence check (the verified face still there, nothing compared) updates one calm
      // status line; it never joins the history, which keeps the full checks' verdicts.
      latestPresence = message.result.type === "identity.present" ? message.result : null;
      if (!latestPresence) {
        identityHistory.unshift(message.result);
        identityHistory.splice(10);
      }
      renderIdentity();
      maybeStartLiveness(message.result);
      break;
    case "id_capture_requested": {
      const who = call.participants.get(message.participant);
      $("identity-status").textContent = t("identity.capture_asked", { name: who ? who.name : "" });
      break;
    }
    case "id_photo":
      showIdPhotoOutcome(message);
      break;
    case "face_consent":
      faceConsent = { participant: message.participant, given: message.given };
      if (!message.given) {
        // Withdrawn (or never given): the server deleted the template; so goes the picture.
        $("id-face-box").hidden = true;
        $("id-face").removeAttribute("src");
      }
      break;
    case "liveness_challenge":
      liveness = { challenge: message, done: [], result: null, endsAt: Date.now() + message.total_s * 1000 };
      renderLiveness();
      break;
    case "liveness_progress":
      if (liveness && liveness.challenge.challenge === message.challenge) liveness.done.push(message.action);
      renderLiveness();
      break;
    case "liveness_result":
      if (liveness && liveness.challenge.challenge === message.result.challenge) liveness.result = message.result;
      else liveness = { challenge: null, done: [], result: message.result, endsAt: 0 };
      identityHistory.unshift(message.result);
      identityHistory.splice(10);
      renderIdentity();
      renderLiveness();
      break;
    case "identity_decision_recorded":
      $("identity-status").textContent = t("identity.decided") + t(decisionKey(message.decision));
      break;
    case "bye":
      finish(message.reason === "removed" ? "ended.removed" : "ended.left", true);
      break;
    default:
      break;
  }
  renderAll();
});

call.addEventListener("refused", ({ detail }) => {
  if (stage === "prejoin") return;
  finish(null, false, () => `${t("ended.refused")} ${errorText(detail.code)}`);
});
call.addEventListener("closed", ({ detail }) => {
  if (ended) return;
  finish(detail.code === 4000 ? "ended.replaced" : "ended.ended", detail.code === 4000);
});

// --- identity ----------------------------------------------------------------------------

const identityHistory = []; // full checks' results and liveness results, newest first
let latestPresence = null; // the newest live-match result, while it is a presence check

function decisionKey(decision) {
  return decision === "confirmed_in_person" ? "identity.in_person" : `identity.${decision}`;
}

function renderIdentity() {
  $("identity-history").replaceChildren(
    ...identityHistory.map((result) => {
      const kind = result.type.replace("identity.", "");
      if (kind.startsWith("liveness_")) {
        const why = result.reason ? ` · ${t(`liveness.reason.${result.reason}`)}` : "";
        return el("li", { "data-kind": kind }, el("strong", { text: t(`identity.${kind}`) }), why);
      }
      const score = result.distance == null ? "" : ` ${result.distance.toFixed(2)} / ${result.threshold}`;
      return el("li", { "data-kind": kind }, el("strong", { text: t(`identity.${kind}`) }), `${score} · ${result.media_time.toFixed(1)} s`);
    }),
  );
  const latest = identityHistory.find((r) => !r.type.startsWith("identity.liveness_"));
  $("id-face-latest").textContent = latest
    ? t("identity.latest", { verdict: t(`identity.${latest.type.replace("identity.", "")}`), time: clockTime(latest.at) })
    : "";
  // Shown only while the newest live-match result is a presence check: no score, no colour.
  $("id-presence").textContent = latestPresence ? t("identity.presence", { time: clockTime(latestPresence.at) }) : "";
}

function clockTime(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleTimeString(NotaryI18n.lang, { hour12: false });
}

// The ID face beside the live video: the crop made at intake, fetched with the console's own
// join link (this room's notary only; never cached; gone when the session ends).
let idFaceUrl = null;

async function loadIdFace() {
  if (!call.room) return;
  let response;
  try {
    response = await fetch(`/api/rooms/${encodeURIComponent(call.room.id)}/id-face`, {
      headers: { Authorization: `Bearer ${call.token}` },
      cache: "no-store",
    });
  } catch {
    return;
  }
  if (!response.ok) return;
  if (idFaceUrl) URL.revokeObjectURL(idFaceUrl);
  idFaceUrl = URL.createObjectURL(await response.blob());
  $("id-face").src = idFaceUrl;
  $("id-face").alt = t("identity.id_face_alt");
  $("id-face-box").hidden = false;
}

// Check digits of a typed-in document number: typos, not forgeries (the note says so).
$("id-number-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!call.room) return;
  const form = new FormData(event.target);
  const out = $("id-number-result");
  let response;
  try {
    response = await fetch(`/api/rooms/${encodeURIComponent(call.room.id)}/id-number`, {
      method: "POST",
      headers: { Authorization: `Bearer ${call.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ kind: form.get("kind"), text: form.get("text") }),
    });
  } catch {
    out.textContent = errorText("network");
    return;
  }
  const body = await response.json();
  out.dataset.state = response.ok ? "ok" : "bad";
  if (response.ok) {
    const f = body.fields;
    const sex = t(`identity.sex.${f.sex}`);
    const who = f.surname ? `${f.surname} ${f.given_names} · ` : "";
    out.textContent = `${t("identity.number_ok")}${who}${f.document_number || f.number} · ${f.birth_date} · ${sex}`;
  } else {
    const error = body.error || {};
    const field = error.details ? error.details.field : null;
    const zh = NotaryI18n.lang === "zh-CN" && field ? t(`number.field.${field}`) : null;
    const why = zh && zh !== `number.field.${field}` ? zh : error.message || String(response.status);
    out.textContent = t("identity.number_bad") + why;
  }
});

// An ID photo taken by the applicant's or the site officer's camera (or uploaded here).
function showIdPhotoOutcome(message) {
  const who = message.by ? call.participants.get(message.by) : null;
  const prefix = who && message.source === "camera" ? t("identity.captured", { name: who.name }) : "";
  if (message.face) {
    $("identity-status").textContent = prefix + t("identity.ready");
    loadIdFace();
  } else {
    const advice = NotaryI18n.lang === "zh-CN" ? message.advice_zh : message.refused;
    $("identity-status").textContent = prefix + t("identity.refused_photo") + advice;
  }
}

$("capture-ask").addEventListener("click", () => {
  const target = $("capture-who").value;
  if (!target) {
    $("identity-status").textContent = t("identity.capture_none");
    return;
  }
  const kind = new FormData($("id-photo-form")).get("kind");
  act({ type: "id_capture_request", participant: target, kind });
});

function renderCaptureWho() {
  const select = $("capture-who");
  const chosen = select.value;
  const able = [...call.participants.values()].filter(
    (p) => (p.role === "applicant" || p.role === "site_officer") && p.presence === "admitted",
  );
  const options = able.map((p) => [p.id, `${p.name} · ${t(`role.${p.role}`)}`]);
  const key = JSON.stringify(options);
  if (select.dataset.key !== key) {
    // Rebuilt only when the people change: not under the notary's hand on every event.
    select.dataset.key = key;
    select.replaceChildren(...options.map(([id, text]) => el("option", { value: id, text })));
    if (able.some((p) => p.id === chosen)) select.value = chosen;
  }
  $("capture-ask").disabled = able.length === 0;
}

let faceConsent = null; // {participant, given}

function renderFaceConsent() {
  const who = faceConsent ? call.participants.get(faceConsent.participant) : null;
  $("face-consent").textContent = who
    ? t(faceConsent.given ? "identity.consent_given" : "identity.consent_missing", { name: who.name })
    : "";
  $("face-consent").dataset.given = faceConsent && faceConsent.given ? "true" : "false";
}

// --- liveness ----------------------------------------------------------------------------

let liveness = null; // {challenge, done: [action], result, endsAt}
let livenessAutoDone = false;
let livenessTimer = null;

function maybeStartLiveness(result) {
  // "Automatically": after the first match, once, if the notary leaves the box ticked.
  if (result.type !== "identity.match" || livenessAutoDone || !$("liveness-auto").checked) return;
  if (liveness && !liveness.result) return;
  livenessAutoDone = true;
  act({ type: "liveness_start" });
}

$("liveness-start").addEventListener("click", () => {
  livenessAutoDone = true; // the notary has taken it in hand
  act({ type: "liveness_start" });
});

function renderLiveness() {
  const running = Boolean(liveness && liveness.challenge && !liveness.result);
  $("liveness-start").disabled = running;
  const status = $("liveness-status");
  const steps = $("liveness-steps");
  if (!liveness) {
    status.textContent = t("liveness.none");
    status.dataset.state = "none";
    steps.hidden = true;
    return;
  }
  if (liveness.result) {
    const passed = liveness.result.type === "identity.liveness_passed";
    status.textContent = passed
      ? t("liveness.passed")
      : t("liveness.failed", { reason: t(`liveness.reason.${liveness.result.reason}`) });
    status.dataset.state = passed ? "passed" : "failed";
  } else {
    const left = Math.max(0, Math.ceil((liveness.endsAt - Date.now()) / 1000));
    status.textContent = t("liveness.running", { s: left });
    status.dataset.state = "running";
  }
  const actions = liveness.challenge ? liveness.challenge.actions : [];
  steps.hidden = actions.length === 0;
  steps.replaceChildren(
    ...actions.map((action, i) =>
      el("li", { "data-done": i < liveness.done.length ? "true" : "false", text: t(`action.${action}`) }),
    ),
  );
  clearTimeout(livenessTimer);
  if (running) livenessTimer = setTimeout(renderLiveness, 1000);
}

$("id-photo-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const file = form.get("photo");
  if (!file || !call.room) return;
  $("identity-status").textContent = t("identity.uploading");
  // The console's join link authorises this one room's ID photo (signaling/identity_api.py).
  const response = await fetch(`/api/rooms/${encodeURIComponent(call.room.id)}/id-photo?kind=${form.get("kind")}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${call.token}`, "Content-Type": file.type || "application/octet-stream" },
    body: file,
  });
  const body = await response.json();
  if (response.ok) {
    $("identity-status").textContent = t("identity.ready");
    loadIdFace();
  }
  else if (body.error.code === "consent_missing") $("identity-status").textContent = t("identity.waiting_consent");
  else {
    const advice = NotaryI18n.lang === "zh-CN" && body.error.details ? body.error.details.advice_zh : body.error.message;
    $("identity-status").textContent = t("identity.refused_photo") + advice;
  }
});

document.querySelectorAll("[data-decision]").forEach((button) => {
  button.addEventListener("click", () => call.send({ type: "identity_decision", decision: button.dataset.decision }));
});

// --- rendering ---------------------------------------------------------------------------

function roleAndName(p) {
  return el("span", {}, el("strong", { text: p.name }), " ", el("span", { class: "meta", text: t(`role.${p.role}`) }));
}

function renderLobby() {
  const list = $("lobby");
  const waiting = call.waitingInOrder();
  list.replaceChildren(
    ...waiting.map((p) =>
      el(
        "li",
        { class: "person", "data-participant": p.id },
        roleAndName(p),
        el(
          "span",
          { class: "buttons" },
          el("button", {
            type: "button",
            class: "small-button primary",
            "data-action": "admit",
            "aria-label": t("console.admit_label", { name: p.name }),
            text: t("console.admit"),
            onclick: () => act({ type: "admit", participant: p.id }),
          }),
          el("button", {
            type: "button",
            class: "small-button danger",
            "data-action": "remove",
            "aria-label": t("console.remove_label", { name: p.name }),
            text: t("console.remove"),
            onclick: () => act({ type: "remove", participant: p.id }),
          }),
        ),
      ),
    ),
  );
  $("lobby-count").textContent = String(waiting.length);
  $("lobby-empty").hidden = waiting.length > 0;
}

function renderPeople() {
  const me = call.me;
  const people = [...call.participants.values()];
  $("people").replaceChildren(
    ...people.map((p) => {
      const badges = el("span", {}, el("span", { class: `badge ${p.presence}`, text: t(`presence.${p.presence}`) }));
      if (p.audio_muted) badges.append(" ", el("span", { class: "badge muted", text: t("console.muted_mic") }));
      if (p.video_muted) badges.append(" ", el("span", { class: "badge muted", text: t("console.muted_cam") }));
      const buttons = el("span", { class: "buttons" });
      const other = me && p.id !== me.id;
      if (other && p.presence === "admitted" && p.role !== "observer") {
        buttons.append(
          el("button", {
            type: "button",
            class: "small-button",
            "data-action": "mute-audio",
            disabled: p.audio_muted,
            "aria-label": t("console.mute_mic_label", { name: p.name }),
            text: t("console.mute_mic"),
            onclick: () => act({ type: "mute", participant: p.id, audio: true }),
          }),
          el("button", {
            type: "button",
            class: "small-button",
            "data-action": "mute-video",
            disabled: p.video_muted,
            "aria-label": t("console.mute_cam_label", { name: p.name }),
            text: t("console.mute_cam"),
            onclick: () => act({ type: "mute", participant: p.id, video: true }),
          }),
        );
      }
      if (other && (p.presence === "admitted" || p.presence === "reconnecting")) {
        buttons.append(
          el("button", {
            type: "button",
            class: "small-button danger",
            "data-action": "remove",
            "aria-label": t("console.remove_label", { name: p.name }),
            text: t("console.remove"),
            onclick: () => act({ type: "remove", participant: p.id }),
          }),
        );
      }
      const name = other ? p.name : t("call.you_name", { name: p.name });
      return el(
        "li",
        { "data-participant": p.id, "data-presence": p.presence },
        el(
          "div",
          { class: "person" },
          el("span", {}, el("strong", { text: name }), " ", el("span", { class: "meta", text: t(`role.${p.role}`) })),
          badges,
        ),
        buttons.childElementCount ? el("div", { class: "person" }, buttons) : null,
      );
    }),
  );
}

function renderStats() {
  const rows = [];
  for (const [id, stats] of call.lastNetwork) {
    const p = call.participants.get(id);
    if (!p || (p.presence !== "admitted" && p.presence !== "reconnecting")) continue;
    const quality = networkQuality(stats);
    const loss = Math.max(stats.inbound_loss ?? 0, stats.outbound_loss ?? 0);
    rows.push(
      el(
        "tr",
        { "data-participant": id, "data-quality": quality },
        el(
          "td",
          {},
          el("span", { class: "network", "data-quality": quality }, el("span", { class: "dot", "aria-hidden": "true" }), p.name),
        ),
        el("td", { "data-stat": "rtt", text: formatRtt(stats.rtt_s) }),
        el("td", {
          "data-stat": "loss",
          text: stats.inbound_loss == null && stats.outbound_loss == null ? "—" : formatLoss(loss),
        }),
        el("td", { "data-stat": "bitrate", text: formatBitrate(stats.inbound_bitrate_bps) }),
        el("td", { "data-stat": "fps", text: formatFps(stats.inbound_frame_rate) }),
      ),
    );
  }
  $("stats-body").replaceChildren(...rows);
  $("stats-empty").hidden = rows.length > 0;
}

function renderAll() {
  const me = call.me;
  $("room-title").textContent = call.room ? `· ${call.room.title}` : "";
  if (me && call.room) {
    $("who").textContent = t("prejoin.you_are", { name: me.name, role: t(`role.${me.role}`), title: call.room.title });
  }
  const state = call.room ? call.room.state : "scheduled";
  $("session-state").textContent = call.room ? t("state.text", { state: t(`state.${state}`) }) : "";
  $("session-state").dataset.state = state;
  $("start").disabled = state !== "scheduled";
  $("end").disabled = state === "ended";
  if (ended) $("ended-reason").textContent = ended.raw ? ended.raw() : t(ended.key);
  renderLobby();
  renderPeople();
  renderStats();
  if (stage === "call") grid.render();
  controls.render();
  renderIdentity();
  renderLiveness();
  renderCaptureWho();
  renderFaceConsent();
}

NotaryI18n.apply();
show("prejoin");
if (!call.token) finish(null, false, () => errorText("no_token"));
else check.run();
