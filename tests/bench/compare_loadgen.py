"""The load generator of issue 8's comparison: `python -m tests.bench.compare_loadgen SPEC.json`.

Like tests/bench/loadgen.py (the same line protocol with the orchestrator: READY, START/STARTED,
STOP/RESULT), for four targets: ours and the naive server through protocol v1 (the benchmark's
BenchParticipant), Janus's VideoRoom through its HTTP API (tests/bench/janus_client.py), and no
server at all ("direct": the two parties' peer connections connected to each other). Each party
plays the file from memory (tests/bench/paced_source.py); each published track is stamped as it
leaves its source, and each received frame is matched to its stamp at the RTP level
(tests/bench/rtp_probe.py, tests/bench/latency.py), which gives capture-to-receipt latency and
frame loss per stream besides the frame rates. Nothing is decoded or reassembled.

Ours records when the notary starts the session (`start`), so with `record` the notary sends it
once the applicant is admitted, as a notary does in the console.

With `face` (compare --face) the applicant plays `face_source` (a real face,
tests/bench/face_source.py) instead of the synthetic source, consents to face processing, and
for ours the notary hands in the applicant's ID photo (`id_photo`) through the REST API, as the
console does, so that the server matches the applicant's live face in every session. The notary
counts the identity events the server pushes to it over the WebSocket during the window.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aioice.ice
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver

from tests.bench.client import BenchParticipant, Counts
from tests.bench.face_source import FaceFile
from tests.bench.janus_client import JanusParticipant
from tests.bench.latency import (
    LOSS_GRACE_S,
    FrameKey,
    StampedTrack,
    StreamProbe,
    WindowStats,
    summarize_ms,
)
from tests.bench.loopback import allow_loopback_ice, rtc_configuration
from tests.bench.paced_source import EncodedFile, PacedParticipant
from tests.bench.rtp_probe import RtpProbe

log = logging.getLogger("bench.compare_loadgen")

FLOWING_FRAMES = 30  # video frames each party must have received before measuring
KINDS = ("audio", "video")


class Party:
    """One participant: what it publishes (stamped) and what it receives (counted, matched)."""

    def __init__(self, name: str, player: PacedParticipant) -> None:
        self.name = name
        self.player = player
        self.probes = {kind: StreamProbe(kind) for kind in KINDS}  # its own published streams
        self.tracks: list[MediaStreamTrack] = [
            StampedTrack(player.audio, self.probes["audio"]),
            StampedTrack(player.video, self.probes["video"]),
        ]
        self.received: dict[str, Counts] = {kind: Counts() for kind in KINDS}
        self.peer: Party | None = None  # whose streams it receives
        self.taps: list[RtpProbe] = []
        self.start: dict[str, Counts] = {}
        self.end: dict[str, Counts] = {}
        self.window: dict[str, WindowStats] = {}  # the peer's streams, as this party got them

    def tap(self, kind: str, receiver: RTCRtpReceiver) -> None:
        counts = self.received[kind]

        def on_frame(key: FrameKey | None, size: int, keyframe: bool) -> None:
            counts.frames += 1
            counts.bytes += size
            counts.keyframes += keyframe
            if self.peer is not None and key is not None:
                self.peer.probes[kind].on_received(key)

        # At the RTP level: counted, matched, dropped; nothing reassembled or decoded.
        self.taps.append(RtpProbe(receiver, kind, on_frame))

    def frames(self, kind: str) -> int:
        return self.received[kind].frames


class TimedParticipant(BenchParticipant):
    """BenchParticipant (protocol v1), whose received tracks go to a Party's taps."""

    def __init__(self, http: aiohttp.ClientSession, ws_url: str, token: str, party: Party) -> None:
        super().__init__(http, ws_url, token, party.tracks, party.name)
        self.party = party
        self.received = party.received  # frames() and the flow checks read the party's counts
        self.pc.remove_all_listeners("track")
        self.pc.on("track", self._timed_track)

    def _timed_track(self, track: MediaStreamTrack) -> None:
        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
        self.party.tap(track.kind, receiver)

    def events_of(self, kind: str) -> list[dict[str, Any]]:
        """Every event of this type received so far, in order (kept by BenchParticipant)."""
        return self._events.get(kind, [])


