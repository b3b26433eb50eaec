"""Latency and loss of one published stream, from its capture to its receipt, in one process.

The publisher and the subscriber of a stream live in the same load generator process, and no
server of the benchmark transcodes: the frames a subscriber receives are byte for byte the ones
the publisher's source produced. So each frame is known by a key taken from its bytes, stamped
with the monotonic clock when the source hands it to aiortc's sender (the capture), and looked
up when its last RTP packet reaches the subscriber (the receipt, tests/bench/rtp_probe.py).
The difference is the whole path on loopback: the sender's packetizing and pacing, the server,
and the receiver's socket and event loop; no jitter buffer (aiortc's would hold each video frame
until the next one starts, and audio for four packets).

The key of a video frame is its first KEY_BYTES bytes (the first RTP packet carries them); an
audio frame is one RTP packet, and its key is the whole of it. Equal keys (the same file plays
in a loop; a still picture gives equal small frames) are matched first in, first out; a stamp
older than MAX_AGE_S is dropped (so the file must play longer than that). A frame of the window
not received LOSS_GRACE_S after it was sent (the orchestrator waits that long) counts as lost.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import av
from aiortc import MediaStreamTrack

KEY_BYTES = 32  # of a video frame: its frame tag and the start of its entropy-coded data
MAX_AGE_S = 5.0  # a stamp this old is a lost frame's (shorter than one pass of the file)
LOSS_GRACE_S = 1.0  # a frame not received this long after it was sent is lost

FrameKey = bytes


def frame_key(kind: str, data: bytes | memoryview) -> FrameKey:
    """The key of an encoded frame (the whole of it, or its first bytes)."""
    view = memoryview(data)
    return bytes(view) if kind == "audio" else bytes(view[:KEY_BYTES])


@dataclass(slots=True)
class Sent:
    at: float
    received_at: float | None = None


class StreamProbe:
    """One published stream (one participant's audio or video) and its one subscriber."""

    def __init__(self, kind: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.kind = kind
        self._clock = clock
        self._pending: dict[FrameKey, deque[Sent]] = {}
        self._window: list[Sent] | None = None
        self.sent = 0
        self.received = 0
        self.unmatched = 0  # received frames that no sent frame explains (should stay 0)

    def on_sent(self, data: bytes | memoryview) -> None:
        record = Sent(self._clock())
        self._pending.setdefault(frame_key(self.kind, data), deque()).append(record)
        self.sent += 1
        if self._window is not None:
            self._window.append(record)

    def on_received(self, key: FrameKey) -> float | None:
        """The latency in seconds of the frame `key` names, or None if it matches nothing."""
        now = self._clock()
        self.received += 1
        queue = self._pending.get(key)
        while queue and now - queue[0].at > MAX_AGE_S:
            queue.popleft()  # lost long ago: its twin from a later loop is the one arriving
        if not queue:
            self.unmatched += 1
            return None
        record = queue.popleft()
        record.received_at = now
        return now - record.at

    def open_window(self) -> None:
        self._window = []

    def close_window(self, end: float | None = None, grace_s: float = LOSS_GRACE_S) -> WindowStats:
        """What happened to the frames sent from open_window() to `end` (default: now)."""
        now = self._clock()
        window = [r for r in self._window or [] if end is None or r.at <= end]
        self._window = None
        settled = [r for r in window if r.at <= now - grace_s]
        lost = sum(1 for r in settled if r.received_at is None)
        latencies = [r.received_at - r.at for r in window if r.received_at is not None]
        return WindowStats(sent=len(window), settled=len(settled), lost=lost, latencies=latencies)


@dataclass
class WindowStats:
    sent: int  # frames the publisher sent during the window
    settled: int  # of those, the ones sent at least the grace before the window was closed
    lost: int  # of the settled ones, not received (yet)
    latencies: list[float]  # seconds, capture to receipt, of the window's frames received

    @property
    def loss_pct(self) -> float:
        return 100.0 * self.lost / self.settled if self.settled else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "settled": self.settled,
            "lost": self.lost,
            "loss_pct": round(self.loss_pct, 3),
            "latency_ms": summarize_ms(self.latencies),
        }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; values need not be sorted."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * min(max(q, 0.0), 100.0) / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_ms(seconds: Iterable[float]) -> dict[str, float | int]:
    values = [s * 1000.0 for s in seconds]
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50": round(percentile(values, 50), 2),
        "p95": round(percentile(values, 95), 2),
        "max": round(max(values), 2),
    }


class StampedTrack(MediaStreamTrack):
    """A player's track, passed through; each packet it hands the sender is stamped."""

    def __init__(self, inner: MediaStreamTrack, probe: StreamProbe) -> None:
        super().__init__()
        self.kind = inner.kind
        self._inner = inner
        self.probe = probe

    async def recv(self) -> av.Packet:
        packet = await self._inner.recv()
        assert isinstance(packet, av.Packet)
        self.probe.on_sent(memoryview(packet))
        return packet

    def stop(self) -> None:
        super().stop()
        self._inner.stop()
