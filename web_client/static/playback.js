"use strict";
// Playback of a recorded session for the notary who ran it and the office's supervisors: the
// verifier's verdict, every participant's video side by side on one clock, the event timeline.

NotaryI18n.register("zh-CN", {
  "playback.title": "录像回放",
  "playback.back": "返回工作台",
  "playback.loading": "正在读取录像并核验证据，请稍候…",
  "playback.preparing": "正在准备回放…",
  "playback.preparingSome": "正在准备回放（{done}/{total}）…",
  "playback.noSession": "地址中缺少会话编号（?session=…）。",
  "playback.loginFirst": "请先在公证员工作台登录，再打开回放。",
  "playback.loginAgain": "登录已过期，请在公证员工作台重新登录。",
  "playback.notFound": "找不到该录像，或您无权查看。",
  "playback.forbidden": "您的角色无权查看录像。",
  "playback.unavailable": "证据存储暂时无法访问，请稍后重试。",
  "playback.failed": "读取录像失败：",
  "playback.notSealed": "该录像尚未封存（会话可能仍在进行）。会话结束后再打开回放。",
  "playback.verified": "已核验：证据完整，未被改动",
  "playback.notVerified": "未通过核验：证据不完整或已被改动",
  "playback.summaryOk": "签名有效，{segments} 个录像分段与封存哈希一致。核验时间：{at}",
  "playback.summaryBad": "以下检查未通过（核验时间：{at}）：",
  "playback.allChecks": "全部检查项",
  "playback.videos": "参与人录像",
  "playback.play": "播放",
  "playback.pause": "暂停",
  "playback.seek": "播放位置",
  "playback.notYet": "此时尚未开始录制",
  "playback.over": "该参与人的录像已结束",
  "playback.videoError": "该录像无法播放",
  "playback.note": "回放文件由封存的录像分段无损拼接而成（不重新编码）；证据本身是封存的分段。",
  "playback.timeline": "事件时间线",
  "playback.timelineHelp": "点击事件可跳转到该时刻",
  "playback.case": "案件编号",
  "playback.started": "开始时间",
  "playback.ended": "结束时间",
  "playback.duration": "时长",
  "playback.participants": "参与人",
  "check.manifest": "证据清单",
  "check.signature": "签名",
  "check.timestamp": "可信时间戳",
  "check.chain": "哈希链",
  "check.segments": "录像分段",
  "check.paper_original": "纸质原件",
  "event.recording_started": "开始录制",
  "event.recording_resumed": "恢复录制",
  "event.recording_stopped": "停止录制",
  "event.participant_recorded": "开始录制该参与人",
  "event.participant_joined": "进入会话",
  "event.participant_left": "离开会话",
  "event.participant_reconnecting": "连接中断，正在重连",
  "event.participant_back": "重新连接",
  "event.participant_removed": "被移出会话",
  "event.mute_state": "麦克风或摄像头状态变更",
  "event.session_state": "会话状态变更",
  "event.gap": "录像缺失",
  "state.scheduled": "未开始",
  "state.live": "进行中",
  "state.ended": "已结束",
  "mute.audio_on": "麦克风开",
  "mute.audio_off": "麦克风关",
  "mute.video_on": "摄像头开",
  "mute.video_off": "摄像头关",
  "role.notary": "公证员",
  "role.applicant": "当事人",
  "role.site_officer": "现场核验人员",
  "role.observer": "观察员",
});
NotaryI18n.register("en", {
  "playback.title": "Recording playback",
  "playback.back": "Back to the desk",
  "playback.loading": "Reading the recording and verifying the evidence…",
  "playback.preparing": "Preparing playback…",
  "playback.preparingSome": "Preparing playback ({done}/{total})…",
  "playback.noSession": "The address names no session (?session=…).",
  "playback.loginFirst": "Log in on the notary desk first, then open the playback.",
  "playback.loginAgain": "Your login has expired; log in again on the notary desk.",
  "playback.notFound": "No such recording, or it is not yours to see.",
  "playback.forbidden": "Your role may not see recordings.",
  "playback.unavailable": "The evidence store does not answer; try again shortly.",
  "playback.failed": "The recording could not be read: ",
  "playback.notSealed": "This recording is not sealed yet (the session may still be running). Open the playback after it ends.",
  "playback.verified": "Verified: the evidence is complete and unaltered",
  "playback.notVerified": "Not verified: the evidence is incomplete or altered",
  "playback.summaryOk": "Signature valid; {segments} recorded segments match their sealed hashes. Checked {at}",
  "playback.summaryBad": "These checks failed (checked {at}):",
  "playback.allChecks": "All checks",
  "playback.videos": "Participants' recordings",
  "playback.play": "Play",
  "playback.pause": "Pause",
  "playback.seek": "Position",
  "playback.notYet": "Not recorded yet at this time",
  "playback.over": "This participant's recording has ended",
  "playback.videoError": "This recording cannot be played",
  "playback.note": "The playback files are the sealed segments joined without re-encoding; the sealed segments are the evidence.",
  "playback.timeline": "Event timeline",
  "playback.timelineHelp": "Click an event to go to that moment",
  "playback.case": "Case number",
  "playback.started": "Started",
  "playback.ended": "Ended",
  "playback.duration": "Duration",
  "playback.participants": "Participants",
  "check.manifest": "Manifest",
  "check.signature": "Signature",
  "check.timestamp": "Timestamp",
  "check.chain": "Hash chain",
  "check.segments": "Segments",
  "check.paper_original": "Paper original",
  "event.recording_started": "Recording started",
  "event.recording_resumed": "Recording resumed",
  "event.recording_stopped": "Recording stopped",
  "event.participant_recorded": "Participant's recording began",
  "event.participant_joined": "Joined",
  "event.participant_left": "Left",
  "event.participant_reconnecting": "Connection lost, reconnecting",
  "event.participant_back": "Reconnected",
  "event.participant_removed": "Removed from the session",
  "event.mute_state": "Microphone or camera changed",
  "event.session_state": "Session state changed",
  "event.gap": "Gap in the recording",
  "state.scheduled": "scheduled",
  "state.live": "live",
  "state.ended": "ended",
  "mute.audio_on": "microphone on",
  "mute.audio_off": "microphone off",
  "mute.video_on": "camera on",
  "mute.video_off": "camera off",
  "role.notary": "Notary",
  "role.applicant": "Applicant",
  "role.site_officer": "Site officer",
  "role.observer": "Observer",
});

