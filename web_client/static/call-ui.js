// UI pieces shared by session.html and console.html: texts in both languages, the pre-join
// device check with its level meter, the call grid, the controls, banners and error texts.
"use strict";

import { networkQuality } from "./call.js";

const t = (key, values = {}) =>
  NotaryI18n.t(key).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
export { t };

NotaryI18n.register("zh-CN", {
  "app.name": "NotaryLink",
  "role.applicant": "当事人",
  "role.notary": "公证员",
  "role.site_officer": "现场核验人员",
  "role.observer": "观察员",
  "presence.invited": "已邀请",
  "presence.waiting": "等候中",
  "presence.admitted": "通话中",
  "presence.reconnecting": "正在重连",
  "presence.left": "已离开",
  "presence.removed": "已移出",
  "state.scheduled": "未开始",
  "state.live": "进行中",
  "state.ended": "已结束",
  "state.label": "会话状态",
  "state.text": "会话状态：{state}",
  "prejoin.title": "进入前检查",
  "prejoin.intro": "请确认摄像头、麦克风和网络连接正常。",
  "prejoin.intro_observer": "请确认网络连接正常。",
  "prejoin.devices": "摄像头和麦克风",
  "prejoin.mic_level": "麦克风音量",
  "prejoin.connection": "连接测试",
  "prejoin.preview": "本机画面预览",
  "prejoin.retry": "重试",
  "prejoin.continue": "继续",
  "prejoin.you_are": "{name}，您将以“{role}”身份加入：{title}",
  "prejoin.observer": "观察员只观看，不使用摄像头和麦克风。",
  "check.pending": "检查中…",
  "check.ok": "正常",
  "check.failed": "失败",
  "device.denied": "浏览器未获准使用摄像头或麦克风。请在地址栏旁允许访问后点“重试”。",
  "device.missing": "未找到摄像头或麦克风，请连接后点“重试”。",
  "device.busy": "摄像头或麦克风正被其他程序占用，请关闭该程序后点“重试”。",
  "device.other": "无法打开摄像头或麦克风：{detail}",
  "device.unsupported": "此浏览器不支持视频通话，请使用最新版 Chrome、Edge、Firefox 或 Safari。",
  "call.you": "我",
  "call.you_name": "{name}（我）",
  "call.no_video": "暂无视频",
  "call.camera_off": "摄像头已关闭",
  "call.watching": "仅观看",
  "call.mic_muted": "麦克风已静音",
  "call.reconnecting": "正在重连…",
  "call.grid": "视频画面",
  "call.enable_sound": "点此开启声音",
  "control.group": "通话控制",
  "control.mic_off": "关闭麦克风",
  "control.mic_on": "打开麦克风",
  "control.cam_off": "关闭摄像头",
  "control.cam_on": "打开摄像头",
  "control.leave": "离开会话",
  "network.label": "网络：",
  "network.good": "良好",
  "network.fair": "一般",
  "network.poor": "较差",
  "network.unknown": "—",
  "banner.connecting": "正在连接服务器…",
  "banner.reconnecting": "连接中断，正在重新连接…（第 {n} 次）",
  "banner.back": "连接已恢复",
  "banner.media_connecting": "正在建立音视频连接…",
  "banner.media_failed": "音视频连接中断，请稍候或重新加入。",
  "banner.muted_by_notary": "公证员已将您静音。需要发言时可自行打开麦克风。",
  "banner.camera_off_by_notary": "公证员关闭了您的摄像头画面。",
  "ended.title": "会话已结束",
  "ended.left": "您已离开本次会话。",
  "ended.removed": "公证员已将您移出本次会话。",
  "ended.ended": "公证员已结束本次会话，感谢您的参与。",
  "ended.replaced": "本次会话已在其他窗口或设备上打开，此窗口已断开。",
  "ended.refused": "无法加入本次会话。",
  "ended.rejoin": "重新加入",
  "error.prefix": "出错了：",
  "error.no_token": "链接不完整，缺少加入凭证。请使用公证处发送给您的完整链接。",
  "error.network": "无法连接服务器，请检查网络后重试。",
  "error.token_invalid": "该链接无效，请向公证处索取新的链接。",
  "error.token_expired": "该链接已过期，请向公证处索取新的链接。",
  "error.room_not_found": "该会话不存在或已经结束。",
  "error.account_required": "此链接只能由本案件的申请人使用：请登录后从“我的案件”页面进入。",
  "error.account_mismatch": "此链接属于另一个账户。",
  "error.removed": "公证员已将您移出本次会话。",
  "error.session_ended": "本次会话已经结束。",
  "error.unsupported_version": "页面版本过旧，请刷新页面。",
  "error.join_timeout": "加入超时，请重试。",
  "error.out_of_order": "页面状态异常，请刷新页面。",
  "error.malformed": "页面发送了无法识别的消息，请刷新页面。",
  "error.unknown_type": "页面发送了无法识别的消息，请刷新页面。",
  "error.invalid": "请求内容无效。",
  "error.too_large": "消息过大，未被接受。",
  "error.not_admitted": "公证员尚未请您进入通话。",
  "error.already_joined": "已经加入，无需重复加入。",
  "error.forbidden": "您没有权限执行此操作。",
  "error.not_waiting": "该参与人已不在等候室。",
  "error.not_in_call": "该参与人不在通话中。",
  "error.unknown_participant": "找不到该参与人。",
  "error.bad_state": "会话当前的状态不允许此操作。",
  "error.negotiation_failed": "音视频协商失败，请离开后重新加入。",
  "error.rate_limited": "操作过于频繁，请稍后再试。",
  "error.internal": "服务器处理出错，请重试。",
  "error.unknown": "发生错误（{code}）。",
  "lang.label": "语言",
});

