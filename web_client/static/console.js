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

call.addEventListener("welcome", () => renderAll());

call.addEventListener("message", ({ detail: { message } }) => {
  switch (message.type) {
    case "session_state":
      if (message.state === "ended") finish("ended.ended", false);
      break;
    case "identity":
      identityHistory.unshift(message.result);
      identityHistory.splice(10);
      renderIdentity();
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

const identityHistory = [];

function decisionKey(decision) {
  return decision === "confirmed_in_person" ? "identity.in_person" : `identity.${decision}`;
}

function renderIdentity() {
  $("identity-history").replaceChildren(
    ...identityHistory.map((result) => {
      const kind = result.type.replace("identity.", "");
      const score = result.distance == null ? "" : ` ${result.distance.toFixed(2)} / ${result.threshold}`;
      return el("li", { "data-kind": kind }, el("strong", { text: t(`identity.${kind}`) }), `${score} · ${result.media_time.toFixed(1)} s`);
    }),
  );
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
  if (response.ok) $("identity-status").textContent = t("identity.ready");
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
}

NotaryI18n.apply();
show("prejoin");
if (!call.token) finish(null, false, () => errorText("no_token"));
else check.run();