const t = (key, values = {}) =>
  NotaryI18n.t(key).replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
const $ = (id) => document.getElementById(id);

const SYNC_INTERVAL_MS = 500;
const MAX_DRIFT_S = 0.15;

const sessionId = new URLSearchParams(location.search).get("session") || "";
const token = sessionStorage.getItem("notarylink.staffToken");
let recording = null;
let players = [];

// --- small helpers ------------------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function say(text, kind = "info", busy = false) {
  const box = $("message");
  box.hidden = !text;
  box.className = `banner ${kind}`;
  box.replaceChildren(...(busy ? [el("span", { className: "spinner" })] : []), text || "");
}

function clockText(seconds) {
  const s = Math.max(0, Math.floor(seconds || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

function when(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(NotaryI18n.lang, { hour12: false });
}

function roleName(role) {
  const key = `role.${role}`;
  const known = NotaryI18n.t(key);
  return known === key ? role || "" : known;
}

function personLabel(id) {
  const person = recording && recording.participants.find((p) => p.id === id);
  if (!person) return id || "—";
  return `${person.name || person.id} · ${roleName(person.role)}`;
}

// --- the master clock: one position for the whole session, every video follows it ----------
//
// While a video covers the position, the clock is that video (the "master": the one in range
// that has been master longest, else the longest recording), so a master that buffers holds the
// clock instead of being left behind. Between recordings the wall clock carries it. The other
// videos are corrected towards it every half second.

const clock = {
  base: 0, // session seconds at `since`
  since: 0, // performance.now() when `base` was taken
  playing: false,
  duration: 0,
  master: null,
  wall() {
    const t = this.playing ? this.base + (performance.now() - this.since) / 1000 : this.base;
    return Math.min(Math.max(t, 0), this.duration);
  },
  set(position) {
    this.base = Math.min(Math.max(position, 0), this.duration);
    this.since = performance.now();
  },
  now() {
    if (!this.playing) return this.base;
    const master = this.master;
    if (master && localTime(master, this.wall()) !== null && !master.video.seeking) {
      this.set(master.offset + master.video.currentTime); // re-based: the wall clock continues
    }
    return this.wall();
  },
};

function videoEnd(player) {
  const d = player.video.duration;
  return Number.isFinite(d) && d > 0 ? d : player.duration;
}

// The video's own time for a session position; null outside its recording.
function localTime(player, position) {
  const local = position - player.offset;
  if (local < 0 || local >= videoEnd(player) - 0.05) return null;
  return local;
}

function usable(player) {
  return player.ready && !player.failed;
}

function chooseMaster(position) {
  const current = clock.master;
  if (current && usable(current) && localTime(current, position) !== null) return current;
  const candidates = players.filter((p) => usable(p) && localTime(p, position) !== null);
  candidates.sort((a, b) => videoEnd(b) - videoEnd(a));
  return candidates[0] || null;
}

function seekVideo(player, position) {
  const local = localTime(player, position);
  const target = local === null ? (position < player.offset ? 0 : videoEnd(player)) : local;
  if (player.ready && Math.abs(player.video.currentTime - target) > 0.01) {
    player.video.currentTime = target;
  }
}

function syncVideos() {
  let position = clock.now();
  if (clock.playing && position >= clock.duration - 0.05) {
    pause(); // the end of the session
    position = clock.now();
  }
  clock.master = chooseMaster(position);
  for (const player of players) {
    if (!usable(player)) continue;
    const local = localTime(player, position);
    player.overlay.textContent =
      local !== null ? "" : position < player.offset ? t("playback.notYet") : t("playback.over");
    if (local === null) {
      if (!player.video.paused) player.video.pause();
      seekVideo(player, position);
      continue;
    }
    if (player !== clock.master && Math.abs(player.video.currentTime - local) > MAX_DRIFT_S) {
      player.video.currentTime = local; // drift correction
    }
    if (clock.playing && player.video.paused) player.video.play().catch(() => {});
    if (!clock.playing && !player.video.paused) player.video.pause();
  }
}

function play() {
  if (clock.base >= clock.duration - 0.05) clock.set(0);
  clock.set(clock.base);
  clock.playing = true;
  clock.master = chooseMaster(clock.base);
  // Started from the click itself: browsers allow sound only from a person's gesture.
  for (const player of players) {
    const local = usable(player) ? localTime(player, clock.base) : null;
    if (local !== null) {
      player.video.currentTime = local;
      player.video.play().catch(() => {});
    }
  }
  showTransport();
}

function pause() {
  clock.set(clock.now());
  clock.playing = false;
  for (const player of players) {
    player.video.pause();
    seekVideo(player, clock.base); // every video shows the same moment
  }
  showTransport();
}

function seek(position) {
  clock.set(position);
  clock.master = chooseMaster(clock.base);
  for (const player of players) seekVideo(player, clock.base);
  syncVideos();
  showTransport();
}

function showTransport() {
  const position = clock.now();
  $("play").textContent = clock.playing ? t("playback.pause") : t("playback.play");
  $("play").setAttribute("aria-pressed", String(clock.playing));
  if (document.activeElement !== $("seek")) $("seek").value = String(position);
  $("time").textContent = `${clockText(position)} / ${clockText(clock.duration)}`;
  let current = null;
  for (const item of $("timeline").children) {
    if (Number(item.dataset.offset) <= position + 0.25) current = item;
    item.dataset.current = "false";
  }
  if (current) current.dataset.current = "true";
}

function tick() {
  showTransport();
  requestAnimationFrame(tick);
}

// --- building the page --------------------------------------------------------------------

function showVerdict(verdict) {
  const box = $("verdict");
  box.hidden = false;
  box.dataset.ok = String(Boolean(verdict.ok));
  $("verdict-text").textContent = verdict.ok ? t("playback.verified") : t("playback.notVerified");
  const at = verdict.checked_at ? when(new Date(verdict.checked_at * 1000).toISOString()) : "—";
  const segments = recording.participants.reduce((n, p) => n + p.segments.length, 0);
  $("verdict-summary").textContent = verdict.ok
    ? t("playback.summaryOk", { segments, at })
    : t("playback.summaryBad", { at });
  const checkName = (name) => {
    const key = `check.${name}`;
    return NotaryI18n.t(key) === key ? name : NotaryI18n.t(key);
  };
  $("verdict-failures").replaceChildren(
    ...verdict.checks
      .filter((c) => !c.ok)
      .map((c) => el("li", { dataset: { check: c.name } }, el("strong", {}, checkName(c.name)), "：", c.message)),
  );
  $("verdict-checks").replaceChildren(
    ...verdict.checks.map((c) =>
      el(
        "li",
        { dataset: { ok: String(c.ok) } },
        el("span", { className: "check-name" }, `${c.ok ? "✓" : "✗"} ${checkName(c.name)}`),
        c.message,
      ),
    ),
  );
}

function showFacts() {
  const s = recording.session;
  const facts = [
    ["playback.case", s.case_ref],
    ["playback.started", when(s.started_at)],
    ["playback.ended", when(s.ended_at)],
    ["playback.duration", clockText(s.duration)],
    [
      "playback.participants",
      recording.participants.map((p) => personLabel(p.id)).join(NotaryI18n.lang === "en" ? "; " : "；"),
    ],
  ];
  $("facts").replaceChildren(
    ...facts.map(([key, value]) => el("div", {}, el("dt", {}, t(key)), el("dd", {}, value || "—"))),
  );
  $("session-title").textContent = s.title || "";
  document.title = `${t("playback.title")} · ${s.title || s.id} · NotaryLink`;
}

function eventDetail(event) {
  const d = event.details || {};
  if (event.type === "session_state" && d.state) return t(`state.${d.state}`);
  if (event.type === "mute_state") {
    const parts = [];
    if ("audio_muted" in d) parts.push(t(d.audio_muted ? "mute.audio_off" : "mute.audio_on"));
    if ("video_muted" in d) parts.push(t(d.video_muted ? "mute.video_off" : "mute.video_on"));
    return parts.join(" · ");
  }
  if (event.type === "gap") return d.reason || "";
  return "";
}

function showTimeline() {
  const items = recording.events.map((event) => {
    const key = `event.${event.type}`;
    const words = NotaryI18n.t(key) === key ? event.type : NotaryI18n.t(key);
    const detail = eventDetail(event);
    const button = el(
      "button",
      { type: "button", title: t("playback.timelineHelp") },
      el("span", { className: "at" }, clockText(event.offset)),
      el("span", { className: "what" }, words, detail ? el("small", {}, detail) : null),
      el("span", { className: "by" }, event.participant ? personLabel(event.participant) : ""),
    );
    button.addEventListener("click", () => seek(event.offset || 0));
    return el(
      "li",
      { dataset: { type: event.type, offset: String(event.offset || 0), seq: String(event.seq) } },
      button,
    );
  });
  $("timeline").replaceChildren(...items);
  $("timeline-section").hidden = items.length === 0;
}

function updatePreparing() {
  const total = players.length;
  const done = players.filter((p) => p.ready || p.failed).length;
  const box = $("preparing");
  if (done >= total) {
    box.replaceChildren();
    $("play").disabled = false;
    $("seek").disabled = false;
    return;
  }
  box.replaceChildren(
    el("span", { className: "spinner" }),
    total > 1 ? t("playback.preparingSome", { done, total }) : t("playback.preparing"),
  );
}

function makePlayer(person) {
  const video = el("video", { preload: "auto", playsInline: true });
  video.setAttribute("aria-label", personLabel(person.id));
  const overlay = el("div", { className: "overlay" });
  overlay.append(el("span", { className: "spinner" }), t("playback.preparing"));
  const tile = el(
    "figure",
    { className: "tile", dataset: { participant: person.id } },
    video,
    overlay,
    el(
      "figcaption",
      {},
      el("span", { className: "name" }, person.name || person.id),
      el("span", { className: "role" }, roleName(person.role)),
    ),
  );
  const player = {
    id: person.id,
    video,
    overlay,
    tile,
    offset: person.start_offset || 0,
    duration: person.duration || 0,
    ready: false,
    failed: false,
    refreshedAt: 0,
  };
  video.addEventListener("loadeddata", () => {
    if (!player.ready) {
      player.ready = true;
      overlay.replaceChildren();
      seekVideo(player, clock.now());
      updatePreparing();
    }
  });
  video.addEventListener("error", () => refreshOrFail(player));
  video.src = person.playback_url;
  return player;
}

// Media links live 10 minutes; when one has expired (or the network failed) fetch fresh links
// once and carry on where we were.
async function refreshOrFail(player) {
  const now = Date.now();
  if (now - player.refreshedAt > 30_000) {
    player.refreshedAt = now;
    try {
      const fresh = await fetchRecording();
      const person = fresh.participants.find((p) => p.id === player.id);
      if (person && person.playback_url) {
        player.ready = false;
        player.video.src = person.playback_url;
        return;
      }
    } catch (error) {
      // fall through: this video is shown as failed
    }
  }
  player.failed = true;
  player.overlay.replaceChildren(t("playback.videoError"));
  updatePreparing();
}

async function fetchRecording() {
  const response = await fetch(`/api/recordings/${encodeURIComponent(sessionId)}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error("request failed"), { status: response.status, body: data });
  return data;
}

function explain(error) {
  const code = error.body && error.body.error && error.body.error.code;
  if (error.status === 401) {
    if (code === "token_expired" || code === "token_invalid") sessionStorage.removeItem("notarylink.staffToken");
    return t("playback.loginAgain");
  }
  if (error.status === 403) return t("playback.forbidden");
  if (error.status === 404 || error.status === 400) return t("playback.notFound");
  if (error.status === 503) return t("playback.unavailable");
  const message = error.body && error.body.error ? error.body.error.message : String(error.message || error);
  return t("playback.failed") + message;
}

function render() {
  showFacts();
  showVerdict(recording.verdict);
  showTimeline();
  showTransport();
}

async function start() {
  NotaryI18n.apply();
  if (!sessionId) return say(t("playback.noSession"), "error");
  if (!token) return say(t("playback.loginFirst"), "error");
  say(t("playback.loading"), "info", true);
  try {
    recording = await fetchRecording();
  } catch (error) {
    return say(explain(error), "error");
  }
  say("");
  if (!recording.sealed) {
    $("session-title").textContent = sessionId;
    return say(t("playback.notSealed"), "warn");
  }
  clock.duration = Math.max(
    recording.session.duration || 0,
    ...recording.participants.map((p) => (p.start_offset || 0) + (p.duration || 0)),
  );
  $("seek").max = String(clock.duration);
  $("seek").setAttribute("aria-label", t("playback.seek"));
  render();
  players = recording.participants.filter((p) => p.playback_url).map(makePlayer);
  const grid = $("videos");
  grid.dataset.count = String(players.length);
  grid.replaceChildren(...players.map((p) => p.tile));
  $("player").hidden = false;
  updatePreparing();
  $("play").addEventListener("click", () => (clock.playing ? pause() : play()));
  $("seek").addEventListener("input", () => seek(Number($("seek").value)));
  setInterval(syncVideos, SYNC_INTERVAL_MS);
  requestAnimationFrame(tick);
}

document.addEventListener("notarylink:lang", () => {
  if (recording && recording.sealed) {
    render();
    for (const player of players) {
      const person = recording.participants.find((p) => p.id === player.id);
      player.video.setAttribute("aria-label", personLabel(player.id));
      player.tile.querySelector(".role").textContent = roleName(person && person.role);
      if (!player.ready && !player.failed) {
        player.overlay.replaceChildren(el("span", { className: "spinner" }), t("playback.preparing"));
      }
    }
    updatePreparing();
  }
});

// For tests and the curious: the clock and the videos.
window.notarylinkPlayback = {
  clock: () => clock.now(),
  get playing() { return clock.playing; },
  get duration() { return clock.duration; },
  get players() { return players; },
  seek,
  play,
  pause,
};

start();
