"""A benchmark participant for Janus's VideoRoom: its HTTP API (long polling) and aiortc.

Janus's way, as janus.js does it: one API session per participant, holding two plugin handles
and two peer connections. The publisher handle joins the room and publishes (the participant
offers sendonly audio and video, Janus answers and records). The subscriber handle joins as a
subscriber to the other participant's feed: Janus offers, the participant answers. Candidates
travel in the SDP both ways (Janus's half trickle; aiortc gathers before it answers), so no
trickle message is ever sent. A long poll carries Janus's events; keepalives hold the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription

from tests.bench.loopback import rtc_configuration

log = logging.getLogger("bench.janus_client")

PLUGIN = "janus.plugin.videoroom"
KEEPALIVE_S = 20.0  # Janus drops a session after 60 s of silence (session_timeout)
EVENT_TIMEOUT_S = 30.0
LONG_POLL_S = 45.0  # Janus answers an idle long poll with a keepalive after 30 s

TrackSink = Callable[[str, RTCRtpReceiver], None]  # (kind, receiver) of each received track


class JanusError(RuntimeError):
    pass


_transactions = itertools.count(1)


def _transaction() -> str:
    return f"t{next(_transactions)}"


def plugin_result(event: dict[str, Any]) -> dict[str, Any]:
    """The videoroom's answer inside a Janus event; its errors become JanusError."""
    if event.get("janus") == "error":
        error = event.get("error", {})
        raise JanusError(f"janus error {error.get('code')}: {error.get('reason')}")
    data: dict[str, Any] = event.get("plugindata", {}).get("data", {})
    if "error" in data or data.get("videoroom") == "error":
        raise JanusError(f"videoroom error {data.get('error_code')}: {data.get('error')}")
    return data


class JanusSession:
    """One Janus API session over HTTP: requests, the long poll, keepalives."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base_url = base_url
        self.id: int | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._signals: dict[tuple[str, int], asyncio.Event] = {}  # (event kind, handle)
        self._tasks: list[asyncio.Task[None]] = []
        self.events: list[dict[str, Any]] = []  # events nobody waited for (hangup, slowlink...)

    @property
    def url(self) -> str:
        return f"{self.base_url}/{self.id}"

    async def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.http.post(url, json=body) as response:
            reply: dict[str, Any] = await response.json(content_type=None)
        if reply.get("janus") == "error":
            plugin_result(reply)  # raises
        return reply

    async def create(self) -> None:
        reply = await self._post(self.base_url, {"janus": "create", "transaction": _transaction()})
        self.id = int(reply["data"]["id"])
        self._tasks = [
            asyncio.ensure_future(self._poll()),
            asyncio.ensure_future(self._keepalive()),
        ]

    async def attach(self) -> JanusHandle:
        reply = await self._post(
            self.url, {"janus": "attach", "plugin": PLUGIN, "transaction": _transaction()}
        )
        return JanusHandle(self, int(reply["data"]["id"]))

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A plugin request; the plugin's event (synchronous or not) that answers it."""
        transaction = _transaction()
        request: dict[str, Any] = {"janus": "message", "body": body, "transaction": transaction}
        if jsep is not None:
            request["jsep"] = jsep
        answered = asyncio.get_running_loop().create_future()
        self._waiting[transaction] = answered
        try:
            reply = await self._post(f"{self.url}/{handle}", request)
            if reply.get("janus") == "success":  # a synchronous request: the answer is here
                return reply
            return await asyncio.wait_for(answered, EVENT_TIMEOUT_S)
        finally:
            self._waiting.pop(transaction, None)

    async def _poll(self) -> None:
        timeout = aiohttp.ClientTimeout(total=LONG_POLL_S)
        while True:
            try:
                async with self.http.get(f"{self.url}?maxev=10", timeout=timeout) as response:
                    payload = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("long poll of session %s: %s", self.id, exc)
                await asyncio.sleep(0.5)
                continue
            for event in payload if isinstance(payload, list) else [payload]:
                self._dispatch(event)

    def _signal(self, kind: str, handle: int) -> asyncio.Event:
        return self._signals.setdefault((kind, handle), asyncio.Event())

    async def wait_event(self, kind: str, handle: int, timeout: float = EVENT_TIMEOUT_S) -> None:
        """Until Janus has sent `kind` (webrtcup, media...) about `handle`."""
        await asyncio.wait_for(self._signal(kind, handle).wait(), timeout)

    def _dispatch(self, event: dict[str, Any]) -> None:
        kind = event.get("janus")
        if kind in ("keepalive", "ack"):
            return
        if isinstance(kind, str) and "sender" in event:
            self._signal(kind, int(event["sender"])).set()
        waiter = self._waiting.get(str(event.get("transaction", "")))
        if waiter is not None and not waiter.done() and kind in ("event", "error"):
            waiter.set_result(event)
        else:
            self.events.append(event)
            del self.events[:-50]  # bounded: only the latest matter for a report

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S)
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, JanusError):
                await self._post(self.url, {"janus": "keepalive", "transaction": _transaction()})

    async def destroy(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.id is not None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, JanusError):
                await self._post(self.url, {"janus": "destroy", "transaction": _transaction()})