NotaryI18n.register("en", {
  "app.name": "NotaryLink",
  "role.applicant": "Applicant",
  "role.notary": "Notary",
  "role.site_officer": "Site officer",
  "role.observer": "Observer",
  "presence.invited": "Invited",
  "presence.waiting": "In the lobby",
  "presence.admitted": "In the call",
  "presence.reconnecting": "Reconnecting",
  "presence.left": "Left",
  "presence.removed": "Removed",
  "state.scheduled": "Not started",
  "state.live": "Live",
  "state.ended": "Ended",
  "state.label": "Session",
  "state.text": "Session: {state}",
  "prejoin.title": "Before you join",
  "prejoin.intro": "Check that your camera, microphone and connection work.",
  "prejoin.intro_observer": "Check that your connection works.",
  "prejoin.devices": "Camera and microphone",
  "prejoin.mic_level": "Microphone level",
  "prejoin.connection": "Connection test",
  "prejoin.preview": "Your camera preview",
  "prejoin.retry": "Try again",
  "prejoin.continue": "Continue",
  "prejoin.you_are": "{name}, you join “{title}” as {role}",
  "prejoin.observer": "Observers only watch: no camera or microphone is used.",
  "check.pending": "Checking…",
  "check.ok": "OK",
  "check.failed": "Failed",
  "device.denied": "The browser was not allowed to use the camera or microphone. Allow it (next to the address bar) and choose “Try again”.",
  "device.missing": "No camera or microphone was found. Connect one and choose “Try again”.",
  "device.busy": "Another program is using the camera or microphone. Close it and choose “Try again”.",
  "device.other": "The camera or microphone could not be opened: {detail}",
  "device.unsupported": "This browser cannot make video calls. Please use a current Chrome, Edge, Firefox or Safari.",
  "call.you": "You",
  "call.you_name": "{name} (you)",
  "call.no_video": "No video yet",
  "call.camera_off": "Camera off",
  "call.watching": "Watching only",
  "call.mic_muted": "Microphone muted",
  "call.reconnecting": "Reconnecting…",
  "call.grid": "Video",
  "call.enable_sound": "Select to turn the sound on",
  "control.group": "Call controls",
  "control.mic_off": "Mute microphone",
  "control.mic_on": "Unmute microphone",
  "control.cam_off": "Turn camera off",
  "control.cam_on": "Turn camera on",
  "control.leave": "Leave session",
  "network.label": "Network: ",
  "network.good": "Good",
  "network.fair": "Fair",
  "network.poor": "Poor",
  "network.unknown": "—",
  "banner.connecting": "Connecting to the server…",
  "banner.reconnecting": "Connection lost, reconnecting… (attempt {n})",
  "banner.back": "You are back",
  "banner.media_connecting": "Connecting audio and video…",
  "banner.media_failed": "Audio and video were interrupted. Please wait, or leave and join again.",
  "banner.muted_by_notary": "The notary muted you. Unmute yourself when you need to speak.",
  "banner.camera_off_by_notary": "The notary turned your camera off.",
  "ended.title": "The session is over",
  "ended.left": "You left the session.",
  "ended.removed": "The notary removed you from this session.",
  "ended.ended": "The notary ended the session. Thank you for taking part.",
  "ended.replaced": "This session was opened in another window or on another device; this window is disconnected.",
  "ended.refused": "You cannot join this session.",
  "ended.rejoin": "Join again",
  "error.prefix": "Problem: ",
  "error.no_token": "The link is incomplete: its join code is missing. Please use the whole link the notary office sent you.",
  "error.network": "The server cannot be reached. Check your network and try again.",
  "error.token_invalid": "This link is not valid. Please ask the notary office for a new one.",
  "error.token_expired": "This link has expired. Please ask the notary office for a new one.",
  "error.room_not_found": "This session does not exist or is over.",
  "error.account_required": "This link is for the case's applicant: log in and open it from your case page.",
  "error.account_mismatch": "This link belongs to another account.",
  "error.removed": "The notary removed you from this session.",
  "error.session_ended": "This session has ended.",
  "error.unsupported_version": "This page is out of date. Please reload it.",
  "error.join_timeout": "Joining took too long. Please try again.",
  "error.out_of_order": "The page got out of step. Please reload it.",
  "error.malformed": "The page sent a message the server did not understand. Please reload it.",
  "error.unknown_type": "The page sent a message the server did not understand. Please reload it.",
  "error.invalid": "The request was not valid.",
  "error.too_large": "The message was too large and was refused.",
  "error.not_admitted": "The notary has not admitted you to the call yet.",
  "error.already_joined": "You have joined already.",
  "error.forbidden": "You are not allowed to do this.",
  "error.not_waiting": "This participant is no longer in the lobby.",
  "error.not_in_call": "This participant is not in the call.",
  "error.unknown_participant": "This participant is not known.",
  "error.bad_state": "The session's current state does not allow this.",
  "error.negotiation_failed": "Audio and video could not be set up. Please leave and join again.",
  "error.rate_limited": "Too many actions at once. Please wait a moment.",
  "error.internal": "The server could not handle this. Please try again.",
  "error.unknown": "Something went wrong ({code}).",
  "lang.label": "Language",
});

