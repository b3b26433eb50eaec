"""The naive server the benchmark compares against: `python -m tests.bench.naive_server --port P`.

This is the textbook aiortc SFU: one server-side RTCPeerConnection per participant; every
incoming track is decoded by aiortc (its receiver's decoder thread), and each other participant
gets `MediaRelay().subscribe(track)` on its own connection, whose sender encodes the relayed
frames again (VP8 with libvpx, Opus) for that subscriber.

It speaks the subset of protocol v1 that the load generator uses (join, welcome, admitted,
admit, offer, answer, negotiate), with the same negotiation scheme as the real server (the
participant always offers; recvonly m-lines are bound to what it should receive), so the same
clients drive both servers. Tokens are not checked: a token is "ROOM:ROLE".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from typing import Any

from aiohttp import WSMsgType, web
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.sdp import SessionDescription

from tests.bench.loopback import allow_loopback_ice, rtc_configuration

log = logging.getLogger("bench.naive")


class NaiveParticipant:
    def __init__(self, room: NaiveRoom, participant_id: str, role: str, ws: web.WebSocketResponse):
        self.room = room
        self.id = participant_id
        self.role = role
        self.ws = ws
        self.admitted = False
        self.pc = RTCPeerConnection(rtc_configuration())
        self.published: list[MediaStreamTrack] = []  # incoming, decoded by aiortc
        self.pending: list[tuple[str, MediaStreamTrack]] = []  # (publisher, relayed track)
        self.sending: dict[str, tuple[str, str]] = {}  # mid -> (publisher, kind)
        self._fresh: list[MediaStreamTrack] = []
        self._lock = asyncio.Lock()
        self.pc.on("track", self._fresh.append)

    async def send(self, event: dict[str, Any]) -> None:
        if not self.ws.closed:
            await self.ws.send_json(event)

    async def admit(self) -> None:
        self.admitted = True
        for other in self.room.others(self):
            for track in other.published:
                self.pending.append((other.id, self.room.relay.subscribe(track)))
        await self.send({"type": "admitted", "receive": [t.kind for _, t in self.pending]})

    async def handle_offer(self, sdp: str) -> None:
        async with self._lock:
            await self._answer(sdp)
        # What it publishes now goes to everyone else, re-encoded for each of them.
        fresh, self._fresh[:] = list(self._fresh), []
        self.published.extend(fresh)
        for other in self.room.others(self):
            if not other.admitted or not fresh:
                continue
            for track in fresh:
                other.pending.append((self.id, self.room.relay.subscribe(track)))
            if other.pc.remoteDescription is not None:
                await other.send(
                    {"type": "negotiate", "receive": [t.kind for _, t in other.pending]}
                )

    async def _answer(self, sdp: str) -> None:
        offer = SessionDescription.parse(sdp)
        known = {t.mid for t in self.pc.getTransceivers() if t.mid is not None}
        # aiortc binds each new m-line to the first unbound transceiver of its kind: create
        # them in m-line order, a relayed track for each recvonly m-line.
        for media in offer.media:
            if media.kind not in ("audio", "video") or media.rtp.muxId in known:
                continue
            if (media.direction or "sendrecv") != "recvonly":
                self.pc.addTransceiver(media.kind, direction="recvonly")
                continue
            found = next((p for p in self.pending if p[1].kind == media.kind), None)
            if found is None:
                self.pc.addTransceiver(media.kind, direction="inactive")
                continue
            self.pending.remove(found)
            publisher, track = found
            self.pc.addTransceiver(track, direction="sendonly")
            self.sending[media.rtp.muxId] = (publisher, track.kind)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        tracks = [
            {"mid": mid, "participant": publisher, "kind": kind}
            for mid, (publisher, kind) in self.sending.items()
        ]
        await self.send({"type": "answer", "sdp": self.pc.localDescription.sdp, "tracks": tracks})

    async def close(self) -> None:
        await self.pc.close()


class NaiveRoom:
    def __init__(self) -> None:
        self.participants: dict[str, NaiveParticipant] = {}
        self.relay = MediaRelay()

    def others(self, participant: NaiveParticipant) -> list[NaiveParticipant]:
        return [p for p in self.participants.values() if p is not participant]


ROOMS = web.AppKey("rooms", dict)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=256 * 1024)
    await ws.prepare(request)
    first = await ws.receive(timeout=10)
    join = json.loads(first.data) if first.type == WSMsgType.TEXT else {}
    room_id, _, role = str(join.get("token", "")).partition(":")
    if join.get("type") != "join" or not room_id or not role:
        await ws.close(code=1008)
        return ws
    room = request.app[ROOMS].setdefault(room_id, NaiveRoom())
    me = NaiveParticipant(room, f"{room_id}/{role}", role, ws)
    room.participants[me.id] = me
    presence = "admitted" if role == "notary" else "waiting"
    await me.send(
        {
            "type": "welcome",
            "v": 1,
            "participant": {"id": me.id, "role": role, "presence": presence},
        }
    )
    try:
        if role == "notary":
            await me.admit()
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            kind = data.get("type")
            if kind == "offer":
                await me.handle_offer(data["sdp"])
            elif kind == "admit" and role == "notary":
                guest = room.participants.get(data.get("participant", ""))
                if guest is not None and not guest.admitted:
                    await guest.admit()
            elif kind == "consent":  # the protocol's step before the lobby; nothing to check
                await me.send({"type": "consent_recorded", "face": bool(data.get("face"))})
            elif kind == "ping":
                await me.send({"type": "pong", "ref": data.get("ref")})
    finally:
        room.participants.pop(me.id, None)
        await me.close()
        if not room.participants:
            request.app[ROOMS].pop(room_id, None)
    return ws


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _close_rooms(app: web.Application) -> None:
    for room in list(app[ROOMS].values()):
        for participant in list(room.participants.values()):
            with contextlib.suppress(Exception):
                await participant.close()


def create_app() -> web.Application:
    app = web.Application()
    app[ROOMS] = {}
    app.router.add_get("/ws", websocket)
    app.router.add_get("/healthz", healthz)
    app.on_shutdown.append(_close_rooms)
    return app


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="naive_server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("aioice.ice").setLevel(logging.INFO)  # as the real server logs it
    allow_loopback_ice()
    web.run_app(create_app(), host=args.host, port=args.port, print=None, handle_signals=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
