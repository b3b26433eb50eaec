"""The RTP-level probe names each frame as the sender's stamp does, and counts it once."""

from __future__ import annotations

from typing import Any

from aiortc import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from tests.bench.latency import FrameKey, frame_key
from tests.bench.rtp_probe import RtpProbe

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
RTX = RTCRtpCodecParameters(
    mimeType="video/rtx", clockRate=90000, payloadType=97, parameters={"apt": 96}
)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


class FakeReceiver:
    def __init__(self, *codecs: RTCRtpCodecParameters) -> None:
        self._RTCRtpReceiver__codecs = {c.payloadType: c for c in codecs}
        self._RTCRtpReceiver__remote_streams: dict[int, Any] = {}


def packet(payload_type: int, seq: int, payload: bytes, marker: bool = False) -> RtpPacket:
    return RtpPacket(
        payload_type=payload_type,
        sequence_number=seq,
        timestamp=seq * 3000,
        ssrc=1234,
        marker=marker,
        payload=payload,
    )


def test_video_frame_named_by_its_first_bytes_reported_at_the_marker() -> None:
    receiver: Any = FakeReceiver(VP8, RTX)
    frames: list[tuple[FrameKey | None, int, bool]] = []
    probe = RtpProbe(receiver, "video", lambda *frame: frames.append(frame))
    keyframe = bytes([0x10]) + b"\x00" * 40  # P bit clear in the first payload byte
    inter = bytes([0x11]) + b"\x07" * 40
    start = bytes([0x10])  # descriptor: S=1, partition 0, no extensions
    more = bytes([0x00])  # a continuation packet's descriptor

    probe.handle(packet(96, 1, start + keyframe[:35]))
    probe.handle(packet(97, 2, b"\x00\x01" + start + keyframe[:35]))  # RTX: ignored
    probe.handle(packet(96, 3, more + keyframe[35:], marker=True))
    probe.handle(packet(96, 4, start + inter, marker=True))

    assert frames == [
        # The same key as the sender's stamp of the whole frame.
        (frame_key("video", keyframe), 1 + 35 + 1 + 6, True),
        (frame_key("video", inter), 1 + 41, False),
    ]
    assert probe.packets == 3
    assert receiver._RTCRtpReceiver__remote_streams[1234].packets_received == 3


def test_audio_packet_is_a_frame_named_by_all_of_it() -> None:
    frames: list[tuple[FrameKey | None, int, bool]] = []
    probe = RtpProbe(FakeReceiver(OPUS), "audio", lambda *frame: frames.append(frame))  # type: ignore[arg-type]
    probe.handle(packet(111, 1, b"\xfc\x01\x02"))
    assert frames == [(b"\xfc\x01\x02", 3, False)]