/** Plain words for an error code of the protocol (both languages). */
export function errorText(code) {
  const key = `error.${code}`;
  const text = NotaryI18n.t(key);
  return text === key ? t("error.unknown", { code }) : text;
}

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value == null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

export function show(id) {
  for (const section of document.querySelectorAll("main > [data-stage]")) {
    section.hidden = section.dataset.stage !== id;
  }
  document.body.dataset.view = id;
}

// --- banners -------------------------------------------------------------------------------

/** One aria-live banner; `set(key, values, tone)` shows it, `clear()` hides it. */
export class Banner {
  constructor(node) {
    this.node = node;
    this.current = null;
    this.timer = null;
    document.addEventListener("notarylink:lang", () => this.render());
  }

  set(key, values = {}, tone = "info", { busy = false, hideAfterMs = 0, raw = null } = {}) {
    clearTimeout(this.timer);
    this.current = { key, values, tone, busy, raw };
    this.render();
    if (hideAfterMs) this.timer = setTimeout(() => this.clear(), hideAfterMs);
  }

  clear() {
    clearTimeout(this.timer);
    this.current = null;
    this.render();
  }

  render() {
    const current = this.current;
    this.node.hidden = !current;
    if (!current) {
      this.node.textContent = "";
      return;
    }
    this.node.className = `banner ${current.tone}`;
    this.node.replaceChildren();
    if (current.busy) this.node.append(el("span", { class: "spinner", "aria-hidden": "true" }));
    this.node.append(el("span", { text: current.raw ? current.raw() : t(current.key, current.values) }));
  }
}

