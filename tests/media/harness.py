"""In-process aiortc clients talking to server-side ParticipantPeers over loopback.

Each client behaves like the browser page will: it offers what it publishes, and when the
server raises negotiation-needed it adds the recvonly transceivers the server asks for and
offers again.
"""

from __future__ import annotations

import asyncio
import fractions
import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    VideoStreamTrack,
)
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError

from media import EncodedFrame, MediaRoom, ParticipantPeer, ReceiverTap

VIDEO_SIZE = (320, 240)
FPS = 30
MEDIA_SECONDS = 4


def make_webm(path: Path, seconds: int = MEDIA_SECONDS, bit_rate: int = 300_000) -> Path:
    """VP8 (keyframe every second) + Opus sine tone; a moving pattern so frames differ."""
    width, height = VIDEO_SIZE
    with av.open(str(path), "w", format="webm") as container:
        video = container.add_stream("libvpx", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.bit_rate = bit_rate
        video.codec_context.gop_size = FPS
        video.options = {"deadline": "realtime", "cpu-used": "8"}
        audio = container.add_stream("libopus", rate=48000)
        audio.layout = "mono"
        ys, xs = np.mgrid[0:height, 0:width]
        samples = 960
        audio_pts = 0
        for index in range(seconds * FPS):
            rgb = np.zeros((height, width, 3), dtype=np.uint8)
            rgb[..., 0] = (xs + 4 * index) % 256
            rgb[..., 1] = (ys + 2 * index) % 256
            rgb[..., 2] = ((xs // 40 + ys // 40 + index // 10) % 2) * 255
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            frame.pts = index
            frame.time_base = fractions.Fraction(1, FPS)
            for packet in video.encode(frame):
                container.mux(packet)
            while audio_pts < (index + 1) * 48000 // FPS:
                t = (np.arange(samples) + audio_pts) / 48000
                tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
                aframe = av.AudioFrame.from_ndarray(tone[None, :], format="s16", layout="mono")
                aframe.sample_rate = 48000
                aframe.pts = audio_pts
                aframe.time_base = fractions.Fraction(1, 48000)
                for packet in audio.encode(aframe):
                    container.mux(packet)
                audio_pts += samples
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    return path


class ConnectedTransport:
    """Stands in for a sender's DTLS transport where only its state is read."""

    state = "connected"


class CapturingOutput:
    """Stands in for a forwarder's RtpOutput: keeps what would have been sent, before SRTP."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> bool:
        self.sent.append(data)
        return True


def rtc_configuration() -> RTCConfiguration:
    # No ICE servers: aiortc would otherwise try a public STUN server. max-bundle: with
    # aiortc's default a transceiver added before the first answer never connects.
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


class RecordingTrack(MediaStreamTrack):
    """Passes a source track through, keeping a digest of every encoded packet sent."""

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.kind = source.kind
        self.source = source
        self.sent: list[str] = []

    async def recv(self) -> av.Packet:
        packet = await self.source.recv()
        assert isinstance(packet, av.Packet)
        self.sent.append(digest(bytes(packet)))
        return packet

    def stop(self) -> None:
        super().stop()
        self.source.stop()


class PatternTrack(VideoStreamTrack):
    """Raw frames for aiortc's own encoder, so a PLI really yields a keyframe (libvpx is
    configured by aiortc with a 3000-frame GOP: no keyframe comes unless asked for)."""

    def __init__(self) -> None:
        super().__init__()
        self.index = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        rgb = np.full((120, 160, 3), (self.index * 5) % 256, dtype=np.uint8)
        rgb[:, (self.index % 160) :, 1] = 200
        self.index += 1
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


@dataclass
class Received:
    kind: str
    decoded: int = 0
    first_at: float | None = None
    frames: list[EncodedFrame] = field(default_factory=list)


class Client:
    """A participant's browser, played by aiortc."""

    def __init__(self, name: str, *, decode: bool = True, tap: bool = False) -> None:
        self.name = name
        self.pc = RTCPeerConnection(rtc_configuration())
        self.decode = decode
        self.tap = tap
        self.peer: ParticipantPeer | None = None
        self.received: dict[str, Received] = {}  # track id -> what arrived
        self.taps: dict[str, ReceiverTap] = {}
        self.receivers: dict[str, RTCRtpReceiver] = {}
        self.offers = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._negotiating = asyncio.Lock()
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        record = self.received[track.id] = Received(track.kind)
        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
        self.receivers[track.id] = receiver
        if self.tap:

            def on_frame(frame: EncodedFrame) -> None:
                if record.first_at is None:
                    record.first_at = time.monotonic()
                record.frames.append(frame)

            self.taps[track.id] = ReceiverTap(receiver, track.kind, on_frame, decode=self.decode)
        if self.decode:
            self._spawn(self._consume(track, record))

    async def _consume(self, track: MediaStreamTrack, record: Received) -> None:
        try:
            while True:
                await track.recv()
                record.decoded += 1
                if record.first_at is None:
                    record.first_at = time.monotonic()
        except MediaStreamError:
            pass

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def offer(self) -> None:
        """Offer (adding the receive slots the server asked for) and apply the answer."""
        assert self.peer is not None
        async with self._negotiating:
            for kind in self.peer.receive_slots:
                self.pc.addTransceiver(kind, direction="recvonly")
            await self.pc.setLocalDescription(await self.pc.createOffer())
            answer = await self.peer.handle_offer(self.pc.localDescription)
            await self.pc.setRemoteDescription(answer)
            self.offers += 1

    def renegotiate_soon(self) -> None:
        self._spawn(self.offer())

    def received_of(self, kind: str) -> list[Received]:
        return [r for r in self.received.values() if r.kind == kind]

    async def close(self) -> None:
        await self.pc.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Session:
    """A MediaRoom of server peers, one in-process client each."""

    def __init__(self) -> None:
        self.room = MediaRoom("test-room")
        self.clients: dict[str, Client] = {}
        self.players: list[MediaPlayer] = []

    async def join(
        self,
        name: str,
        tracks: list[MediaStreamTrack],
        *,
        decode: bool = True,
        tap: bool = False,
    ) -> Client:
        client = Client(name, decode=decode, tap=tap)
        peer = ParticipantPeer(
            name, rtc_configuration(), on_negotiation_needed=lambda _: client.renegotiate_soon()
        )
        client.peer = peer
        self.clients[name] = client
        self.room.add(peer)
        for track in tracks:
            client.pc.addTrack(track)
        await client.offer()
        return client

    def player(self, path: Path) -> MediaPlayer:
        player = MediaPlayer(str(path), decode=False)
        self.players.append(player)
        return player

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()
        await self.room.close()
        for player in self.players:
            for track in (player.audio, player.video):
                if track is not None:
                    track.stop()


async def wait_for(predicate: Callable[[], bool], timeout: float, what: str = "condition") -> float:
    """Poll until `predicate` holds; return the seconds it took."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start
