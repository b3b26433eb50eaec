"""A participant of the benchmark: protocol v1 over aiohttp's WebSocket, aiortc for media.

Like tests/signaling/callclient.py, except that it never decodes: each receiving track gets an
RtpCounter (tests/bench/rtp_counter.py), which counts frames and bytes at the RTP level, so the
load generator spends nothing on codecs, jitter buffers or bandwidth estimation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from tests.bench.loopback import rtc_configuration
from tests.bench.rtp_counter import RtpCounter

ANSWER_TIMEOUT = 30.0


@dataclass
class Counts:
    frames: int = 0
    bytes: int = 0
    keyframes: int = 0

    def snapshot(self) -> Counts:
        return Counts(self.frames, self.bytes, self.keyframes)


class BenchParticipant:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        ws_url: str,
        token: str,
        tracks: list[MediaStreamTrack],
        name: str = "",
    ) -> None:
        self.http = http
        self.ws_url = ws_url
        self.token = token
        self.tracks = tracks
        self.name = name
        self.pc = RTCPeerConnection(rtc_configuration())
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.participant_id = ""
        self.received: dict[str, Counts] = defaultdict(Counts)  # kind -> counts
        self.first_video_at: float | None = None
        self.errors: list[dict[str, Any]] = []
        self._events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._arrived = asyncio.Condition()
        self._answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._offering = asyncio.Lock()
        self._published = False
        self._counters: list[RtpCounter] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.pc.on("track", self._on_track)

    # --- signaling ------------------------------------------------------------------------

    async def connect(self) -> dict[str, Any]:
        self.ws = await self.http.ws_connect(self.ws_url, heartbeat=None, autoping=True)
        await self.ws.send_json({"type": "join", "token": self.token, "v": 1})
        self._spawn(self._read())
        welcome = await self.wait_for("welcome")
        self.participant_id = welcome["participant"]["id"]
        return welcome

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            event = json.loads(message.data)
            kind = event.get("type")
            if kind == "error":
                self.errors.append(event)
            if kind in ("admitted", "negotiate"):
                self._spawn(self.offer(event["receive"]))
            elif kind == "answer":
                await self._answers.put(event)
            if kind != "network":  # every 5 s: nobody waits for it, do not keep it
                async with self._arrived:
                    self._events[kind].append(event)
                    self._arrived.notify_all()

    async def wait_for(self, kind: str, timeout: float = 20.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: bool(self._events[kind]))
            return self._events[kind][0]

    async def send(self, message: dict[str, Any]) -> None:
        assert self.ws is not None
        await self.ws.send_json(message)

    # --- media ----------------------------------------------------------------------------

    async def offer(self, receive: list[str]) -> None:
        async with self._offering:
            if not self._published:
                for track in self.tracks:
                    self.pc.addTrack(track)
                self._published = True
            for kind in receive:
                self.pc.addTransceiver(kind, direction="recvonly")
            await self.pc.setLocalDescription(await self.pc.createOffer())
            await self.send({"type": "offer", "sdp": self.pc.localDescription.sdp})
            answer = await asyncio.wait_for(self._answers.get(), ANSWER_TIMEOUT)
            await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    def _on_track(self, track: MediaStreamTrack) -> None:
        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
        counts = self.received[track.kind]
        is_video = track.kind == "video"

        def on_frame(size: int, keyframe: bool) -> None:
            counts.frames += 1
            counts.bytes += size
            counts.keyframes += keyframe
            if is_video and self.first_video_at is None:
                self.first_video_at = time.monotonic()

        self._counters.append(RtpCounter(receiver, track.kind, on_frame))

    def frames(self, kind: str) -> int:
        return self.received[kind].frames

    # --- endings --------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.pc.close()
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(Exception):
                await self.ws.close()