// --- pre-join: devices ---------------------------------------------------------------------

export function deviceErrorKey(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "device.denied";
    case "NotFoundError":
    case "OverconstrainedError":
      return "device.missing";
    case "NotReadableError":
    case "AbortError":
      return "device.busy";
    default:
      return "device.other";
  }
}

export async function openDevices() {
  if (!navigator.mediaDevices || !window.RTCPeerConnection) {
    throw Object.assign(new Error("unsupported"), { name: "Unsupported" });
  }
  return navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true },
    video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 25 } },
  });
}

/** A microphone level meter from an AnalyserNode, drawn into a <meter>. Returns stop(). */
export function levelMeter(stream, meter) {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context || stream.getAudioTracks().length === 0) return () => {};
  const context = new Context();
  const source = context.createMediaStreamSource(stream);
  const analyser = context.createAnalyser();
  analyser.fftSize = 512;
  source.connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  let frame = 0;
  let stopped = false;
  const resume = () => context.state === "suspended" && context.resume();
  resume();
  document.addEventListener("click", resume, { once: true });
  const draw = () => {
    if (stopped) return;
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const sample of samples) sum += sample * sample;
    const rms = Math.sqrt(sum / samples.length);
    // -60 dBFS .. 0 dBFS onto 0 .. 1
    const level = rms > 0 ? Math.max(0, Math.min(1, (20 * Math.log10(rms) + 60) / 60)) : 0;
    meter.value = level;
    meter.dataset.level = level.toFixed(2);
    frame = requestAnimationFrame(draw);
  };
  draw();
  return () => {
    stopped = true;
    cancelAnimationFrame(frame);
    source.disconnect();
    context.close();
  };
}

/** Mark a check row: state is "pending" | "ok" | "failed"; detail is a text or () => text. */
export function setCheck(node, state, detail = "") {
  node.dataset.state = state;
  node._detail = detail;
  renderCheck(node);
}

function renderCheck(node) {
  const label = node.querySelector(".check-state");
  label.textContent = t(`check.${node.dataset.state}`);
  const detailNode = node.querySelector(".check-detail");
  const detail = node._detail;
  if (detailNode) detailNode.textContent = typeof detail === "function" ? detail() : detail || "";
}

export function refreshChecks(root = document) {
  for (const node of root.querySelectorAll(".check[data-state]")) renderCheck(node);
}

// --- the call grid -------------------------------------------------------------------------

/** Tiles: my own preview first, then one per other participant in the call. */
export class CallGrid {
  constructor(call, node, banner) {
    this.call = call;
    this.node = node;
    this.banner = banner;
    this.tiles = new Map(); // participant id -> {root, video, audio, caption}
    this.localStream = null;
    call.addEventListener("remote", (event) => this.attach(event.detail));
    document.addEventListener("notarylink:lang", () => this.render());
  }

  setLocal(stream) {
    this.localStream = stream;
    this.render();
  }

  tile(id) {
    let tile = this.tiles.get(id);
    if (tile) return tile;
    const video = el("video", { autoplay: true, playsinline: true });
    video.muted = true; // sound goes through the <audio> element (own preview: never)
    const audio = el("audio", { autoplay: true });
    const placeholder = el("div", { class: "placeholder" });
    const name = el("span", { class: "name" });
    const role = el("span", { class: "role" });
    const flags = el("span", { class: "flags" });
    const caption = el("figcaption", {}, name, role, flags);
    const root = el("figure", { class: "tile", "data-participant": id }, video, placeholder, caption, audio);
    tile = { root, video, audio, placeholder, name, role, flags, hasVideo: false };
    this.tiles.set(id, tile);
    return tile;
  }

  attach() {
    this.render(); // render() puts each participant's current tracks on their tile
  }

