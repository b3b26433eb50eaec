"""A participant's browser played by aiortc, talking protocol v1 to the real server over /ws."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from tests.media.harness import rtc_configuration


class CallClient:
    def __init__(
        self,
        http: TestClient,
        token: str,
        tracks: list[MediaStreamTrack],
        fresh_tracks: Callable[[], list[MediaStreamTrack]] | None = None,
    ) -> None:
        self.http = http
        self.token = token
        self.tracks = tracks
        # Closing a connection stops its senders' tracks: a rebuilt one needs new ones, as a
        # page asks the camera again.
        self._fresh_tracks = fresh_tracks
        self.pc = RTCPeerConnection(rtc_configuration())
        self.ws: ClientWebSocketResponse | None = None
        self.events: list[dict[str, Any]] = []
        self.decoded: Counter[tuple[str, str]] = Counter()  # (participant, kind) -> frames
        self.participant_id = ""
        self._mids: dict[str, str] = {}  # mid -> participant
        self._answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._offering = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._published = False
        self._admissions = 0
        self.pc.on("track", self._on_track)

    # --- signaling ------------------------------------------------------------------------

    async def connect(self) -> dict[str, Any]:
        self.ws = await self.http.ws_connect("/ws")
        await self.ws.send_json({"type": "join", "token": self.token, "v": 1})
        self._spawn(self._read())
        welcome = await self.wait_for("welcome")
        self.participant_id = welcome["participant"]["id"]
        return welcome

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type != WSMsgType.TEXT:
                break
            event = json.loads(message.data)
            self.events.append(event)
            if event["type"] == "admitted" and self._admissions:
                # The server rebuilt our media connection: start a fresh one, as a page does.
                self._spawn(self.restart(event["receive"]))
            elif event["type"] in ("admitted", "negotiate"):
                self._spawn(self.offer(event["receive"]))
            if event["type"] == "admitted":
                self._admissions += 1
            elif event["type"] == "answer":
                await self._answers.put(event)

    async def wait_for(
        self, kind: str, about: str | None = None, timeout: float = 10
    ) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if event["type"] == kind and (
                        about is None or event.get("participant", {}).get("id") == about
                    ):
                        return event
                seen = len(self.events)
                await asyncio.sleep(0.02)

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
            answer = await asyncio.wait_for(self._answers.get(), 15)
            self._mids.update({t["mid"]: t["participant"] for t in answer["tracks"]})
            await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    async def restart(self, receive: list[str]) -> None:
        async with self._offering:
            await self.pc.close()
            self.pc = RTCPeerConnection(rtc_configuration())
            self.pc.on("track", self._on_track)
            if self._fresh_tracks is not None:
                self.tracks = self._fresh_tracks()
            self._published = False
            self._mids.clear()
        await self.offer(receive)

    def _on_track(self, track: MediaStreamTrack) -> None:
        transceiver = next(t for t in self.pc.getTransceivers() if t.receiver.track is track)
        self._spawn(self._consume(track, transceiver.mid or ""))

    async def _consume(self, track: MediaStreamTrack, mid: str) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()  # decodes: proves the frames are real, playable media
                self.decoded[(self._mids.get(mid, "?"), track.kind)] += 1

    def frames_from(self, participant_id: str, kind: str) -> int:
        return self.decoded[(participant_id, kind)]

    # --- endings --------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drop(self) -> None:
        """The network goes away: socket and media die without a goodbye."""
        if self.ws is not None:
            await self.ws.close()
        await self.close()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()


async def admit(notary: CallClient, guest: CallClient) -> None:
    await guest.wait_for("welcome")
    await guest.send({"type": "consent", "recording": True, "face": False})
    await notary.wait_for("lobby", about=guest.participant_id)
    await notary.send({"type": "admit", "participant": guest.participant_id})
    await guest.wait_for("admitted")
