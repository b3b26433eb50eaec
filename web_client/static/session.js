// The session page for the applicant, the site officer and observers:
// pre-join check → consent → lobby → call → over.
"use strict";

import { NotaryCall, tokenFromFragment } from "./call.js";
import {
  Banner,
  CallGrid,
  Controls,
  NetworkIndicator,
  PrejoinCheck,
  errorText,
  refreshChecks,
  show,
  t,
  translateAria,
  wireConnectionBanner,
  wireErrors,
} from "./call-ui.js";

NotaryI18n.register("zh-CN", {
  "session.title": "视频询问",
  "footer.session": "本次会话由公证处全程录音录像，作为公证证据保存。",
  "consent.title": "知情同意",
  "consent.intro": "本次视频询问由公证处依法全程录音录像。请阅读以下事项，逐项确认后继续：",
  "consent.recording": "我同意本次会话被全程录音录像，录像作为公证证据依法保存，仅供办理本公证事项及依法查阅使用。",
  "consent.face": "我同意公证处为核验身份处理我的面部图像（与我提交的身份证件照片比对）。",
  "consent.hint.both": "以上两项均需同意才能继续。如不同意，请联系公证处改用其他办理方式。",
  "consent.hint.one": "需同意录音录像才能继续。",
  "consent.continue": "同意并继续",
  "lobby.title": "等候室",
  "lobby.waiting": "请稍候，公证员将请您进入视频询问。",
  "lobby.position": "您在等候队列中排第 {n} 位。",
  "lobby.position_first": "您是下一位。",
});
NotaryI18n.register("en", {
  "session.title": "Video interview",
  "footer.session": "The notary office records this session in full and keeps it as notarial evidence.",
  "consent.title": "Your consent",
  "consent.intro": "The notary office records this video interview in full, as the law requires. Please read each point and confirm it to go on:",
  "consent.recording": "I agree that this session is recorded (sound and picture) and that the recording is kept as notarial evidence, used only for this matter and for lawful inspection.",
  "consent.face": "I agree that the notary office processes images of my face to check my identity (compared with the ID document photo I handed in).",
  "consent.hint.both": "Both are needed to go on. If you do not agree, please contact the notary office about another way to proceed.",
  "consent.hint.one": "Agreeing to the recording is needed to go on.",
  "consent.continue": "Agree and continue",
  "lobby.title": "Lobby",
  "lobby.waiting": "Waiting for the notary to admit you to the interview.",
  "lobby.position": "You are number {n} in the queue.",
  "lobby.position_first": "You are next.",
});

const $ = (id) => document.getElementById(id);
const banner = new Banner($("banner"));
const alertBanner = new Banner($("alert"));
let ended = null; // {key} or {raw} for the "over" screen

document.addEventListener("notarylink:lang", () => {
  translateAria();
  refreshChecks();
  renderAll();
});

const token = tokenFromFragment();
const call = new NotaryCall(token);
window.notarylinkCall = call; // for tests and support: the RTCPeerConnection is call.pc
const grid = new CallGrid(call, $("grid"), alertBanner);
const controls = new Controls(call, $("controls"), { onLeave: leave, onChange: () => grid.render() });
new NetworkIndicator(call, $("network"));
wireConnectionBanner(call, banner);
wireErrors(call, alertBanner);

let stage = "prejoin";
const check = new PrejoinCheck(call, { controls, grid, onChange: () => renderAll() });

function go(next) {
  stage = next;
  show(next);
  renderAll();
}

$("prejoin-continue").addEventListener("click", () => {
  const applicant = call.me && call.me.role === "applicant";
  $("consent-face-item").hidden = !applicant;
  $("consent-face").required = applicant;
  go("consent");
  updateConsent();
});

// --- consent -----------------------------------------------------------------------------

const CONSENT_TEXT_VERSION = "2026-11-v1"; // signaling/identity_desk.py CONSENT_TEXT_VERSION

function updateConsent() {
  const form = $("consent-form");
  const needed = [...form.querySelectorAll("input[type=checkbox]")].filter((box) => box.required);
  $("consent-continue").disabled = !needed.every((box) => box.checked);
}

$("consent-form").addEventListener("change", updateConsent);
$("consent-form").addEventListener("submit", (event) => {
  event.preventDefault();
  updateConsent();
  if ($("consent-continue").disabled) return;
  check.finish();
  // On the record: what was agreed to, and which text was shown (the server keeps both in the
  // evidence chain; face processing starts only after the applicant's own consent).
  call.send({
    type: "consent",
    recording: true,
    face: Boolean($("consent-face").checked),
    text_version: CONSENT_TEXT_VERSION,
  });
  call.allowMedia(check.publishes() ? check.stream : null);
  go(call.me && call.me.presence === "admitted" ? "call" : "lobby");
});

// --- the room ----------------------------------------------------------------------------

call.addEventListener("welcome", () => renderAll());

call.addEventListener("message", ({ detail: { message } }) => {
  const p = message.participant;
  switch (message.type) {
    case "participant_joined":
      if (call.me && p.id === call.me.id && stage === "lobby") go("call");
      break;
    case "admitted":
      if (stage === "lobby") go("call");
      break;
    case "mute_state":
      if (call.me && p.id === call.me.id && message.by !== call.me.id) {
        if (p.audio_muted) alertBanner.set("banner.muted_by_notary", {}, "warn", { hideAfterMs: 8000 });
        else if (p.video_muted) alertBanner.set("banner.camera_off_by_notary", {}, "warn", { hideAfterMs: 8000 });
      }
      controls.render();
      break;
    case "bye":
      finish(message.reason === "removed" ? "ended.removed" : "ended.left", message.reason !== "removed");
      break;
    case "session_state":
      if (message.state === "ended") finish("ended.ended", false);
      break;
    default:
      break;
  }
  renderAll();
});

call.addEventListener("refused", ({ detail }) => {
  if (stage === "prejoin") return; // shown in the connection check
  finish(null, false, () => `${t("ended.refused")} ${errorText(detail.code)}`);
});

call.addEventListener("closed", ({ detail }) => {
  if (ended) return;
  if (detail.code === 4000) finish("ended.replaced", true);
  else finish("ended.ended", false);
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

// --- rendering ---------------------------------------------------------------------------

function renderAll() {
  const me = call.me;
  $("room-title").textContent = call.room ? `· ${call.room.title}` : "";
  if (me && call.room) {
    $("who").textContent = t("prejoin.you_are", {
      name: me.name,
      role: t(`role.${me.role}`),
      title: call.room.title,
    });
  }
  const hint = call.me && call.me.role === "applicant" ? "consent.hint.both" : "consent.hint.one";
  $("consent-hint").textContent = t(hint);
  const position = me ? call.waitingInOrder().findIndex((p) => p.id === me.id) + 1 : 0;
  $("lobby-position").textContent =
    position > 1 ? t("lobby.position", { n: position }) : position === 1 ? t("lobby.position_first") : "";
  $("session-state").textContent = call.room ? t("state.text", { state: t(`state.${call.room.state}`) }) : "";
  $("session-state").dataset.state = call.room ? call.room.state : "";
  if (ended) $("ended-reason").textContent = ended.raw ? ended.raw() : t(ended.key);
  if (stage === "call") grid.render();
  controls.render();
}

NotaryI18n.apply();
show("prejoin");
if (!token) {
  finish(null, false, () => errorText("no_token"));
} else {
  check.run();
}