@dataclass
class Session:
    label: str
    parties: list[Party]
    pcs: Callable[[], list[RTCPeerConnection]]
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    setup_s: float = 0.0
    error: str = ""
    # Ours with `face`: the identity events the notary has received so far.
    identity: Callable[[], list[dict[str, Any]]] | None = None
    identity_start: int = 0  # how many had arrived when the window opened
    identity_end: int = 0  # ... and when it ended

    def flowing(self) -> bool:
        return all(
            p.frames("video") >= FLOWING_FRAMES and p.frames("audio") > 0 for p in self.parties
        )

    async def close(self) -> None:
        for closer in self.closers:
            try:
                await closer()
            except Exception as exc:  # closing is best effort: report, go on
                log.warning("closing %s: %s", self.label, exc)
        for party in self.parties:
            party.player.stop()


def _pair(source: EncodedFile, applicant_source: EncodedFile | None = None) -> list[Party]:
    first = Party("notary", source.participant())
    second = Party("applicant", (applicant_source or source).participant())
    first.peer, second.peer = second, first
    return [first, second]


async def _until_flowing(session: Session) -> None:
    while not session.flowing():
        await asyncio.sleep(0.05)


async def open_v1(
    http: aiohttp.ClientSession, spec: dict[str, Any], config: dict[str, Any], session: Session
) -> None:
    """Ours or the naive server: protocol v1, one peer connection per participant."""
    ws_url = config["ws_url"]
    notary_party, applicant_party = session.parties
    notary = TimedParticipant(http, ws_url, spec["notary"], notary_party)
    applicant = TimedParticipant(http, ws_url, spec["applicant"], applicant_party)
    session.pcs = lambda: [notary.pc, applicant.pc]
    session.closers = [notary.close, applicant.close]
    welcome = await notary.connect()
    await notary.wait_for("answer")  # admitted on arrival; its tracks are published
    await applicant.connect()
    await applicant.send(
        {"type": "consent", "recording": True, "face": bool(config.get("face", False))}
    )
    await applicant.wait_for("consent_recorded")
    await notary.send({"type": "admit", "participant": applicant.participant_id})
    await applicant.wait_for("answer")
    # The face source answers the server's keyframe requests, as a browser's camera does.
    FaceFile.answer_keyframe_requests(applicant.pc, applicant_party.player)
    if config.get("record") and config.get("server") == "ours":
        await notary.send({"type": "start"})  # the session goes live: recording starts
        state = await notary.wait_for("session_state", timeout=30)
        if state.get("state") != "live":
            raise RuntimeError(f"session did not go live: {state}")
    if config.get("face") and config.get("server") == "ours":
        await upload_id_photo(http, ws_url, welcome["room"]["id"], spec["notary"], config)
        session.identity = lambda: notary.events_of("identity")
    if notary.errors or applicant.errors:
        raise RuntimeError(f"server errors: {(notary.errors + applicant.errors)[:2]}")
    await _until_flowing(session)


