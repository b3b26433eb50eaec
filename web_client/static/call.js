// The live-session core shared by session.html and console.html: the WebSocket of protocol v1
// (docs/protocol.md), reconnection with backoff, and the one RTCPeerConnection to the server.
// No UI here: the pages listen to the events this object dispatches.
//
// Events (CustomEvent, detail in brackets):
//   status      {state: "connecting" | "open" | "reconnecting" | "back" | "closed", attempt?}
//   message     {message}                    every server message, after the call's own handling
//   welcome     {message, rejoin}            after join; rejoin is true on a reconnect
//   refused     {code, message}              the server refused the join (no reconnect)
//   closed      {code, reason}               the socket closed for good (ended, removed, replaced)
//   remote      {participant, kind, track}   a participant's track is now on a receiving m-line
//   media-state {state}                      the RTCPeerConnection's connectionState
//   negotiation-error {error}
"use strict";

const PROTOCOL_VERSION = 1;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000];
const ICE_GATHERING_TIMEOUT_MS = 5000;
// Close codes after which reconnecting is wrong (docs/protocol.md, "Close codes").
const CLOSE_REFUSED = 1008;
const CLOSE_REPLACED = 4000;
const CLOSE_ENDED = 4002;

/** The join token from the URL fragment (#token=…); it is never sent in a query string. */
export function tokenFromFragment(hash = location.hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  return params.get("token") || "";
}

/** good / fair / poor from a `network` event's stats (rtt in seconds, loss as a fraction). */
export function networkQuality(stats) {
  if (!stats) return "unknown";
  const rtt = stats.rtt_s;
  const loss = Math.max(stats.inbound_loss ?? 0, stats.outbound_loss ?? 0);
  if (rtt == null && stats.inbound_loss == null && stats.outbound_loss == null) return "unknown";
  if ((rtt ?? 0) > 0.4 || loss > 0.08) return "poor";
  if ((rtt ?? 0) > 0.15 || loss > 0.02) return "fair";
  return "good";
}

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