  /** Give a remote tile the participant's current tracks (after a re-map or a rejoin). */
  syncTracks(id, tile) {
    const remote = this.call.remoteTracks.get(id) || {};
    if (remote.video !== tile.videoTrack) {
      tile.videoTrack = remote.video || null;
      tile.video.srcObject = remote.video ? new MediaStream([remote.video]) : null;
      tile.hasVideo = Boolean(remote.video);
      if (remote.video) tile.video.play().catch(() => {});
    }
    if (remote.audio !== tile.audioTrack) {
      tile.audioTrack = remote.audio || null;
      tile.audio.srcObject = remote.audio ? new MediaStream([remote.audio]) : null;
      if (remote.audio) tile.audio.play().catch(() => this.askForSound());
    }
  }

  askForSound() {
    // Autoplay with sound refused (no click on this page yet): one click turns it on.
    if (this.soundAsked) return;
    this.soundAsked = true;
    this.banner.set("call.enable_sound", {}, "info");
    document.addEventListener(
      "click",
      () => {
        this.soundAsked = false;
        for (const tile of this.tiles.values()) tile.audio.play().catch(() => {});
        this.banner.clear();
      },
      { once: true },
    );
  }

  render() {
    const call = this.call;
    const me = call.me;
    if (!me) return;
    const order = [me.id];
    for (const p of call.participants.values()) {
      if (p.id !== me.id && (p.presence === "admitted" || p.presence === "reconnecting")) order.push(p.id);
    }
    for (const [id, tile] of this.tiles) {
      if (!order.includes(id)) {
        tile.root.remove();
        this.tiles.delete(id);
      }
    }
    const nodes = [];
    for (const id of order) {
      const p = call.participants.get(id) || me;
      const tile = this.tile(id);
      const mine = id === me.id;
      if (mine && this.localStream && tile.video.srcObject !== this.localStream) {
        tile.video.srcObject = this.localStream;
        tile.hasVideo = this.localStream.getVideoTracks().length > 0;
        tile.root.classList.add("mine");
      }
      if (!mine) this.syncTracks(id, tile);
      tile.name.textContent = mine ? t("call.you_name", { name: p.name }) : p.name;
      tile.role.textContent = t(`role.${p.role}`);
      const flags = [];
      if (p.audio_muted) flags.push(t("call.mic_muted"));
      if (p.presence === "reconnecting") flags.push(t("call.reconnecting"));
      tile.flags.textContent = flags.join(" · ");
      let placeholder = "";
      if (p.role === "observer") placeholder = t("call.watching");
      else if (p.video_muted) placeholder = t("call.camera_off");
      else if (!tile.hasVideo) placeholder = t("call.no_video");
      tile.placeholder.textContent = placeholder;
      tile.placeholder.hidden = !placeholder;
      tile.video.hidden = Boolean(placeholder);
      tile.root.setAttribute("aria-label", `${tile.name.textContent}, ${tile.role.textContent}`);
      tile.root.dataset.presence = p.presence;
      nodes.push(tile.root);
    }
    this.node.dataset.count = String(nodes.length);
    nodes.forEach((node, index) => {
      if (this.node.children[index] !== node) this.node.insertBefore(node, this.node.children[index] || null);
    });
  }
}

// --- controls ------------------------------------------------------------------------------

/** Mute microphone / camera toggles and the leave button (ids mic, cam, leave under root). */
export class Controls {
  constructor(call, root, { onLeave, onChange } = {}) {
    this.call = call;
    this.mic = root.querySelector("[data-control=mic]");
    this.cam = root.querySelector("[data-control=cam]");
    this.leaveButton = root.querySelector("[data-control=leave]");
    this.onChange = onChange || (() => {});
    this.mic.addEventListener("click", () => this.toggle("audio"));
    this.cam.addEventListener("click", () => this.toggle("video"));
    this.leaveButton.addEventListener("click", () => onLeave && onLeave());
    document.addEventListener("notarylink:lang", () => this.render());
    call.addEventListener("message", () => this.render());
    this.render();
  }

  muted(kind) {
    const stream = this.call.localStream || this.stream;
    if (!stream) return true;
    const tracks = kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks();
    return tracks.length === 0 || tracks.every((track) => !track.enabled);
  }

