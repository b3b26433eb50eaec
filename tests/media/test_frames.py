"""Keyframe detection on real encoder output, and the av.Packet handed to aiortc's sender."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np
import pytest

from media import CodecInfo, EncodedFrame, is_keyframe

pytestmark = pytest.mark.unit

VP8 = CodecInfo("video/VP8", 90000)
H264 = CodecInfo("video/H264", 90000, parameters={"packetization-mode": "1"})
OPUS = CodecInfo("audio/opus", 48000, 2)


def test_vp8_keyframes_of_the_generated_file(webm: Path) -> None:
    with av.open(str(webm)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    flags = [is_keyframe(VP8, bytes(p)) for p in packets]
    assert flags == [p.is_keyframe for p in packets]
    assert flags[0] and sum(flags) == len(packets) // 30


def test_h264_idr_access_units_are_keyframes() -> None:
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 64, 64, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 30)
    encoder.gop_size = 10
    encoder.options = {"tune": "zerolatency"}
    packets = []
    for index in range(12):
        frame = av.VideoFrame.from_ndarray(
            np.full((64, 64, 3), index * 20, dtype=np.uint8), format="rgb24"
        ).reformat(format="yuv420p")
        frame.pts = index
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    flags = [is_keyframe(H264, bytes(p)) for p in packets]
    assert bytes(packets[0]).startswith(b"\x00\x00\x00\x01")  # Annex-B
    assert flags == [p.is_keyframe for p in packets]
    assert flags[0] and not all(flags)


def test_audio_frames_are_always_decodable_starts() -> None:
    assert is_keyframe(OPUS, b"\x01\x02")


def test_packet_carries_pts_in_the_codec_clock() -> None:
    frame = EncodedFrame("audio", OPUS, b"opus", 960 * 5, True, 0.0)
    packet = frame.to_packet()
    assert bytes(packet) == b"opus"
    assert packet.pts == 4800 and packet.time_base == fractions.Fraction(1, 48000)
