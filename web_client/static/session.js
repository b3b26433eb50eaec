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
  el,
  errorText,
  refreshChecks,
  show,
  t,
  translateAria,
  wireConnectionBanner,
  wireErrors,
} from "./call-ui.js";
import { RecordSign } from "./record-sign.js";

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
  "liveness.intro": "公证员请您配合完成活体检测，请按下列顺序做动作：",
  "liveness.face_camera": "请正对摄像头，保持面部在画面中",
  "liveness.action.blink": "请眨一下眼",
  "liveness.action.turn_left": "请慢慢向左转头，再转回来",
  "liveness.action.turn_right": "请慢慢向右转头，再转回来",
  "liveness.step.blink": "眨眼",
  "liveness.step.turn_left": "向左转头",
  "liveness.step.turn_right": "向右转头",
  "liveness.countdown": "剩余 {s} 秒",
  "liveness.passed": "完成，谢谢您的配合。",
  "liveness.failed": "这次没有完成。公证员可能会请您再试一次。",
  "withdraw.button": "撤回人脸识别同意",
  "withdraw.question": "撤回后，公证处将停止对您的人脸比对和活体检测，并立即删除您的人脸数据；公证员将改用其他方式核验您的身份。确定撤回吗？",
  "withdraw.yes": "确定撤回",
  "withdraw.no": "取消",
  "withdraw.done": "您已撤回人脸识别同意，人脸数据已删除。",
  "capture.title": "拍摄证件照片",
  "capture.how.passport": "公证员请您拍摄护照资料页：请将资料页正对摄像头，靠近到照片清晰可见，保持平稳、避免反光，然后点击“拍摄”。",
  "capture.how.cn_resident_id": "公证员请您拍摄居民身份证（有照片的一面）：请将证件正对摄像头，靠近到照片清晰可见，保持平稳、避免反光，然后点击“拍摄”。",
  "capture.privacy": "照片只用于本次身份核验，会话结束即删除其中的人脸数据。",
  "capture.take": "拍摄",
  "capture.taking": "正在拍摄并上传…",
  "capture.done": "已收到证件照片，谢谢。",
  "capture.refused": "这张照片无法使用：{advice} 请调整后再拍一次。",
  "capture.expired": "拍摄请求已过期，请等公证员重新请求。",
  "capture.no_camera": "没有可用的摄像头画面，请先打开摄像头。",
  "capture.failed": "拍摄或上传失败，请再试一次。",
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
  "liveness.intro": "The notary asks you for a short liveness check. Please do these actions in this order:",
  "liveness.face_camera": "Please look straight at the camera, your face in the picture",
  "liveness.action.blink": "Please blink once",
  "liveness.action.turn_left": "Please turn your head slowly to your left, then back",
  "liveness.action.turn_right": "Please turn your head slowly to your right, then back",
  "liveness.step.blink": "Blink",
  "liveness.step.turn_left": "Turn left",
  "liveness.step.turn_right": "Turn right",
  "liveness.countdown": "{s} s left",
  "liveness.passed": "Done, thank you.",
  "liveness.failed": "That did not complete. The notary may ask you to try again.",
  "withdraw.button": "Withdraw my consent to face processing",
  "withdraw.question": "Once withdrawn, the notary office stops comparing your face and checking liveness, and deletes your face data at once; the notary will check your identity another way. Withdraw?",
  "withdraw.yes": "Yes, withdraw",
  "withdraw.no": "Cancel",
  "withdraw.done": "You withdrew your consent to face processing; your face data was deleted.",
  "capture.title": "Photo of the ID document",
  "capture.how.passport": "The notary asks for a photo of the passport data page: hold the page facing the camera, close enough for its photo to be clear, steady and without glare, then press \u201cTake photo\u201d.",
  "capture.how.cn_resident_id": "The notary asks for a photo of the resident ID card (the side with the photo): hold it facing the camera, close enough for its photo to be clear, steady and without glare, then press \u201cTake photo\u201d.",
  "capture.privacy": "The photo is used for this identity check only; its face data is deleted when the session ends.",
  "capture.take": "Take photo",
  "capture.taking": "Taking the photo and sending it…",
  "capture.done": "The ID photo was received, thank you.",
  "capture.refused": "This photo cannot be used: {advice} Please adjust and take it again.",
  "capture.expired": "The request has expired; please wait for the notary to ask again.",
  "capture.no_camera": "There is no camera picture; please turn your camera on first.",
  "capture.failed": "Taking or sending the photo failed; please try again.",
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
new RecordSign(call, $("record-sign")); // the interview record, once the notary closes it

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
    case "liveness_challenge":
      startLiveness(message);
      break;
    case "consent_recorded":
      if (faceConsented && !message.face) {
        faceWithdrawn = true;
        liveness = null;
      }
      faceConsented = message.face;
      break;
    case "id_capture":
      capture = { kind: message.kind, status: null };
      renderCapture();
      $("id-capture-take").focus();
      break;
    case "id_capture_done":
      if (capture) {
        capture.status = { key: "capture.done" };
        capture.done = true;
        renderCapture();
        setTimeout(() => {
          if (capture && capture.done) {
            capture = null;
            renderCapture();
          }
        }, 6000);
      }
      break;
    case "liveness_progress":
      if (liveness && liveness.id === message.challenge) liveness.done += 1;
      renderLiveness();
      break;
    case "liveness_result":
      if (liveness && liveness.id === message.result.challenge) {
        liveness.outcome = message.result.type === "identity.liveness_passed" ? "passed" : "failed";
        renderLiveness();
        setTimeout(() => {
          if (liveness && liveness.outcome) {
            liveness = null;
            renderLiveness();
          }
        }, 8000);
      }
      break;
    default:
      break;
  }
  renderAll();
});

