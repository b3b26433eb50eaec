"""Counting what a benchmark subscriber receives at the RTP level, without assembling frames.

A subscriber in the load generator only has to say how many frames and bytes arrived. aiortc's
receive path would also run its bandwidth estimator, NACK generator, depacketizer and jitter
buffer for every packet: the same per-packet work as the server under test, on the same two
cores. This counter replaces `RTCRtpReceiver._handle_rtp_packet` on one receiver instance:

- a video frame is counted at the packet that carries the RTP marker bit (the last packet of a
  frame), an audio frame at every packet; RTX retransmissions are not counted;
- bytes are RTP payload bytes (the VP8 payload descriptor included, a few bytes per packet);
- a VP8 keyframe is read from the payload header of a frame's first packet;
- aiortc's per-source statistics are still fed, so receiver reports (RTCP RR) still go back to
  the server as a browser's would;
- instead of running aiortc's delay-based estimator, each video receiver sends a REMB of
  `REMB_BPS` once a second, as a browser does on an uncongested link once its estimate has
  ramped up. A forwarding server only relays or ignores it; a re-encoding server (the naive one)
  sets its encoder's bitrate from it, as it would for a browser.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiortc import RTCRtpReceiver
from aiortc.codecs import is_rtx
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtpPacket, pack_remb_fci

# aiortc 1.16.0's private attributes (media/compat.py checks the pinned version).
_CODECS = "_RTCRtpReceiver__codecs"
_REMOTE_STREAMS = "_RTCRtpReceiver__remote_streams"
_RTCP_SSRC = "_RTCRtpReceiver__rtcp_ssrc"

# Above aiortc's VP8 encoder ceiling (1.5 Mbit/s): the link is loopback, bandwidth is not scarce.
REMB_BPS = 3_000_000
REMB_INTERVAL_MS = 1000

OnFrame = Callable[[int, bool], None]  # (payload bytes of the frame so far, keyframe)


class RtpCounter:
    def __init__(self, receiver: RTCRtpReceiver, kind: str, on_frame: OnFrame) -> None:
        self.kind = kind
        self.packets = 0
        self._receiver = receiver
        self._on_frame = on_frame
        self._frame_bytes = 0
        self._keyframe = False
        self._next_remb_ms = 0
        self._media_types: dict[int, bool] = {}  # payload type -> is a media (not RTX) codec
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
        if not self._is_media(packet.payload_type):
            return
        self.packets += 1
        stats = self._streams.get(packet.ssrc)
        if stats is None:
            clock_rate = 90000 if self.kind == "video" else 48000
            stats = self._streams[packet.ssrc] = StreamStatistics(clock_rate)
        stats.add(packet)
        payload = packet.payload
        if self.kind == "video" and arrival_time_ms >= self._next_remb_ms:
            self._next_remb_ms = arrival_time_ms + REMB_INTERVAL_MS
            await self._send_remb(packet.ssrc)
        if self.kind == "audio":
            self._on_frame(len(payload), False)
            return
        if payload and payload[0] & 0x10:  # VP8 descriptor's S bit: a partition starts here
            descriptor, rest = VpxPayloadDescriptor.parse(payload)
            if descriptor.partition_id == 0 and rest:
                self._frame_bytes = 0
                self._keyframe = not rest[0] & 0x01  # P bit clear: a keyframe (RFC 7741)
        self._frame_bytes += len(payload)
        if packet.marker:
            self._on_frame(self._frame_bytes, self._keyframe)
            self._frame_bytes = 0
            self._keyframe = False

    async def _send_remb(self, media_ssrc: int) -> None:
        rtcp_ssrc = getattr(self._receiver, _RTCP_SSRC)
        if rtcp_ssrc is None:  # no RTCP yet (aiortc sets it when the transceiver starts)
            return
        remb = RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP,
            ssrc=rtcp_ssrc,
            media_ssrc=0,
            fci=pack_remb_fci(REMB_BPS, [media_ssrc]),
        )
        await self._receiver._send_rtcp(remb)