  setStream(stream) {
    this.stream = stream;
    this.render();
  }

  toggle(kind) {
    const stream = this.call.localStream || this.stream;
    if (!stream) return;
    const next = !this.muted(kind);
    if (this.call.localStream) {
      this.call.setMuted(kind, next);
    } else {
      const tracks = kind === "audio" ? stream.getAudioTracks() : stream.getVideoTracks();
      for (const track of tracks) track.enabled = !next;
    }
    if (this.call.me) this.call.me[kind === "audio" ? "audio_muted" : "video_muted"] = next;
    this.render();
    this.onChange();
  }

  render() {
    const stream = this.call.localStream || this.stream;
    const hasAudio = Boolean(stream && stream.getAudioTracks().length);
    const hasVideo = Boolean(stream && stream.getVideoTracks().length);
    const micOff = this.muted("audio");
    const camOff = this.muted("video");
    this.mic.hidden = !hasAudio;
    this.cam.hidden = !hasVideo;
    this.mic.setAttribute("aria-pressed", String(micOff));
    this.cam.setAttribute("aria-pressed", String(camOff));
    this.mic.textContent = t(micOff ? "control.mic_on" : "control.mic_off");
    this.cam.textContent = t(camOff ? "control.cam_on" : "control.cam_off");
    this.leaveButton.textContent = t("control.leave");
  }
}

// --- network -------------------------------------------------------------------------------

/** The "network: good/fair/poor" indicator for my own link. */
export class NetworkIndicator {
  constructor(call, node) {
    this.node = node;
    this.quality = "unknown";
    call.addEventListener("message", ({ detail: { message } }) => {
      if (message.type === "network" && call.me && message.participant === call.me.id) {
        this.quality = networkQuality(message.stats);
        this.stats = message.stats;
        this.render();
      }
    });
    document.addEventListener("notarylink:lang", () => this.render());
    this.render();
  }

  render() {
    this.node.dataset.quality = this.quality;
    this.node.replaceChildren(
      el("span", { class: "dot", "aria-hidden": "true" }),
      el("span", { text: t("network.label") }),
      el("strong", { text: t(`network.${this.quality}`) }),
    );
    if (this.stats && this.stats.rtt_s != null) {
      this.node.title = `RTT ${Math.round(this.stats.rtt_s * 1000)} ms`;
    }
  }
}