// --- withdrawing the face consent (the recording consent stays: joining needs it) ----------

let faceConsented = false;
let faceWithdrawn = false;

$("withdraw").addEventListener("click", () => {
  $("withdraw-confirm").hidden = false;
  $("withdraw-no").focus();
});
$("withdraw-no").addEventListener("click", () => {
  $("withdraw-confirm").hidden = true;
  $("withdraw").focus();
});
$("withdraw-yes").addEventListener("click", () => {
  $("withdraw-confirm").hidden = true;
  call.send({ type: "consent", recording: true, face: false, text_version: CONSENT_TEXT_VERSION });
});

function renderWithdraw() {
  const applicant = call.me && call.me.role === "applicant";
  $("withdraw-box").hidden = !applicant || (!faceConsented && !faceWithdrawn);
  $("withdraw").hidden = !faceConsented;
  $("withdraw-status").textContent = faceWithdrawn && !faceConsented ? t("withdraw.done") : "";
}

// --- the ID document, held up to the camera when the notary asks -------------------------

let capture = null; // {kind, status: {key, values} | null, done, busy}

function renderCapture() {
  const box = $("id-capture");
  box.hidden = !capture;
  if (!capture) return;
  $("id-capture-how").textContent = t(`capture.how.${capture.kind}`);
  $("id-capture-take").disabled = Boolean(capture.busy || capture.done);
  $("id-capture-status").textContent = capture.status ? t(capture.status.key, capture.status.values || {}) : "";
}

// A full-resolution still: the camera's own photo (ImageCapture) where it has one, else the
// current frame at the camera track's full size (not the smaller picture sent in the call).
async function grabStill(track) {
  if ("ImageCapture" in window) {
    try {
      const photo = await Promise.race([
        new ImageCapture(track).takePhoto(),
        new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 4000)),
      ]);
      if (photo && photo.size > 0) return photo;
    } catch {
      // fall back to the video frame
    }
  }
  const video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([track]);
  await video.play();
  const canvas = document.createElement("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  video.srcObject = null;
  return await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
}

$("id-capture-take").addEventListener("click", async () => {
  if (!capture || capture.busy || !call.room) return;
  const track = call.localStream && call.localStream.getVideoTracks().find((v) => v.readyState === "live");
  if (!track || !track.enabled) {
    capture.status = { key: "capture.no_camera" };
    renderCapture();
    return;
  }
  capture.busy = true;
  capture.status = { key: "capture.taking" };
  renderCapture();
  try {
    const still = await grabStill(track);
    const response = await fetch(
      `/api/rooms/${encodeURIComponent(call.room.id)}/id-photo?kind=${encodeURIComponent(capture.kind)}`,
      {
        method: "POST",
        headers: { Authorization: `Bearer ${call.token}`, "Content-Type": still.type || "image/jpeg" },
        body: still,
      },
    );
    if (response.ok) {
      capture.status = { key: "capture.done" };
      capture.done = true;
    } else {
      const body = await response.json().catch(() => ({ error: {} }));
      const error = body.error || {};
      if (response.status === 422) {
        const advice = NotaryI18n.lang === "zh-CN" && error.details ? error.details.advice_zh : error.message;
        capture.status = { key: "capture.refused", values: { advice } };
      } else if (response.status === 403) {
        capture.status = { key: "capture.expired" };
        capture.done = true;
      } else {
        capture.status = { key: "capture.failed" };
      }
    }
  } catch {
    capture.status = { key: "capture.failed" };
  }
  if (capture) capture.busy = false;
  renderCapture();
});

// --- liveness: the notary's challenge, one step at a time, big and calm --------------------

// The server judges the steps from the video; the page only tells the applicant what to do
// next: a moment facing the camera first (the server needs a frontal start), then each
// action in the random order the server chose, advancing as the server sees it done.
let liveness = null; // {id, actions, done, outcome, startedAt, endsAt, baselineMs}
let livenessTimer = null;

function startLiveness(message) {
  const now = Date.now();
  liveness = {
    id: message.challenge,
    actions: message.actions,
    done: 0,
    outcome: null,
    startedAt: now,
    endsAt: now + message.total_s * 1000,
    baselineMs: 1500,
  };
  renderLiveness();
}

function renderLiveness() {
  const box = $("liveness");
  clearTimeout(livenessTimer);
  if (!liveness) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.dataset.state = liveness.outcome || "running";
  const facing = Date.now() - liveness.startedAt < liveness.baselineMs;
  const current = liveness.actions[liveness.done];
  let now;
  if (liveness.outcome) now = t(`liveness.${liveness.outcome}`);
  else if (facing || !current) now = t("liveness.face_camera");
  else now = t(`liveness.action.${current}`);
  if ($("liveness-now").textContent !== now) $("liveness-now").textContent = now;
  $("liveness-steps").replaceChildren(
    ...liveness.actions.map((action, i) =>
      el("li", {
        "data-state": i < liveness.done ? "done" : i === liveness.done && !facing && !liveness.outcome ? "now" : "todo",
        text: `${i + 1}. ${t(`liveness.step.${action}`)}`,
      }),
    ),
  );
  const left = Math.max(0, Math.ceil((liveness.endsAt - Date.now()) / 1000));
  $("liveness-countdown").textContent = liveness.outcome ? "" : t("liveness.countdown", { s: left });
  if (!liveness.outcome) livenessTimer = setTimeout(renderLiveness, 250);
}

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
  renderLiveness();
  renderCapture();
  renderWithdraw();
}

NotaryI18n.apply();
show("prejoin");
if (!token) {
  finish(null, false, () => errorText("no_token"));
} else {
  check.run();
}