async def upload_id_photo(
    http: aiohttp.ClientSession, ws_url: str, room_id: str, token: str, config: dict[str, Any]
) -> None:
    """The notary's console hands in the applicant's ID photo with its join link: the server
    takes the ID face and starts the live match (signaling/identity_api.py)."""
    base = ws_url.replace("ws://", "http://", 1).rsplit("/", 1)[0]
    photo = Path(config["id_photo"])
    async with http.post(
        f"{base}/api/rooms/{room_id}/id-photo?kind=passport",
        data=photo.read_bytes(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/png"},
    ) as response:
        if response.status != 201:
            raise RuntimeError(f"ID photo refused: {response.status} {await response.text()}")


async def open_janus(
    http: aiohttp.ClientSession, spec: dict[str, Any], config: dict[str, Any], session: Session
) -> None:
    """Janus: both publish into the session's room, then each subscribes to the other."""
    parties = session.parties
    clients = [
        JanusParticipant(http, config["janus_url"], int(spec["room"]), p.tracks, p.name, p.tap)
        for p in parties
    ]
    session.pcs = lambda: [pc for c in clients for pc in c.pcs]
    session.closers = [c.close for c in clients]
    feeds = [await c.publish() for c in clients]
    await clients[0].subscribe(feeds[1])
    await clients[1].subscribe(feeds[0])
    await _until_flowing(session)


async def open_direct(
    http: aiohttp.ClientSession, spec: dict[str, Any], config: dict[str, Any], session: Session
) -> None:
    """No server: the two parties' peer connections talk to each other. The latency measured
    here is the load generator's own (aiortc's packetizing, jitter buffers, the event loop):
    the floor that the servers' figures are compared with."""
    first, second = session.parties
    pcs = [RTCPeerConnection(rtc_configuration()), RTCPeerConnection(rtc_configuration())]
    session.pcs = lambda: pcs
    session.closers = [pc.close for pc in pcs]
    for party, pc in zip(session.parties, pcs, strict=True):

        def on_track(
            track: MediaStreamTrack, party: Party = party, pc: RTCPeerConnection = pc
        ) -> None:
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            party.tap(track.kind, receiver)

        pc.on("track", on_track)
    for track in first.tracks:
        pcs[0].addTrack(track)
    await pcs[0].setLocalDescription(await pcs[0].createOffer())
    await pcs[1].setRemoteDescription(pcs[0].localDescription)
    for track in second.tracks:  # aiortc binds them to the transceivers the offer created
        pcs[1].addTrack(track)
    await pcs[1].setLocalDescription(await pcs[1].createAnswer())
    await pcs[0].setRemoteDescription(pcs[1].localDescription)
    await _until_flowing(session)


OPENERS = {"ours": open_v1, "naive": open_v1, "janus": open_janus, "direct": open_direct}


async def open_session(
    http: aiohttp.ClientSession,
    spec: dict[str, Any],
    config: dict[str, Any],
    source: EncodedFile,
    timeout: float,
    applicant_source: EncodedFile | None = None,
) -> Session:
    """Both parties publishing and receiving each other; or the reason why not (the session
    is kept: it still loads the server)."""
    session = Session(spec["label"], _pair(source, applicant_source), lambda: [])
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            await OPENERS[config["server"]](http, spec, config, session)
    except Exception as exc:
        session.error = f"{type(exc).__name__} {exc}"[:300]
    session.setup_s = time.monotonic() - started
    return session


def _emit(kind: str, payload: dict[str, Any] | None = None) -> None:
    line = kind if payload is None else f"{kind} {json.dumps(payload)}"
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _command() -> str:
    line = await asyncio.to_thread(sys.stdin.readline)
    return line.strip() or "EOF"


def _states(sessions: list[Session]) -> dict[str, int]:
    states: dict[str, int] = {}
    for session in sessions:
        for pc in session.pcs():
            states[pc.connectionState] = states.get(pc.connectionState, 0) + 1
    return states


def open_window(sessions: list[Session]) -> None:
    for session in sessions:
        if session.identity is not None:
            session.identity_start = len(session.identity())
        for party in session.parties:
            party.start = {kind: c.snapshot() for kind, c in party.received.items()}
            for probe in party.probes.values():
                probe.open_window()


def end_window(sessions: list[Session]) -> float:
    """The counts at the window's end; returns when it ended (for close_window)."""
    for session in sessions:
        if session.identity is not None:
            session.identity_end = len(session.identity())
        for party in session.parties:
            party.end = {kind: c.snapshot() for kind, c in party.received.items()}
    return time.monotonic()


def close_window(
    sessions: list[Session], window: float, ended: float | None = None
) -> dict[str, Any]:
    """Per subscriber: rates over the window, and the loss and latency of the peer's streams
    (the frames sent until `ended`: call it LOSS_GRACE_S later, so that they all had time)."""
    rows: list[dict[str, Any]] = []
    video_latencies: list[float] = []
    audio_latencies: list[float] = []
    for session in sessions:
        for party in session.parties:
            for kind, probe in party.probes.items():
                assert party.peer is not None
                party.peer.window[kind] = probe.close_window(ended)
    for session in sessions:
        for party in session.parties:
            row: dict[str, Any] = {"session": session.label, "participant": party.name}
            for kind in KINDS:
                now = party.end.get(kind, party.received[kind])
                then = party.start.get(kind, Counts())
                stats = party.window.get(kind, WindowStats(0, 0, 0, []))
                row[f"{kind}_fps"] = (now.frames - then.frames) / window
                row[f"{kind}_kbps"] = (now.bytes - then.bytes) * 8 / window / 1000
                row[f"{kind}_keyframes"] = now.keyframes - then.keyframes
                row[f"{kind}_sent"] = stats.sent
                row[f"{kind}_settled"] = stats.settled
                row[f"{kind}_lost"] = stats.lost
                row[f"{kind}_latency_ms"] = summarize_ms(stats.latencies)
                (video_latencies if kind == "video" else audio_latencies).extend(stats.latencies)
            rows.append(row)
    unmatched = sum(p.unmatched for s in sessions for q in s.parties for p in q.probes.values())
    return {
        "window_s": window,
        "subscribers": rows,
        "identity": [identity_window(s) for s in sessions if s.identity is not None],
        "connections": _states(sessions),
        # All samples (ms, 0.01 precision) so that the orchestrator pools several workers.
        "video_latency_ms": [round(s * 1000, 2) for s in video_latencies],
        "audio_latency_ms": [round(s * 1000, 2) for s in audio_latencies],
        "unmatched_frames": unmatched,
    }


def identity_window(session: Session) -> dict[str, Any]:
    """The identity events of one session's window: how many of each kind, how many checks
    (a person_changed shares its check with the verdict after it), how many of those were
    full checks (encoded and compared) and how many presence checks (detection only:
    `check_kind`; a result without it is a full check's), and their latencies."""
    assert session.identity is not None
    events = [e.get("result", {}) for e in session.identity()]
    window = events[session.identity_start : session.identity_end]
    kinds: dict[str, int] = {}
    for result in window:
        kind = str(result.get("type", "?")).removeprefix("identity.")
        kinds[kind] = kinds.get(kind, 0) + 1
    presence = {r.get("check") for r in window if r.get("check_kind") == "presence"}
    return {
        "session": session.label,
        "events": len(window),
        "checks": len({r.get("check") for r in window}),
        "full_checks": len({r.get("check") for r in window} - presence),
        "presence_checks": len(presence),
        "kinds": kinds,
        "latency_ms": [float(r["latency_ms"]) for r in window if "latency_ms" in r],
        "before_window": session.identity_start,  # e.g. the acquiring checks of the setup
    }


async def run(config: dict[str, Any]) -> None:
    # Janus: two long polls per party and requests besides: no pool limit.
    connector = aiohttp.TCPConnector(limit=0)
    limit = asyncio.Semaphore(int(config.get("concurrency", 4)))
    flow_timeout = float(config.get("flow_timeout", 60))
    sessions: list[Session] = []
    source = EncodedFile(Path(config["source"]), float(config["duration"]))  # read once
    applicant_source = None
    if config.get("face_source"):  # compare --face: the applicant shows a real face
        applicant_source = FaceFile(Path(config["face_source"]), float(config["face_duration"]))
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=30)
    ) as http:

        async def one(spec: dict[str, Any]) -> Session:
            async with limit:
                return await open_session(
                    http, spec, config, source, flow_timeout, applicant_source
                )

        started = time.monotonic()
        sessions = list(await asyncio.gather(*(one(spec) for spec in config["sessions"])))
        try:
            _emit(
                "READY",
                {
                    "setup_s": round(time.monotonic() - started, 2),
                    "session_setup_s": [round(s.setup_s, 2) for s in sessions],
                    "failed": [f"{s.label}: {s.error}" for s in sessions if s.error],
                },
            )
            if await _command() != "START":
                return
            window_start = time.monotonic()
            open_window(sessions)
            _emit("STARTED", {"connections": _states(sessions)})
            if await _command() != "STOP":
                return
            ended = end_window(sessions)
            await asyncio.sleep(LOSS_GRACE_S)  # the window's last frames are on their way
            _emit("RESULT", close_window(sessions, ended - window_start, ended))
        finally:
            for session in sessions:
                await session.close()


def loop_factory(kind: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The load generator's event loop. uvloop by default: asyncio's selector loop reads one
    datagram per socket per turn, and at 20 sessions (80 sockets, ~85 % of a core) its
    sockets' kernel queues held up to 7 MB, over a second of media, which the window counted
    as the server's latency (docs/bench/README.md, session 9); libuv reads up to 32 per wake-up.
    """
    if kind == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    if kind == "asyncio":
        return asyncio.new_event_loop
    raise ValueError(f"event_loop: expected 'uvloop' or 'asyncio', got {kind!r}")


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = json.loads(Path(argv[0]).read_text())
    allow_loopback_ice()
    if config.get("ice_address"):  # Janus: the host's own address (see tests/bench/janus.py)
        address = str(config["ice_address"])
        aioice.ice.get_host_addresses = lambda **_: [address]

    async def bounded() -> None:
        async with asyncio.timeout(float(config.get("deadline", 300))):
            await run(config)

    factory = loop_factory(config.get("event_loop", "uvloop"))
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(bounded())
    except TimeoutError:
        print("compare_loadgen: deadline reached", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