export function formatBitrate(bps) {
  if (bps == null) return "—";
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(1)} Mbit/s`;
  return `${Math.round(bps / 1e3)} kbit/s`;
}

export function formatLoss(fraction) {
  return fraction == null ? "—" : `${(fraction * 100).toFixed(1)}%`;
}

export function formatRtt(seconds) {
  return seconds == null ? "—" : `${Math.round(seconds * 1000)} ms`;
}

export function formatFps(fps) {
  return fps == null ? "—" : fps.toFixed(0);
}

/** Connection status → banner, shared by both pages. */
export function wireConnectionBanner(call, banner) {
  let rejoining = false; // "back" stays up until the media connection is back too
  call.addEventListener("status", ({ detail }) => {
    if (detail.state === "connecting") banner.set("banner.connecting", {}, "info", { busy: true });
    else if (detail.state === "open") banner.clear();
    else if (detail.state === "reconnecting") {
      banner.set("banner.reconnecting", { n: Math.max(1, detail.attempt || 1) }, "warn", { busy: true });
    } else if (detail.state === "back") {
      rejoining = Boolean(call.mediaAllowed);
      banner.set("banner.back", {}, "ok", { hideAfterMs: rejoining ? 0 : 4000 });
    }
  });
  call.addEventListener("media-state", ({ detail }) => {
    if (detail.state === "connecting" || detail.state === "new") {
      if (!rejoining) banner.set("banner.media_connecting", {}, "info", { busy: true });
    } else if (detail.state === "connected") {
      if (rejoining) banner.set("banner.back", {}, "ok", { hideAfterMs: 4000 });
      else if (banner.current && banner.current.key === "banner.media_connecting") banner.clear();
      rejoining = false;
    } else if (detail.state === "failed") {
      rejoining = false;
      banner.set("banner.media_failed", {}, "warn");
    }
  });
}

/** Server `error` events (those not tied to a refusal) → the error banner. */
export function wireErrors(call, banner) {
  call.addEventListener("message", ({ detail: { message } }) => {
    if (message.type === "error") {
      const text = () => t("error.prefix") + errorText(message.code);
      banner.set(null, {}, "error", { raw: text, hideAfterMs: 15000 });
    }
  });
  call.addEventListener("negotiation-error", ({ detail }) => {
    const code = detail.error && detail.error.code ? detail.error.code : "negotiation_failed";
    banner.set(null, {}, "error", { raw: () => t("error.prefix") + errorText(code) });
  });
}

/** Set aria-label from data-i18n-aria keys (i18n.js handles text only). */
export function translateAria(root = document) {
  for (const node of root.querySelectorAll("[data-i18n-aria]")) {
    node.setAttribute("aria-label", NotaryI18n.t(node.dataset.i18nAria));
  }
}

// --- pre-join check (both pages) -----------------------------------------------------------

/**
 * The pre-join check: connection test (open the socket and join) then camera and microphone
 * with a preview and a level meter. Observers skip the devices. Elements by id (see pages).
 */
export class PrejoinCheck {
  constructor(call, { controls, grid, onChange }) {
    this.call = call;
    this.controls = controls;
    this.grid = grid;
    this.onChange = onChange || (() => {});
    this.stream = null;
    this.connected = false;
    this.devicesOk = false;
    this.stopMeter = () => {};
    this.$ = (id) => document.getElementById(id);
    this.$("prejoin-retry").addEventListener("click", () => this.run());
  }

  get ready() {
    return this.connected && this.devicesOk;
  }

  publishes() {
    return !this.call.me || this.call.me.role !== "observer";
  }

  async run() {
    const $ = this.$;
    $("prejoin-retry").hidden = true;
    $("prejoin-continue").disabled = true;
    if (!this.connected) await this.checkConnection();
    if (!this.devicesOk) await this.checkDevices();
    $("prejoin-continue").disabled = !this.ready;
    $("prejoin-retry").hidden = this.ready;
    this.onChange();
    if (this.ready) $("prejoin-continue").focus();
  }

  async checkConnection() {
    const node = this.$("check-connection");
    setCheck(node, "pending");
    if (!this.call.token) {
      setCheck(node, "failed", () => errorText("no_token"));
      return;
    }
    try {
      await this.call.connect();
      this.connected = true;
      setCheck(node, "ok");
    } catch (refusal) {
      this.connected = false;
      const code = (refusal && refusal.code) || "network";
      setCheck(node, "failed", () => errorText(code));
    }
  }

  async checkDevices() {
    const $ = this.$;
    if (!this.publishes()) {
      $("check-devices").hidden = true;
      $("check-level").hidden = true;
      $("preview-box").hidden = true;
      if ($("observer-note")) $("observer-note").hidden = false;
      if ($("prejoin-intro")) {
        $("prejoin-intro").dataset.i18n = "prejoin.intro_observer";
        $("prejoin-intro").textContent = t("prejoin.intro_observer");
      }
      this.devicesOk = true;
      return;
    }
    setCheck($("check-devices"), "pending");
    try {
      this.stopMeter();
      this.stream = await openDevices();
      $("preview").srcObject = this.stream;
      this.stopMeter = levelMeter(this.stream, $("mic-level"));
      this.controls.setStream(this.stream);
      this.grid.setLocal(this.stream);
      this.devicesOk = true;
      setCheck($("check-devices"), "ok");
    } catch (error) {
      this.devicesOk = false;
      const key = error.name === "Unsupported" ? "device.unsupported" : deviceErrorKey(error);
      setCheck($("check-devices"), "failed", () => t(key, { detail: error.message || error.name }));
    }
  }

  /** Done with the check: the meter stops; the stream goes on into the call. */
  finish() {
    this.stopMeter();
    this.stopMeter = () => {};
  }

  release() {
    this.finish();
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
  }
}
