"""Frames out of aiortc's receive buffer as soon as they are whole, not one frame later.

aiortc 1.16.0's JitterBuffer knows a frame is complete only when the first packet of the next
frame arrives (its timestamp differs), and its audio receivers also hold four frames back
(`prefetch=4`). That suits a player; in a forwarding server it delays every video frame by one
frame interval (33 ms at 30 fps) and every audio packet by about 80 ms before subscribers, the
recorder and identity see them (measured in docs/bench/janus.md: 35 ms video, 80-95 ms audio
added, against Janus's 1-2 ms).

- video: a frame is whole when every packet from the buffer's origin up to one carrying the
  RTP marker bit (the last packet of a frame, RFC 7741 for VP8, RFC 6184 for H.264) is there,
  all with one timestamp; otherwise aiortc's own rule (the next frame began) still applies,
  for a frame whose marked packet was lost;
- audio: every Opus packet is a frame, handed on as it arrives. aiortc asks no retransmission
  of audio, so a missing packet is skipped once `AUDIO_REORDER_PACKETS` later ones are there
  (the decoder conceals the loss) instead of holding everything until the buffer overflows;
- aiortc hands on at most one frame per packet received, so after a gap is filled (a
  retransmission, a skipped audio packet) the frames queued behind it would leave one per
  later packet, late (audio stays a packet behind); `ready_frames()` gives them at once (the
  receiver tap asks for them).

The buffers keep aiortc's storage, sequence-number handling and loss rules (they subclass it);
`install()` swaps one receiver's buffer for the matching one, moving what it already holds.

Where media/_frames.c is built and the C core is on (media/core.py), `install()` gives the
receiver that module's `FrameBuffer` instead: these same rules and the depayload in C, one call
per packet (media/sync_receive.py calls it with the depayload to do). The classes here stay its
reference (tests/media/test_frames_core.py compares them on the same packets).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket

from media import core

try:
    from media._frames import FrameBuffer
except ImportError:  # built optionally (pyproject.toml), as the forwarding core
    FrameBuffer = None  # type: ignore[assignment,misc]

# aiortc 1.16.0's private attributes (media/compat.py checks the pinned version).
RECEIVER_JITTER_BUFFER = "_RTCRtpReceiver__jitter_buffer"
RECEIVER_TIMESTAMP_MAPPER = "_RTCRtpReceiver__timestamp_mapper"

# Later audio packets that must be there before a missing one is given up: two 20 ms packets
# tolerate the reordering seen on real paths without holding the stream much longer.
AUDIO_REORDER_PACKETS = 2


class _Draining(JitterBuffer):
    # Called with every packet the receiver stores (RTX unwrapped, depayloaded), before it is
    # stored: the packet-level forwarders are fed here (media/receiver_tap.py sets it).
    forward: Callable[[RtpPacket], None] | None = None
    # Whether anyone consumes whole frames; if not, packets are forwarded and not stored.
    frames_wanted = True

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        forward = self.forward
        if forward is not None:
            forward(packet)
        if not self.frames_wanted:
            if self._origin is not None:
                # Start afresh when frames are wanted again, not from stale packets.
                self.remove(self.capacity)
                self._origin = None
            return False, None
        return super().add(packet)

    def ready_frames(self) -> list[JitterFrame]:
        """Every further frame that is whole now, in order (after one was just handed on)."""
        frames = []
        while (frame := self._next_frame()) is not None:
            frames.append(frame)
        return frames

    def _next_frame(self) -> JitterFrame | None:
        return self._remove_frame(0)


class VideoFrameBuffer(_Draining):
    # The newest packet so far: (sequence number, timestamp).
    _newest: tuple[int, int] | None = None
    # Whether the last look found no whole frame: none waits behind the one handed on.
    _nothing_whole = False

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        # aiortc calls this after storing each packet. The packet right after the newest one,
        # of the same frame and without the marker bit, can complete nothing: it fills no gap,
        # ends no frame and starts none. Most packets of a video frame are such; both scans
        # below would walk the frame's packets again for each of them (for a keyframe of 20
        # packets, 400 steps). Unless frames are still waiting to be handed on, one a packet
        # (ready_frames() was not asked): then the scans run as before.
        packet = self._packets[sequence_number % self._capacity]
        if packet is not None:
            newest = self._newest
            if newest is None or (sequence_number - newest[0]) & 0xFFFF < 0x8000:
                self._newest = (sequence_number, packet.timestamp)
            if (
                self._nothing_whole
                and newest is not None
                and not packet.marker
                and sequence_number == (newest[0] + 1) & 0xFFFF
                and packet.timestamp == newest[1]
            ):
                return None
        return self._next_frame()

    def _next_frame(self) -> JitterFrame | None:
        frame = self._complete_at_marker()
        if frame is None:
            frame = super()._remove_frame(0)  # aiortc's scan does not use the number
        self._nothing_whole = frame is None
        return frame

    def _complete_at_marker(self) -> JitterFrame | None:
        if self._origin is None:
            return None
        packets: list[RtpPacket] = []
        timestamp = None
        for count in range(self._capacity):
            packet = self._packets[(self._origin + count) % self._capacity]
            if packet is None:
                return None  # a gap: not whole yet
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                return None  # an earlier frame without its marker: aiortc's rule decides
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                data: Any = b"".join(p._data for p in packets)  # type: ignore[attr-defined]
                return JitterFrame(data=data, timestamp=timestamp)
        return None


class AudioFrameBuffer(_Draining):
    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        if self._origin is None:
            return None
        packet = self._packets[self._origin % self._capacity]
        if packet is None:
            later = [
                ahead
                for ahead in range(1, self._capacity)
                if self._packets[(self._origin + ahead) % self._capacity] is not None
            ]
            if len(later) < AUDIO_REORDER_PACKETS:
                return None  # perhaps only reordered: wait a little
            self.remove(later[0])  # give up the missing ones
            packet = self._packets[self._origin % self._capacity]
            assert packet is not None
        self.remove(1)
        return JitterFrame(data=packet._data, timestamp=packet.timestamp)  # type: ignore[attr-defined]


Buffer = VideoFrameBuffer | AudioFrameBuffer | FrameBuffer


def in_c() -> bool:
    """Whether `install()` gives receivers the C buffer (built, and the core not off)."""
    return FrameBuffer is not None and core.enabled()


def install(receiver: RTCRtpReceiver, kind: str) -> Buffer:
    """Give one receiver the low-latency buffer of its kind, keeping any packets it holds."""
    old: JitterBuffer | Buffer = getattr(receiver, RECEIVER_JITTER_BUFFER)
    if isinstance(old, VideoFrameBuffer | AudioFrameBuffer) or not isinstance(old, JitterBuffer):
        return old  # installed already
    video = kind == "video"
    new: Buffer
    if in_c():
        new = FrameBuffer(capacity=old.capacity, video=video, frame_type=JitterFrame)
        if old._origin is not None:
            # aiortc depayloaded what it stored (packet._data).
            held = [
                (p.sequence_number, p.timestamp, p.marker, p._data)  # type: ignore[attr-defined]
                for p in old._packets
                if p is not None
            ]
            new.load(old._origin, held)
    else:
        new = (VideoFrameBuffer if video else AudioFrameBuffer)(
            capacity=old.capacity, prefetch=0, is_video=video
        )
        new._origin = old._origin
        new._packets = old._packets
    setattr(receiver, RECEIVER_JITTER_BUFFER, new)
    return new
