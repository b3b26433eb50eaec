"""Keyframe starts read from RTP payloads, on packets made by aiortc's own packetizers."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
import numpy as np
import pytest
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder

from media.frames import is_vp8_keyframe
from media.rtp_keyframes import (
    h264_starts_keyframe,
    keyframe_start_for,
    vp8_starts_keyframe,
)

pytestmark = pytest.mark.unit


def _vp8_frames(webm: Path) -> list[av.Packet]:
    with av.open(str(webm)) as container:
        return [p for p in container.demux(video=0) if p.size]


def test_only_the_first_packet_of_a_vp8_keyframe_starts_one(webm: Path) -> None:
    encoder = Vp8Encoder()
    keyframes = deltas = 0
    for packet in _vp8_frames(webm)[:40]:
        payloads, _ = encoder.pack(packet)
        keyframe = is_vp8_keyframe(bytes(packet))
        assert vp8_starts_keyframe(payloads[0]) is keyframe
        assert not any(vp8_starts_keyframe(p) for p in payloads[1:])
        keyframes += keyframe
        deltas += not keyframe
    assert keyframes >= 1 and deltas >= 10


def test_vp8_descriptor_extensions_are_skipped() -> None:
    # X=1 with a 15-bit picture ID, TL0PICIDX and TID/KEYIDX, then a keyframe's frame tag.
    descriptor = bytes([0x90, 0xE0, 0x80 | 0x12, 0x34, 0x07, 0x40])
    assert vp8_starts_keyframe(descriptor + bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A]))
    assert not vp8_starts_keyframe(descriptor + bytes([0x11, 0x02, 0x00]))
    # Not the start of partition 0, or truncated: never a start.
    assert not vp8_starts_keyframe(bytes([0x11, 0x10]))
    assert not vp8_starts_keyframe(bytes([0x80]))
    assert not vp8_starts_keyframe(b"")


def _h264_payloads(frames: int) -> list[list[bytes]]:
    encoder = H264Encoder()
    out = []
    for index in range(frames):
        rgb = np.full((240, 320, 3), (index * 7) % 256, dtype=np.uint8)
        rgb[:, (index * 9) % 320 :, 2] = 180
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = index * 3000, fractions.Fraction(1, 90000)
        payloads, _ = encoder.encode(frame, force_keyframe=index == 5)
        out.append(payloads)
    return out


def test_h264_keyframes_start_at_their_parameter_sets_and_nowhere_else() -> None:
    frames = _h264_payloads(8)
    starts = [[h264_starts_keyframe(p) for p in payloads] for payloads in frames]
    # Frame 0 and the forced frame 5 are IDR pictures: their first packet starts them.
    for index in (0, 5):
        assert starts[index][0], f"frame {index} should start a keyframe"
    for index, flags in enumerate(starts):
        if index not in (0, 5):
            assert not any(flags), f"delta frame {index} claimed a keyframe"


def test_h264_fragments_and_aggregates() -> None:
    idr_start = bytes([0x7C, 0x85]) + b"\x00" * 10  # FU-A, S=1, type 5
    idr_middle = bytes([0x7C, 0x05]) + b"\x00" * 10  # FU-A, S=0
    stap_sps = bytes([0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xCE])
    stap_delta = bytes([0x78, 0x00, 0x02, 0x41, 0x9A])
    assert h264_starts_keyframe(idr_start)
    assert not h264_starts_keyframe(idr_middle)
    assert h264_starts_keyframe(stap_sps)
    assert not h264_starts_keyframe(stap_delta)
    assert not h264_starts_keyframe(bytes([0x41]))


def test_unknown_codecs_never_start() -> None:
    assert keyframe_start_for("video/VP8") is vp8_starts_keyframe
    assert keyframe_start_for("video/h264") is h264_starts_keyframe
    assert not keyframe_start_for("video/AV1")(bytes([0x10, 0x00, 0x00, 0x9D, 0x01, 0x2A]))
