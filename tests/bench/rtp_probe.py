"""A subscriber's frames, named by their first bytes, as their last RTP packet arrives.

Like tests/bench/rtp_counter.py (the load generator of issue 3 counts at the RTP level so that
it does not repeat the server's per-packet work), this replaces `_handle_rtp_packet` on one
aiortc receiver instance: no NACK generator, no bandwidth estimator, no depacketizer or jitter
buffer run. On top of counting it names each frame for tests/bench/latency.py:

- video (VP8): the frame starts at the packet whose payload descriptor has S=1 and partition 0;
  its key is the first KEY_BYTES of the frame (after the descriptor), which that packet holds;
  the frame is complete at the packet with the RTP marker bit, and is reported then;
- audio (Opus): one packet is one frame, its whole payload is the key.

RTX retransmissions are ignored (on loopback there are none to speak of). aiortc's per-source
statistics are still fed, so receiver reports (RTCP RR) still go back to the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.codecs import is_rtx
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtpPacket

from tests.bench.latency import FrameKey, frame_key

# aiortc 1.16.0's private attributes (media/compat.py checks the pinned version).
_CODECS = "_RTCRtpReceiver__codecs"
_REMOTE_STREAMS = "_RTCRtpReceiver__remote_streams"

OnFrame = Callable[[FrameKey | None, int, bool], None]  # (key, payload bytes, keyframe)


class RtpProbe:
    def __init__(self, receiver: RTCRtpReceiver, kind: str, on_frame: OnFrame) -> None:
        self.kind = kind
        self.packets = 0
        self.last_packet_at = 0.0
        self._receiver = receiver
        self._on_frame = on_frame
        self._key: FrameKey | None = None  # of the video frame under way
        self._frame_bytes = 0
        self._keyframe = False
        self._media_types: dict[int, bool] = {}  # payload type -> a media codec (not RTX)
        self._streams: dict[int, StreamStatistics] = getattr(receiver, _REMOTE_STREAMS)
        # An instance attribute shadows the method for RTCDtlsTransport's router.
        receiver._handle_rtp_packet = self._handle_rtp_packet  # type: ignore[method-assign]

    def _is_media(self, payload_type: int) -> bool:
        known = self._media_types.get(payload_type)
        if known is None:
            codec: Any = getattr(self._receiver, _CODECS).get(payload_type)
            known = self._media_types[payload_type] = codec is not None and not is_rtx(codec)
        return known

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        self.handle(packet)

    def handle(self, packet: RtpPacket) -> None:
        if not self._is_media(packet.payload_type):
            return
        self.packets += 1
        self.last_packet_at = time.monotonic()
        stats = self._streams.get(packet.ssrc)
        if stats is None:
            clock_rate = 90000 if self.kind == "video" else 48000
            stats = self._streams[packet.ssrc] = StreamStatistics(clock_rate)
        stats.add(packet)
        payload = packet.payload
        if self.kind == "audio":
            self._on_frame(frame_key("audio", payload), len(payload), False)
            return
        if payload and payload[0] & 0x10:  # VP8 descriptor's S bit: a partition starts here
            descriptor, rest = VpxPayloadDescriptor.parse(payload)
            if descriptor.partition_id == 0 and rest:
                self._key = frame_key("video", rest)
                self._frame_bytes = 0
                self._keyframe = not rest[0] & 0x01  # P bit clear: a keyframe (RFC 7741)
        self._frame_bytes += len(payload)
        if packet.marker:
            self._on_frame(self._key, self._frame_bytes, self._keyframe)
            self._key = None
            self._frame_bytes = 0
            self._keyframe = False
