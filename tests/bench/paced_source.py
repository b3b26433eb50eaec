"""A pre-encoded file as a participant's camera and microphone, from memory, with no thread.

The load generator of the benchmarks plays the same WebM for every publishing participant.
`MediaPlayer(path, decode=False)` (see tests/media/looping.py) demuxes the file again in one
thread per participant and hands every packet to the event loop with
`run_coroutine_threadsafe`: at 10 sessions that was a quarter of the load generator's busy time
(py-spy, docs/bench/forwarding.md), CPU the servers under test then lack on a 2-core machine.
Here the file is demuxed once; each participant's tracks replay the same packets, paced by the
event loop against their own start time, with timestamps that keep rising from pass to pass.
The bytes and the pace that reach the server are the same as the player's.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError


@dataclass(frozen=True)
class StoredPacket:
    data: bytes
    pts: int  # in the stream's time base, from the first packet of the file


@dataclass(frozen=True)
class StoredStream:
    kind: str
    time_base: Fraction
    packets: tuple[StoredPacket, ...]


class EncodedFile:
    """Every audio and video packet of a file, demuxed once and kept in memory."""

    def __init__(self, path: Path, duration: float) -> None:
        self.path = path
        self.duration = duration  # one pass, in seconds: how far each pass moves timestamps
        self.streams: dict[str, StoredStream] = {}
        with av.open(str(path)) as container:
            chosen = [s for s in container.streams if s.type in ("audio", "video")]
            packets: dict[str, list[StoredPacket]] = {s.type: [] for s in chosen}
            first: dict[str, int] = {}
            for packet in container.demux(*chosen):
                if packet.size == 0 or packet.pts is None:
                    continue  # the flush packet at the end of each stream
                kind = packet.stream.type
                origin = first.setdefault(kind, packet.pts)
                packets[kind].append(StoredPacket(bytes(packet), packet.pts - origin))
            for stream in chosen:
                assert stream.time_base is not None
                self.streams[stream.type] = StoredStream(
                    stream.type, stream.time_base, tuple(packets[stream.type])
                )

    def participant(self) -> PacedParticipant:
        return PacedParticipant(self)


class PacedParticipant:
    """One participant's audio and video tracks, sharing one start time (lip sync)."""

    def __init__(self, source: EncodedFile) -> None:
        self.source = source
        self.started_at: float | None = None
        self.audio = PacedTrack(self, source.streams["audio"])
        self.video = PacedTrack(self, source.streams["video"])

    def clock(self) -> float:
        """Seconds since this participant's first packet was asked for."""
        now = time.monotonic()
        if self.started_at is None:
            self.started_at = now
        return now - self.started_at

    def stop(self) -> None:
        self.audio.stop()
        self.video.stop()


class PacedTrack(MediaStreamTrack):
    def __init__(self, owner: PacedParticipant, stream: StoredStream) -> None:
        super().__init__()
        self.kind = stream.kind
        self._owner = owner
        self._stream = stream
        self._index = 0
        self._pass = 0
        self._pass_ticks = round(owner.source.duration / stream.time_base)

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        stored = self._stream.packets[self._index]
        pts = stored.pts + self._pass * self._pass_ticks
        self._index += 1
        if self._index == len(self._stream.packets):
            self._index = 0
            self._pass += 1
        due = float(pts * self._stream.time_base)
        wait = due - self._owner.clock()
        if wait > 0:
            await asyncio.sleep(wait)
        packet = av.Packet(stored.data)
        packet.pts = packet.dts = pts
        packet.time_base = self._stream.time_base
        return packet
