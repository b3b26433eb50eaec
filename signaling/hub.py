"""One live session on this node: the room's rules, its participants' connections and media.

The hub turns protocol messages into room transitions (signaling.rooms), broadcasts the events
they produce, and starts or stops each admitted participant's server-side peer (media).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCConfiguration, RTCSessionDescription
from aiortc.sdp import SessionDescription, candidate_from_sdp

from identity.consent import ConsentError
from identity.id_document import DocumentKind
from identity.liveness import Action, Challenge, LivenessResult
from identity.matcher import IdentityEvent
from media import ForwardedTrack, MediaRoom, NegotiationError, ParticipantPeer
from recorder.session import SessionRecorder
from signaling import protocol
from signaling.connection import CLOSE_ENDED, CLOSE_REPLACED, Connection
from signaling.identity_desk import (
    CONSENT_TEXT_VERSION,
    IdentityDesk,
    LivenessBusy,
    LivenessLimit,
)
from signaling.interview import MESSAGES as RECORD_MESSAGES
from signaling.interview import InterviewDesk, OnConfirmedByAll
from signaling.protocol import Message, ProtocolError
from signaling.ratelimit import RateLimiter
from signaling.rooms import Event, ParticipantRole, Presence, Room, RoomError, SessionState

log = logging.getLogger(__name__)

STATS_INTERVAL = 5.0
CAPTURE_WINDOW_S = 120.0  # an ID photo asked of the applicant or the site officer, this long
IDENTITY_DECISIONS = ("confirmed", "refused", "confirmed_in_person")
CHAINED_EVENTS = frozenset(
    {
        "participant_joined",
        "participant_left",
        "participant_reconnecting",
        "participant_back",
        "participant_removed",
        "mute_state",
        "session_state",
    }
)
TICK_INTERVAL = 1.0


class SessionHub:
    def __init__(
        self,
        room: Room,
        configuration: Callable[[], RTCConfiguration],
        ice_servers: Callable[[str], list[dict[str, Any]]],
        recorder_factory: Callable[[Room], SessionRecorder] | None = None,
        identity: Callable[[SessionHub], IdentityDesk] | None = None,
        on_record_confirmed: OnConfirmedByAll | None = None,
    ) -> None:
        self.room = room
        self.media = MediaRoom(room.id)
        self._configuration = configuration
        self._ice_servers = ice_servers
        self._recorder_factory = recorder_factory
        self.recorder: SessionRecorder | None = None
        self.sealing: asyncio.Task[Any] | None = None  # the recording's seal, after the end
        # A failing media connection is rebuilt, but not in a loop: three a minute at most.
        self._media_restarts = RateLimiter(rate=3 / 60, burst=3, max_keys=8)
        self._restarts: set[asyncio.Task[None]] = set()
        self.identity = identity(self) if identity is not None else None
        self.interview = InterviewDesk(
            room,
            lambda: self.recorder,
            self.send,
            recorded=recorder_factory is not None,
            on_confirmed_by_all=on_record_confirmed,
        )
        self._captures: dict[str, tuple[str, float]] = {}  # participant -> (kind, deadline)
        self._connections: dict[str, Connection] = {}
        self._ticker = asyncio.create_task(self._tick(), name=f"hub-{room.id}")
        self.closed = False

    # --- connections ----------------------------------------------------------------------

    async def attach(self, connection: Connection) -> None:
        """An authenticated connection for one participant; a previous one is replaced."""
        pid = connection.participant_id
        previous = self._connections.get(pid)
        self._connections[pid] = connection
        if previous is not None:
            await previous.close(CLOSE_REPLACED, "opened elsewhere")
        try:
            events = self.room.arrive(pid)
        except RoomError as exc:
            self._connections.pop(pid, None)
            connection.send(protocol.error(exc.code, exc.message))
            await connection.close(CLOSE_ENDED, exc.code)
            return
        participant = self.room.participant(pid)
        connection.send(
            {
                "type": "welcome",
                "v": protocol.VERSION,
                "participant": participant.public(),
                "room": self.room.snapshot()["room"],
                "ice_servers": self._ice_servers(pid),
            }
        )
        self.broadcast(events, exclude=pid)
        self.interview.joined(pid)
        if participant.presence is Presence.ADMITTED:
            await self._start_media(pid)

    async def detach(self, connection: Connection) -> None:
        pid = connection.participant_id
        if self._connections.get(pid) is not connection:
            return  # replaced by a newer connection, which now speaks for the participant
        del self._connections[pid]
        if self.closed:
            return
        self.broadcast(self.room.connection_lost(pid))

    def send(self, participant_id: str, event: Event) -> None:
        connection = self._connections.get(participant_id)
        if connection is not None:
            connection.send(event)

    def broadcast(self, events: list[Event], exclude: str | None = None) -> None:
        for event in events:
            self._chain(event)
            for pid, connection in list(self._connections.items()):
                if pid != exclude:
                    connection.send(event)

    def _chain(self, event: Event) -> None:
        """Room events go into the evidence chain while the session is recorded."""
        if self.recorder is None or event["type"] not in CHAINED_EVENTS:
            return
        body: dict[str, Any] = {}
        participant = event.get("participant")
        if participant is not None:
            body = {"participant": participant["id"], "role": participant["role"]}
            if event["type"] == "mute_state":
                body |= {
                    "audio_muted": participant["audio_muted"],
                    "video_muted": participant["video_muted"],
                    "by": event["by"],
                }
        if "state" in event:
            body["state"] = event["state"]
        self.recorder.event(event["type"], **body)

    # --- messages -------------------------------------------------------------------------

    async def handle(self, connection: Connection, message: Message) -> None:
        pid = connection.participant_id
        try:
            if message.type in RECORD_MESSAGES:
                await self.interview.handle(pid, message, connection.token_id)
                return
            await self._dispatch(pid, message)
        except (RoomError, ProtocolError) as exc:
            connection.send(protocol.error(exc.code, exc.message, message.ref))
        except NegotiationError as exc:
            connection.send(protocol.error("negotiation_failed", str(exc), message.ref))
        except ValueError as exc:  # an SDP or candidate aiortc could not parse
            connection.send(protocol.error("invalid", str(exc)[:200], message.ref))
        except Exception:
            # Whatever a client sends, the room goes on: log it, answer, keep serving.
            log.exception("message failed", extra={"room": self.room.id, "type": message.type})
            connection.send(
                protocol.error("internal", "the message could not be handled", message.ref)
            )

    async def _dispatch(self, pid: str, message: Message) -> None:
        data = message.data
        match message.type:
            case "join":
                raise ProtocolError("already_joined", "this connection has joined already")
            case "ping":
                self.send(pid, {"type": "pong", "ref": message.ref})
            case "offer":
                await self._offer(pid, data["sdp"], message.ref)
            case "candidate":
                await self._candidate(pid, data)
            case "mute":
                target = data.get("participant", pid)
                self.broadcast(
                    self.room.set_muted(pid, target, data.get("audio"), data.get("video"))
                )
            case "consent":
                await self._consent(pid, data)
            case "identity_decision":
                self._identity_decision(pid, data)
            case "liveness_start":
                await self._liveness_start(pid)
            case "id_capture_request":
                self._id_capture_request(pid, data)
            case "admit":
                target = data["participant"]
                self.broadcast(self.room.admit(pid, target))
                await self._start_media(target)
            case "remove":
                target = data["participant"]
                self.broadcast(self.room.remove(pid, target))
                await self._stop_participant(target, "removed")
            case "leave":
                self.broadcast(self.room.leave(pid))
                await self._stop_participant(pid, "left")
            case "start":
                events = self.room.start(pid)
                try:
                    await self._start_recording()
                except Exception as exc:
                    # No recording, no live session: a notarization must be on the record.
                    self.room.state = SessionState.SCHEDULED
                    self.recorder = None
                    log.exception("recording did not start", extra={"room": self.room.id})
                    raise RoomError(
                        "recording_failed", f"the recording could not start ({exc}); try again"
                    ) from exc
                if self.recorder is not None:
                    self.interview.recording_started()
                self.broadcast(events)
            case "end":
                self.broadcast(self.room.end(pid))
                await self.close()

    async def _consent(self, pid: str, data: dict[str, Any]) -> None:
        """Consent to recording and, separately, to face processing (the applicant's own)."""
        participant = self.room.participant(pid)
        face = bool(data["face"])
        if face and participant.role is not ParticipantRole.APPLICANT:
            raise ProtocolError("forbidden", "only the applicant consents to face processing")
        version = str(data.get("text_version") or CONSENT_TEXT_VERSION)
        if not data["recording"]:
            raise ProtocolError(
                "consent_required", "the session is recorded: joining needs that consent"
            )
        if self.recorder is not None:
            self.recorder.event(
                "consent",
                participant=pid,
                recording=bool(data["recording"]),
                face=face,
                text_version=version,
            )
        if self.identity is not None and participant.role is ParticipantRole.APPLICANT:
            if face:
                self.identity.consent(pid, version)
                await self.identify(pid)
            elif await self.identity.withdraw(pid):
                log.info("face consent withdrawn", extra={"participant": pid})
            # The notary sees whether face checks may run (and stop when consent is withdrawn).
            for notary in self._notaries():
                self.send(notary, {"type": "face_consent", "participant": pid, "given": face})
        self.send(pid, {"type": "consent_recorded", "face": face})
        self.broadcast(self.room.ready(pid))

    async def identify(self, pid: str, *, restart: bool = False) -> None:
        """Start the live match when consent, the ID face and the video are all there
        (`restart`: a new ID face replaces the one the running match compares with)."""
        peer = self.media.get(pid)
        if self.identity is not None and peer is not None:
            await self.identity.start(pid, peer, restart=restart)

    def _identity_decision(self, pid: str, data: dict[str, Any]) -> None:
        """The notary's decision on identity is what counts; the scores only inform it."""
        if self.room.participant(pid).role is not ParticipantRole.NOTARY:
            raise ProtocolError("forbidden", "only the notary decides on identity")
        decision = data["decision"]
        if decision not in IDENTITY_DECISIONS:
            raise ProtocolError("invalid", f"decision is one of {', '.join(IDENTITY_DECISIONS)}")
        note = str(data.get("note") or "")[:500]
        if self.recorder is not None:
            self.recorder.event("identity_decision", participant=pid, decision=decision, note=note)
        self.send(pid, {"type": "identity_decision_recorded", "decision": decision})

    def report_identity(self, pid: str, event: IdentityEvent) -> None:
        """A live-match result: to the notary's console and into the evidence chain."""
        record = event.to_record()
        if self.recorder is not None:
            self.recorder.event("identity", participant=pid, result=record)
        message = {"type": "identity", "participant": pid, "result": record}
        for notary in self._notaries():
            self.send(notary, message)

    # --- the ID photo from a camera -------------------------------------------------------

    def _id_capture_request(self, pid: str, data: dict[str, Any]) -> None:
        """The notary asks the applicant (or the site officer, for consulate cases) to hold
        the ID document up and send a full-resolution still from their camera."""
        if self.room.participant(pid).role is not ParticipantRole.NOTARY:
            raise ProtocolError("forbidden", "only the notary asks for the ID photo")
        target = data.get("participant") or next(
            (p.id for p in self.room.participants.values() if p.role is ParticipantRole.APPLICANT),
            None,
        )
        if target is None:
            raise ProtocolError("no_applicant", "this session has no applicant")
        participant = self.room.participant(target)
        capturers = (ParticipantRole.APPLICANT, ParticipantRole.SITE_OFFICER)
        if participant.role not in capturers:
            raise ProtocolError("invalid", "the applicant or the site officer takes the photo")
        if participant.presence is not Presence.ADMITTED:
            raise ProtocolError("not_in_call", "they are not in the call")
        kind = str(data.get("kind") or DocumentKind.PASSPORT.value)
        if kind not in {k.value for k in DocumentKind}:
            raise ProtocolError("invalid", f"unknown document kind {kind[:40]!r}")
        self._captures[target] = (kind, time.monotonic() + CAPTURE_WINDOW_S)
        if self.recorder is not None:
            self.recorder.event("id_capture_requested", participant=target, document=kind, by=pid)
        self.send(target, {"type": "id_capture", "kind": kind, "expires_s": CAPTURE_WINDOW_S})
        self.send(pid, {"type": "id_capture_requested", "participant": target, "kind": kind})

    def capture_request(self, participant_id: str) -> str | None:
        """The document kind asked of this participant, while the request stands."""
        entry = self._captures.get(participant_id)
        if entry is None or entry[1] < time.monotonic():
            self._captures.pop(participant_id, None)
            return None
        return entry[0]

    def capture_done(self, participant_id: str) -> None:
        if self._captures.pop(participant_id, None) is not None:
            self.send(participant_id, {"type": "id_capture_done"})

    def report_id_photo(
        self, applicant_id: str, *, by: str | None, source: str, **outcome: Any
    ) -> None:
        """Tell the notary what became of an ID photo (its face found, or why not)."""
        message = {"type": "id_photo", "participant": applicant_id, "by": by, "source": source}
        for notary in self._notaries():
            self.send(notary, message | outcome)

    # --- liveness -------------------------------------------------------------------------

    def _notaries(self) -> list[str]:
        return [p.id for p in self.room.participants.values() if p.role is ParticipantRole.NOTARY]

    async def _liveness_start(self, pid: str) -> None:
        """The notary asks for a liveness challenge of the applicant (one at a time)."""
        if self.room.participant(pid).role is not ParticipantRole.NOTARY:
            raise ProtocolError("forbidden", "only the notary starts a liveness challenge")
        applicant = next(
            (p for p in self.room.participants.values() if p.role is ParticipantRole.APPLICANT),
            None,
        )
        if applicant is None or self.identity is None:
            raise ProtocolError("no_applicant", "this session has no applicant")
        peer = self.media.get(applicant.id)
        if peer is None or applicant.presence is not Presence.ADMITTED:
            raise ProtocolError("no_video", "the applicant is not in the call")
        try:
            challenge = await self.identity.start_liveness(
                applicant.id,
                peer,
                on_action=lambda c, action, t: self._liveness_progress(applicant.id, c, action, t),
                on_result=lambda result: self._liveness_result(applicant.id, result),
            )
        except ConsentError:
            raise ProtocolError(
                "consent_missing", "the applicant has not consented to face processing"
            ) from None
        except LivenessBusy as exc:
            raise ProtocolError("busy", str(exc)) from None
        except LivenessLimit as exc:
            raise ProtocolError("rate_limited", str(exc)) from None
        except LookupError as exc:
            raise ProtocolError("no_video", str(exc)) from None
        message = {
            "type": "liveness_challenge",
            "participant": applicant.id,
            "challenge": challenge.id,
            "actions": [a.value for a in challenge.actions],
            "prompts": challenge.prompts(),
            "baseline_s": challenge.baseline_s,
            "per_action_s": challenge.per_action_s,
            "total_s": challenge.total_s,
        }
        if self.recorder is not None:
            self.recorder.event(
                "liveness_started",
                participant=applicant.id,
                challenge=challenge.id,
                actions=message["actions"],
                by=pid,
            )
        for target in {applicant.id, *self._notaries()}:
            self.send(target, message)

    def _liveness_progress(
        self, applicant_id: str, challenge: Challenge, action: Action, media_time: float
    ) -> None:
        done = {
            "type": "liveness_progress",
            "participant": applicant_id,
            "challenge": challenge.id,
            "action": action.value,
            "media_time": round(media_time, 3),
        }
        for target in {applicant_id, *self._notaries()}:
            self.send(target, done)

    def _liveness_result(self, applicant_id: str, result: LivenessResult) -> None:
        """To the evidence chain and the notary in full; the applicant learns the outcome."""
        record = result.to_record()
        if self.recorder is not None and not self.closed:
            self.recorder.event("liveness", participant=applicant_id, result=record)
        full = {"type": "liveness_result", "participant": applicant_id, "result": record}
        for notary in self._notaries():
            self.send(notary, full)
        self.send(
            applicant_id,
            {
                "type": "liveness_result",
                "participant": applicant_id,
                "result": result.for_applicant(),
            },
        )

    def _require_peer(self, pid: str) -> ParticipantPeer:
        peer = self.media.get(pid)
        if peer is None or self.room.participant(pid).presence is not Presence.ADMITTED:
            raise ProtocolError("not_admitted", "wait until the notary admits you")
        return peer

    async def _offer(self, pid: str, sdp: str, ref: str | None) -> None:
        peer = self._require_peer(pid)
        if not self.room.participant(pid).role.publishes:
            media = SessionDescription.parse(sdp).media
            if any((m.direction or "sendrecv") in ("sendrecv", "sendonly") for m in media):
                raise ProtocolError("forbidden", "observers only receive")
        answer = await peer.handle_offer(RTCSessionDescription(sdp=sdp, type="offer"))
        self.send(
            pid,
            {"type": "answer", "sdp": answer.sdp, "tracks": self._track_map(peer), "ref": ref},
        )
        await self.identify(pid)  # its video may have just appeared

    @staticmethod
    def _track_map(peer: ParticipantPeer) -> list[dict[str, str]]:
        """Which of the participant's receiving m-lines carries whose audio or video."""
        tracks = []
        for transceiver in peer.pc.getTransceivers():
            track = transceiver.sender.track
            # An unsubscribed m-line keeps its stopped track but carries nothing any more.
            live = transceiver.direction != "inactive"
            if isinstance(track, ForwardedTrack) and transceiver.mid is not None and live:
                tracks.append(
                    {
                        "mid": transceiver.mid,
                        "participant": track.publication.participant_id,
                        "kind": track.kind,
                    }
                )
        return tracks

    async def _candidate(self, pid: str, data: dict[str, Any]) -> None:
        peer = self._require_peer(pid)
        if peer.pc.remoteDescription is None:
            raise ProtocolError("out_of_order", "send the offer before candidates")
        text = data["candidate"]
        if not text:  # end-of-candidates
            return
        candidate = candidate_from_sdp(text.removeprefix("candidate:"))
        candidate.sdpMid = data.get("sdpMid")
        candidate.sdpMLineIndex = data.get("sdpMLineIndex")
        await peer.pc.addIceCandidate(candidate)

    # --- media ----------------------------------------------------------------------------

    async def _start_media(self, pid: str) -> None:
        """A fresh server-side peer for an admitted participant (a rejoin replaces the old)."""
        await self.media.remove(pid)
        peer = ParticipantPeer(
            pid,
            self._configuration(),
            on_negotiation_needed=lambda p: self.send(
                p.participant_id, {"type": "negotiate", "receive": p.receive_slots}
            ),
        )
        self.media.add(peer)
        peer.pc.on("connectionstatechange", lambda: self._watch(pid, peer))
        if self.recorder is not None:
            await self._record(pid, peer)
        self.send(pid, {"type": "admitted", "receive": peer.receive_slots})

    def _watch(self, pid: str, peer: ParticipantPeer) -> None:
        """A media connection that fails (ICE consent lost, network gone) while the participant
        is still with us gets a fresh one: the page answers `admitted` with a new offer."""
        state = peer.pc.connectionState
        if state not in ("failed", "closed") or peer.closed or self.closed:
            return
        if self.media.get(pid) is not peer or pid not in self._connections:
            return  # replaced already, or the participant is away (the grace period handles it)
        if self.room.participant(pid).presence is not Presence.ADMITTED:
            return
        if self.recorder is not None:
            self.recorder.event("media_failed", participant=pid, state=state)
        if not self._media_restarts.allow(pid):
            self.send(pid, protocol.error("media_failed", "the media connection keeps failing"))
            return
        log.warning("media connection %s, restarting it", state, extra={"participant": pid})
        task = asyncio.get_running_loop().create_task(self._start_media(pid))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _start_recording(self) -> None:
        if self._recorder_factory is None or self.recorder is not None:
            return
        self.recorder = self._recorder_factory(self.room)
        await self.recorder.start()
        for participant in self.room.in_call():
            peer = self.media.get(participant.id)
            if peer is not None and not peer.closed:
                await self._record(participant.id, peer)

    async def _record(self, pid: str, peer: ParticipantPeer) -> None:
        """Record the participant's encoded stream (every track, now and later): no decoding."""
        assert self.recorder is not None
        participant = self.room.participant(pid)
        if not participant.role.publishes:
            return
        stream = peer.subscribe_encoded()
        await self.recorder.add_participant(
            pid, participant.role.value, participant.name, stream, stream.request_keyframe
        )

    async def _stop_participant(self, pid: str, reason: str) -> None:
        await self.media.remove(pid)
        connection = self._connections.pop(pid, None)
        if connection is not None:
            connection.send({"type": "bye", "reason": reason})
            await connection.close(CLOSE_ENDED, reason)

    async def _tick(self) -> None:
        since_stats = 0.0
        while True:
            await asyncio.sleep(TICK_INTERVAL)
            try:
                for event in self.room.expire_reconnects():
                    self.broadcast([event])
                    await self.media.remove(event["participant"]["id"])
                since_stats += TICK_INTERVAL
                if since_stats >= STATS_INTERVAL:
                    since_stats = 0.0
                    await self._push_stats()
            except Exception:
                log.exception("hub tick failed", extra={"room": self.room.id})

    async def _push_stats(self) -> None:
        notaries = [
            p.id for p in self.room.participants.values() if p.role is ParticipantRole.NOTARY
        ]
        for peer in self.media.peers:
            if peer.closed or peer.pc.remoteDescription is None:
                continue
            stats = dataclasses.asdict(await peer.network_stats())
            event = {"type": "network", "participant": peer.participant_id, "stats": stats}
            for pid in {peer.participant_id, *notaries}:
                self.send(pid, event)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._ticker
        if self.identity is not None:
            await self.identity.close()  # the template goes with the session
        await self.media.close()  # ends every recorded stream
        if self.recorder is not None:
            # Sealing waits for the last uploads: it runs on, and shutdown awaits it.
            self.sealing = asyncio.create_task(self.recorder.finish(), name=f"seal-{self.room.id}")
        connections = list(self._connections.values())
        self._connections.clear()
        for connection in connections:
            await connection.close(CLOSE_ENDED, "session ended")

    @property
    def ended(self) -> bool:
        return self.room.state is SessionState.ENDED
