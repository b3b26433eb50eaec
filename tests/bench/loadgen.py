"""A load generator worker: `python -m tests.bench.loadgen SPEC.json`.

It plays both participants of each session given in the spec. Each participant publishes audio and
video, replayed from memory (tests/bench/paced_source.py; with `"player": true` in the spec, an
aiortc MediaPlayer(decode=False) per participant instead), and receives the other's through the
server. It talks to the orchestrator (tests/bench/forwarding.py) in lines on stdin/stdout:

    worker: READY {...}        every session is set up (and which ones do not flow)
    orch:   START              worker: STARTED   (frame counters read: the window opens)
    orch:   STOP               worker: RESULT {...} (counters read again, then it closes all)

It runs in its own process so that its CPU is measured apart from the server's. It ends by
itself: on STOP, when stdin closes (its orchestrator died), or after the spec's deadline.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench.client import BenchParticipant, Counts
from tests.bench.loopback import allow_loopback_ice
from tests.bench.paced_source import EncodedFile, PacedParticipant
from tests.media.looping import LoopingPlayer

log = logging.getLogger("bench.loadgen")

FLOWING_FRAMES = 30  # video frames each participant must have received before measuring


@dataclass
class BenchSession:
    label: str
    notary: BenchParticipant
    applicant: BenchParticipant
    players: list[LoopingPlayer | PacedParticipant]
    setup_s: float = 0.0
    error: str = ""
    start: dict[str, dict[str, Counts]] = field(default_factory=dict)

    @property
    def participants(self) -> list[BenchParticipant]:
        return [self.notary, self.applicant]

    def flowing(self) -> bool:
        return all(
            p.frames("video") >= FLOWING_FRAMES and p.frames("audio") > 0 for p in self.participants
        )

    async def close(self) -> None:
        for participant in self.participants:
            await participant.close()
        for player in self.players:
            player.stop()


def _emit(kind: str, payload: dict[str, Any] | None = None) -> None:
    line = kind if payload is None else f"{kind} {json.dumps(payload)}"
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _command() -> str:
    line = await asyncio.to_thread(sys.stdin.readline)
    return line.strip() or "EOF"


def make_players(
    config: dict[str, Any], memory: EncodedFile | None
) -> list[LoopingPlayer | PacedParticipant]:
    if memory is not None:
        return [memory.participant(), memory.participant()]
    source, duration = Path(config["source"]), float(config["duration"])
    return [LoopingPlayer(source, duration), LoopingPlayer(source, duration)]


async def open_session(
    http: aiohttp.ClientSession,
    spec: dict[str, Any],
    config: dict[str, Any],
    timeout: float,
    memory: EncodedFile | None = None,
) -> BenchSession:
    """Both participants in, admitted, and receiving each other; or the reason why not.

    A session that does not flow in time is kept (it still loads the server) and reported.
    """
    players = make_players(config, memory)
    ws_url = config["ws_url"]
    notary = BenchParticipant(
        http, ws_url, spec["notary"], [players[0].audio, players[0].video], "notary"
    )
    applicant = BenchParticipant(
        http, ws_url, spec["applicant"], [players[1].audio, players[1].video], "applicant"
    )
    session = BenchSession(spec["label"], notary, applicant, players)
    started = time.monotonic()
    stage = "start"
    try:
        async with asyncio.timeout(timeout):
            stage = "notary joins"
            await notary.connect()
            stage = "notary publishes"
            await notary.wait_for("answer")  # admitted on arrival; its tracks are published
            stage = "applicant joins"
            await applicant.connect()
            await applicant.send({"type": "consent", "recording": True, "face": False})
            await applicant.wait_for("consent_recorded")
            await notary.send({"type": "admit", "participant": applicant.participant_id})
            stage = "applicant publishes"
            await applicant.wait_for("answer")
            stage = "media flows both ways"
            while not session.flowing():
                await asyncio.sleep(0.05)
    except Exception as exc:
        session.error = f"{stage}: {type(exc).__name__} {exc}"[:300]
        errors = notary.errors + applicant.errors
        if errors:
            session.error += f" (server errors: {errors[:2]})"
    session.setup_s = time.monotonic() - started
    return session


async def run(config: dict[str, Any]) -> None:
    timeout = aiohttp.ClientTimeout(total=30)
    sessions: list[BenchSession] = []
    limit = asyncio.Semaphore(int(config.get("concurrency", 4)))
    flow_timeout = float(config.get("flow_timeout", 60))
    memory = None
    if not config.get("player", False):
        memory = EncodedFile(Path(config["source"]), float(config["duration"]))

    async with aiohttp.ClientSession(timeout=timeout) as http:

        async def one(spec: dict[str, Any]) -> BenchSession:
            async with limit:
                return await open_session(http, spec, config, flow_timeout, memory)

        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(one(spec) for spec in config["sessions"]), return_exceptions=True
        )
        failed: list[str] = []
        for outcome in outcomes:
            if isinstance(outcome, BenchSession):
                sessions.append(outcome)
                if outcome.error:
                    failed.append(f"{outcome.label}: {outcome.error}")
            else:
                failed.append(f"{type(outcome).__name__}: {outcome}"[:300])
        try:
            _emit(
                "READY",
                {
                    "setup_s": round(time.monotonic() - started, 2),
                    "session_setup_s": [round(s.setup_s, 2) for s in sessions],
                    "failed": failed,
                },
            )
            if await _command() != "START":
                return
            window_start = time.monotonic()
            for session in sessions:
                for participant in session.participants:
                    session.start[participant.name] = {
                        kind: counts.snapshot() for kind, counts in participant.received.items()
                    }
            _emit("STARTED", {"connections": _states(sessions)})
            if await _command() != "STOP":
                return
            window = time.monotonic() - window_start
            _emit(
                "RESULT",
                {
                    "window_s": window,
                    "subscribers": _subscribers(sessions, window),
                    "connections": _states(sessions),
                },
            )
        finally:
            for session in sessions:
                await session.close()


def _states(sessions: list[BenchSession]) -> dict[str, int]:
    """How many of the participants' peer connections are in each state."""
    states: dict[str, int] = {}
    for session in sessions:
        for participant in session.participants:
            state = participant.pc.connectionState
            states[state] = states.get(state, 0) + 1
    return states


def _subscribers(sessions: list[BenchSession], window: float) -> list[dict[str, Any]]:
    """What each participant received during the window, from the other one."""
    rows = []
    for session in sessions:
        for participant in session.participants:
            before = session.start.get(participant.name, {})
            row: dict[str, Any] = {"session": session.label, "participant": participant.name}
            for kind in ("video", "audio"):
                now = participant.received[kind]
                then = before.get(kind, Counts())
                row[f"{kind}_fps"] = (now.frames - then.frames) / window
                row[f"{kind}_kbps"] = (now.bytes - then.bytes) * 8 / window / 1000
                row[f"{kind}_keyframes"] = now.keyframes - then.keyframes
            rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = json.loads(Path(argv[0]).read_text())
    allow_loopback_ice()

    async def bounded() -> None:
        async with asyncio.timeout(float(config.get("deadline", 300))):
            await run(config)

    try:
        asyncio.run(bounded())
    except TimeoutError:
        print("loadgen: deadline reached", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