class JanusHandle:
    def __init__(self, session: JanusSession, handle_id: int) -> None:
        self.session = session
        self.id = handle_id

    async def request(
        self, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """(the videoroom's data, the JSEP that came with it)."""
        event = await self.session.message(self.id, body, jsep)
        return plugin_result(event), event.get("jsep")


def _jsep(description: RTCSessionDescription) -> dict[str, Any]:
    # trickle false: every candidate is in this SDP (aiortc gathers before it returns it).
    return {"type": description.type, "sdp": description.sdp, "trickle": False}


class JanusParticipant:
    """One party of a two-party session in a VideoRoom: publishes, then subscribes."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        room: int,
        tracks: list[MediaStreamTrack],
        name: str,
        on_track: TrackSink,
    ) -> None:
        self.session = JanusSession(http, base_url)
        self.room = room
        self.tracks = tracks
        self.name = name
        self.feed: int | None = None  # this participant's publisher id in the room
        self.publisher_pc = RTCPeerConnection(rtc_configuration())
        self.subscriber_pc = RTCPeerConnection(rtc_configuration())
        self._on_track = on_track

        @self.subscriber_pc.on("track")
        def _track(track: MediaStreamTrack) -> None:
            receiver = next(
                t.receiver
                for t in self.subscriber_pc.getTransceivers()
                if t.receiver.track is track
            )
            self._on_track(track.kind, receiver)

    @property
    def pcs(self) -> list[RTCPeerConnection]:
        return [self.publisher_pc, self.subscriber_pc]

    async def publish(self) -> int:
        """Join the room as a publisher and send audio and video; returns the feed id."""
        await self.session.create()
        handle = await self.session.attach()
        joined, _ = await handle.request(
            {"request": "join", "ptype": "publisher", "room": self.room, "display": self.name}
        )
        if joined.get("videoroom") != "joined":
            raise JanusError(f"join: {joined}")
        self.feed = int(joined["id"])
        for track in self.tracks:
            self.publisher_pc.addTransceiver(track, direction="sendonly")
        await self.publisher_pc.setLocalDescription(await self.publisher_pc.createOffer())
        configured, answer = await handle.request(
            {"request": "publish"}, _jsep(self.publisher_pc.localDescription)
        )
        if answer is None:
            raise JanusError(f"publish: no answer ({configured})")
        await self.publisher_pc.setRemoteDescription(
            RTCSessionDescription(answer["sdp"], answer["type"])
        )
        # A feed can be subscribed to once its PeerConnection is up (else "No such feed").
        await self.session.wait_event("webrtcup", handle.id)
        return self.feed

    async def subscribe(self, feed: int) -> None:
        """Receive `feed`'s streams: Janus offers, this participant answers."""
        handle = await self.session.attach()
        attached, offer = await handle.request(
            {
                "request": "join",
                "ptype": "subscriber",
                "room": self.room,
                "streams": [{"feed": feed}],
            }
        )
        if offer is None:
            raise JanusError(f"subscribe: no offer ({attached})")
        await self.subscriber_pc.setRemoteDescription(
            RTCSessionDescription(offer["sdp"], offer["type"])
        )
        await self.subscriber_pc.setLocalDescription(await self.subscriber_pc.createAnswer())
        started, _ = await handle.request(
            {"request": "start"}, _jsep(self.subscriber_pc.localDescription)
        )
        if started.get("started") != "ok":
            raise JanusError(f"start: {started}")

    async def close(self) -> None:
        for pc in self.pcs:
            with contextlib.suppress(Exception):
                await pc.close()
        await self.session.destroy()