export class NotaryCall extends EventTarget {
  constructor(token) {
    super();
    this.token = token;
    this.ws = null;
    this.pc = null;
    this.me = null; // the participant, as the server describes it
    this.room = null; // {id, title, state}
    this.participants = new Map(); // id -> public participant
    this.iceServers = [];
    this.localStream = null;
    this.mediaAllowed = false; // the page holds media back until consent / "enter"
    this.pendingAdmit = null; // an `admitted` that came before mediaAllowed
    this.tracks = new Map(); // mid -> {participant, kind}
    this.remoteTracks = new Map(); // participant -> {audio, video} (MediaStreamTrack)
    this.lastNetwork = new Map(); // participant -> stats
    this._attempt = 0;
    this._everWelcomed = false;
    this._stopped = false;
    this._reconnectTimer = null;
    this._pcGeneration = 0;
    this._receiveQueue = [];
    this._negotiating = false;
    this._offerSeq = 0;
    this._firstOffer = false;
    this._answerWaiters = new Map(); // ref -> {resolve, reject}
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // --- the socket --------------------------------------------------------------------------

  /** Open the socket and join; resolves with `welcome`, rejects with the refusal. */
  connect() {
    this._stopped = false;
    return new Promise((resolve, reject) => {
      this._open(resolve, reject);
    });
  }

  _open(resolve, reject) {
    clearTimeout(this._reconnectTimer);
    const rejoin = this._everWelcomed;
    this.emit("status", { state: rejoin ? "reconnecting" : "connecting", attempt: this._attempt });
    let ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch (error) {
      reject?.({ code: "network", message: String(error) });
      return;
    }
    this.ws = ws;
    let welcomed = false;
    let refusal = null;
    ws.addEventListener("open", () => {
      const join = { type: "join", token: this.token, v: PROTOCOL_VERSION };
      // A link the case page asked for is bound to the applicant's account: its session token
      // (this tab's, kept by the case page) proves it is theirs.
      const account = sessionStorage.getItem("notarylink.mineToken");
      if (account) join.account_token = account;
      ws.send(JSON.stringify(join));
    });
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!welcomed && message.type === "error") {
        refusal = { code: message.code, message: message.message };
        return;
      }
      if (message.type === "welcome") {
        welcomed = true;
        this._attempt = 0;
        this._everWelcomed = true;
        this._welcome(message);
        if (rejoin) this.emit("status", { state: "back" });
        else this.emit("status", { state: "open" });
        this.emit("welcome", { message, rejoin });
        resolve?.(message);
        resolve = reject = null;
        return;
      }
      this._handle(message);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return; // an older socket, already replaced
      this.ws = null;
      if (refusal || event.code === CLOSE_REFUSED) {
        const detail = refusal || { code: "refused", message: event.reason };
        this._stopped = true;
        this.emit("refused", detail);
        reject?.(detail);
        return;
      }
      if (this._stopped || event.code === CLOSE_ENDED || event.code === CLOSE_REPLACED) {
        this._stopped = true;
        this.closeMedia();
        this.emit("closed", { code: event.code, reason: event.reason });
        this.emit("status", { state: "closed" });
        reject?.({ code: "closed", message: event.reason });
        return;
      }
      if (!this._everWelcomed) {
        // The first connection failed outright: let the page offer "try again".
        reject?.({ code: "network", message: `WebSocket closed (${event.code})` });
        return;
      }
      this._scheduleReconnect();
    });
  }

  _scheduleReconnect() {
    const delay = BACKOFF_MS[Math.min(this._attempt, BACKOFF_MS.length - 1)];
    this._attempt += 1;
    this.emit("status", { state: "reconnecting", attempt: this._attempt, delay });
    this._reconnectTimer = setTimeout(() => this._open(null, null), delay * (0.8 + Math.random() * 0.4));
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }

  /** Leave on purpose: `leave`, then close everything; no reconnect. */
  leave() {
    this.send({ type: "leave" });
    this.stop();
  }

  stop() {
    this._stopped = true;
    clearTimeout(this._reconnectTimer);
    this.closeMedia();
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "bye");
  }

  // --- room state --------------------------------------------------------------------------

  _welcome(message) {
    this.me = message.participant;
    this.room = { id: message.room.id, title: message.room.title, state: message.room.state };
    this.participants = new Map(message.room.participants.map((p) => [p.id, p]));
    this.participants.set(this.me.id, this.me);
    this.iceServers = message.ice_servers || [];
  }

  /** The lobby, first come first: the server stamps when each one entered it. */
  waitingInOrder() {
    return [...this.participants.values()]
      .filter((p) => p.presence === "waiting")
      .sort((a, b) => (a.waiting_since ?? 0) - (b.waiting_since ?? 0));
  }

  _remember(participant) {
    if (!participant) return;
    this.participants.set(participant.id, participant);
    if (this.me && participant.id === this.me.id) this.me = participant;
  }

  _handle(message) {
    switch (message.type) {
      case "admitted":
        if (this.mediaAllowed) this._startMedia(message.receive || []);
        else this.pendingAdmit = message;
        break;
      case "negotiate":
        if (this.pc) this._queueReceive(message.receive || []);
        break;
      case "answer": {
        const waiter = this._answerWaiters.get(message.ref);
        if (waiter) waiter.resolve(message);
        break;
      }
      case "error": {
        const waiter = message.ref && this._answerWaiters.get(message.ref);
        if (waiter) waiter.reject(message);
        break;
      }
      case "lobby":
      case "participant_joined":
      case "participant_reconnecting":
      case "participant_back":
      case "participant_left":
      case "participant_removed":
      case "mute_state":
        this._remember(message.participant);
        if (message.type === "mute_state" && this.me && message.participant.id === this.me.id) {
          this._applyLocalMute(message.participant);
        }
        if (message.type === "participant_left" || message.type === "participant_removed") {
          this.remoteTracks.delete(message.participant.id);
        }
        break;
      case "session_state":
        if (this.room) this.room.state = message.state;
        break;
      case "network":
        this.lastNetwork.set(message.participant, message.stats);
        break;
      case "bye":
        this._stopped = true;
        break;
      default:
        break;
    }
    this.emit("message", { message });
  }

  // --- media -------------------------------------------------------------------------------

  /** The page says media may flow now (consent given, or the notary entered). */
  allowMedia(localStream) {
    this.localStream = localStream || null;
    this.mediaAllowed = true;
    if (this.pendingAdmit) {
      const admitted = this.pendingAdmit;
      this.pendingAdmit = null;
      this._startMedia(admitted.receive || []);
    }
  }

  closeMedia() {
    this._pcGeneration += 1;
    for (const waiter of this._answerWaiters.values()) waiter.reject({ code: "superseded" });
    this._answerWaiters.clear();
    this._receiveQueue = [];
    this._negotiating = false;
    this.tracks.clear();
    this.remoteTracks.clear();
    if (this.pc) {
      this.pc.close();
      this.pc = null;
      this.emit("media-state", { state: "closed" });
    }
  }

  _startMedia(receive) {
    // Every `admitted` means a fresh server-side peer (first admission or a rejoin).
    this.closeMedia();
    const generation = this._pcGeneration;
    const pc = new RTCPeerConnection({ iceServers: this.iceServers, bundlePolicy: "max-bundle" });
    this.pc = pc;
    pc.addEventListener("track", (event) => {
      if (this._pcGeneration === generation) this._attach(event.transceiver);
    });
    pc.addEventListener("connectionstatechange", () => {
      if (this._pcGeneration === generation) this.emit("media-state", { state: pc.connectionState });
    });
    const publishes = this.me && this.me.role !== "observer";
    if (publishes && this.localStream) {
      for (const track of this.localStream.getTracks()) {
        pc.addTransceiver(track, { direction: "sendonly", streams: [this.localStream] });
      }
    }
    this._queueReceive(receive, true);
    // Muted before the call (pre-join or lobby): tell the server now that it listens.
    if (this.localStream) {
      const audioOff = this.localStream.getAudioTracks().some((t) => !t.enabled);
      const videoOff = this.localStream.getVideoTracks().some((t) => !t.enabled);
      if (audioOff !== Boolean(this.me?.audio_muted) || videoOff !== Boolean(this.me?.video_muted)) {
        this.send({ type: "mute", audio: audioOff, video: videoOff });
      }
    }
  }

  _applyLocalMute(participant) {
    if (!this.localStream) return;
    for (const track of this.localStream.getAudioTracks()) track.enabled = !participant.audio_muted;
    for (const track of this.localStream.getVideoTracks()) track.enabled = !participant.video_muted;
  }

  _queueReceive(receive, first = false) {
    this._receiveQueue.push(...receive);
    if (first) this._firstOffer = true;
    this._negotiate();
  }

  async _negotiate() {
    if (this._negotiating || !this.pc) return;
    this._negotiating = true;
    const generation = this._pcGeneration;
    try {
      while (this.pc && this._pcGeneration === generation && (this._receiveQueue.length || this._firstOffer)) {
        const kinds = this._receiveQueue.splice(0);
        this._firstOffer = false;
        await this._offerOnce(this.pc, kinds, generation);
      }
    } catch (error) {
      if (error && error.code !== "superseded" && this._pcGeneration === generation) {
        this.emit("negotiation-error", { error });
      }
    } finally {
      if (this._pcGeneration === generation) this._negotiating = false;
    }
  }

  async _offerOnce(pc, kinds, generation) {
    for (const kind of kinds) pc.addTransceiver(kind, { direction: "recvonly" });
    if (pc.getTransceivers().length === 0) {
      // Nothing to publish or receive yet (an observer before anyone publishes): one placeholder
      // m-line, answered inactive, so the server has a description and can ask us again later.
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    await pc.setLocalDescription(await pc.createOffer());
    await waitForIceGathering(pc);
    if (this._pcGeneration !== generation) throw { code: "superseded" };
    this._offerSeq += 1;
    const ref = `offer-${generation}-${this._offerSeq}`;
    const answered = new Promise((resolve, reject) => this._answerWaiters.set(ref, { resolve, reject }));
    if (!this.send({ type: "offer", sdp: pc.localDescription.sdp, ref })) {
      this._answerWaiters.delete(ref);
      throw { code: "superseded" };
    }
    let answer;
    try {
      answer = await answered;
    } finally {
      this._answerWaiters.delete(ref);
    }
    if (this._pcGeneration !== generation) throw { code: "superseded" };
    // Map first: `track` events fire inside setRemoteDescription.
    for (const entry of answer.tracks || []) {
      this.tracks.set(entry.mid, { participant: entry.participant, kind: entry.kind });
    }
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    this._remapAll();
  }

  _attach(transceiver) {
    const mid = transceiver.mid;
    const owner = mid != null ? this.tracks.get(mid) : null;
    const track = transceiver.receiver.track;
    if (!owner || !track) return false;
    const direction = transceiver.currentDirection;
    if (direction && direction !== "recvonly" && direction !== "sendrecv") return false;
    const slots = this.remoteTracks.get(owner.participant) || {};
    if (slots[owner.kind] === track) return true;
    slots[owner.kind] = track;
    this.remoteTracks.set(owner.participant, slots);
    this.emit("remote", { participant: owner.participant, kind: owner.kind, track });
    return true;
  }

  /** After every answer: each live receiving m-line to its participant (later mids win). */
  _remapAll() {
    if (!this.pc) return;
    for (const transceiver of this.pc.getTransceivers()) this._attach(transceiver);
  }

  // --- controls ----------------------------------------------------------------------------

  /** Mute or unmute my own microphone or camera: the local track and the server's state. */
  setMuted(kind, muted) {
    if (this.localStream) {
      const tracks = kind === "audio" ? this.localStream.getAudioTracks() : this.localStream.getVideoTracks();
      for (const track of tracks) track.enabled = !muted;
    }
    if (this.me && this.me.presence === "admitted") {
      this.send({ type: "mute", [kind]: muted });
    }
  }
}

function waitForIceGathering(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    // Loopback and LAN gather in milliseconds; a slow STUN/TURN server must not hang the call.
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    }, ICE_GATHERING_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", done);
  });
}
