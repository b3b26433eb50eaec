"""media/_frames.c: the C receive buffer against media/frame_buffers.py's, packet for packet.

Each stream goes through both the way media/sync_receive.py feeds them: the Python buffer after
aiortc's depayload (a packet that cannot be depayloaded is dropped before the buffer), the C
buffer with the depayload to do. After every packet both must have forwarded the same packets
and answered the same (PLI flag, frame); `ready_frames()` asked at random points must agree too.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from typing import Any

import pytest
from aiortc import RTCRtpCodecParameters
from aiortc.codecs import depayload
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket

from media.frame_buffers import AudioFrameBuffer, VideoFrameBuffer

_frames = pytest.importorskip("media._frames", reason="media/_frames.c is not built here")
FrameBuffer = _frames.FrameBuffer

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)

Result = tuple[str, Any]


def _vp8_payload(rng: random.Random, keyframe_start: bool) -> bytes:
    """A VP8 payload descriptor of any shape RFC 7741 allows, then the frame's bytes."""
    extended = rng.random() < 0.7
    first = (0x80 if extended else 0) | (0x10 if keyframe_start else 0) | rng.randrange(8)
    descriptor = bytes([first])
    if extended:
        bits = rng.randrange(16) << 4
        descriptor += bytes([bits])
        if bits & 0x80:
            if rng.random() < 0.5:
                descriptor += struct.pack("!H", 0x8000 | rng.randrange(0x8000))
            else:
                descriptor += bytes([rng.randrange(0x80)])
        if bits & 0x40:
            descriptor += bytes([rng.randrange(256)])
        if bits & 0x30:
            descriptor += bytes([rng.randrange(256)])
    return descriptor + rng.randbytes(rng.randint(0, 60))


def _packet(sequence: int, timestamp: int, marker: bool, payload: bytes) -> RtpPacket:
    packet = RtpPacket(
        payload_type=96, sequence_number=sequence & 0xFFFF, timestamp=timestamp & 0xFFFFFFFF
    )
    packet.marker = int(marker)
    packet.payload = payload
    return packet


def _video(rng: random.Random, frames: int) -> list[RtpPacket]:
    packets: list[RtpPacket] = []
    sequence, timestamp = rng.randrange(65536), rng.randrange(1 << 32)
    for _ in range(frames):
        parts = rng.randint(1, 5)
        for part in range(parts):
            packets.append(
                _packet(sequence, timestamp, part == parts - 1, _vp8_payload(rng, part == 0))
            )
            sequence += 1
        timestamp += 3000
    return packets


def _audio(rng: random.Random, count: int) -> list[RtpPacket]:
    sequence, timestamp = rng.randrange(65536), rng.randrange(1 << 32)
    return [
        _packet(
            sequence + i, timestamp + 960 * i, rng.random() < 0.1, rng.randbytes(rng.randint(0, 80))
        )
        for i in range(count)
    ]


def _disorder(rng: random.Random, packets: list[RtpPacket], video: bool) -> list[RtpPacket]:
    """Loss, late repairs, swaps, duplicates, jumps of the numbering, broken payloads."""
    arrival: list[RtpPacket] = []
    late: list[tuple[int, RtpPacket]] = []
    for index, packet in enumerate(packets):
        roll = rng.random()
        if roll < 0.05:
            continue  # lost for good
        if roll < 0.10:
            late.append((index + rng.randint(1, 40), packet))
            continue
        if roll < 0.12 and arrival:
            arrival.insert(len(arrival) - 1, packet)
        elif roll < 0.13:
            arrival += [packet, packet]
        elif roll < 0.135:
            # The sender's numbering jumps (a restart): ahead beyond the buffer, or far back.
            jump = rng.choice([200, 5000, 40000, -150, -3000])
            shifted = _packet(
                packet.sequence_number + jump, packet.timestamp, bool(packet.marker), packet.payload
            )
            arrival.append(shifted)
        elif roll < 0.14 and video:
            arrival.append(
                _packet(
                    packet.sequence_number, packet.timestamp, bool(packet.marker), bytes([0x80])
                )
            )
        elif roll < 0.145:
            arrival.append(
                _packet(packet.sequence_number, packet.timestamp, bool(packet.marker), b"")
            )
        else:
            arrival.append(packet)
        for entry in [entry for entry in late if entry[0] <= index]:
            late.remove(entry)
            arrival.append(entry[1])
    return arrival + [packet for _, packet in late]


def _frame(frame: JitterFrame | None) -> tuple[int, bytes] | None:
    return None if frame is None else (frame.timestamp, bytes(frame.data))


def _through_python(
    buffer: VideoFrameBuffer | AudioFrameBuffer, codec: RTCRtpCodecParameters
) -> Callable[[RtpPacket], Result]:
    def add(packet: RtpPacket) -> Result:
        if buffer.frames_wanted:
            try:
                packet._data = depayload(codec, packet.payload) if packet.payload else b""  # type: ignore[attr-defined]
            except ValueError:
                return ("dropped", None)
        pli, frame = buffer.add(packet)
        return ("added", (pli, _frame(frame)))

    return add


def _through_c(buffer: Any, how: int) -> Callable[[RtpPacket], Result]:
    def add(packet: RtpPacket) -> Result:
        try:
            pli, frame = buffer.add(packet, how)
        except ValueError:
            return ("dropped", None)
        return ("added", (pli, _frame(frame)))

    return add


def _compare(packets: list[RtpPacket], video: bool, seed: int, toggles: bool = False) -> int:
    """Both buffers fed `packets`; returns how many frames they gave (asserting they agree)."""
    rng = random.Random(seed)
    capacity = 128 if video else 16
    python = (
        VideoFrameBuffer(capacity=capacity, is_video=True)
        if video
        else AudioFrameBuffer(capacity=capacity)
    )
    c = FrameBuffer(capacity=capacity, video=video, frame_type=JitterFrame)
    forwarded: dict[str, list[int]] = {"python": [], "c": []}
    python.forward = lambda p: forwarded["python"].append(p.sequence_number)
    c.forward = lambda p: forwarded["c"].append(p.sequence_number)
    codec = VP8 if video else OPUS
    add_python = _through_python(python, codec)
    add_c = _through_c(c, _frames.DEPAYLOAD_VP8 if video else _frames.DEPAYLOAD_AS_IS)
    frames = 0
    for index, packet in enumerate(packets):
        if toggles and rng.random() < 0.02:
            wanted = rng.random() < 0.7
            python.frames_wanted = c.frames_wanted = wanted
        expected, got = add_python(packet), add_c(packet)
        assert got == expected, f"packet {index} (seq {packet.sequence_number})"
        if rng.random() < 0.3:
            ready_python = (
                [_frame(f) for f in python.ready_frames()] if python._origin is not None else []
            )
            ready_c = [_frame(f) for f in c.ready_frames()]
            assert ready_c == ready_python, f"ready after packet {index}"
            frames += len(ready_c)
        frames += expected[0] == "added" and expected[1][1] is not None
        assert c.origin == python._origin
    assert forwarded["c"] == forwarded["python"]
    return frames


def test_video_side_by_side_on_disordered_streams() -> None:
    frames = 0
    for seed in range(60):
        rng = random.Random(seed)
        frames += _compare(_disorder(rng, _video(rng, 150), video=True), video=True, seed=seed)
    assert frames > 60 * 50  # the streams gave frames, not only gaps (of 150 each)


def test_audio_side_by_side_on_disordered_streams() -> None:
    frames = 0
    for seed in range(60):
        rng = random.Random(seed)
        frames += _compare(_disorder(rng, _audio(rng, 300), video=False), video=False, seed=seed)
    assert frames > 60 * 200


def test_side_by_side_while_frames_are_wanted_and_not() -> None:
    for seed in range(30):
        rng = random.Random(1000 + seed)
        _compare(_disorder(rng, _video(rng, 100), video=True), video=True, seed=seed, toggles=True)
        _compare(
            _disorder(rng, _audio(rng, 200), video=False), video=False, seed=seed, toggles=True
        )


def test_a_clean_video_stream_leaves_frame_by_frame_at_the_marker() -> None:
    rng = random.Random(5)
    packets = _video(rng, 30)
    c = FrameBuffer(capacity=128, video=True, frame_type=JitterFrame)
    left = []
    for index, packet in enumerate(packets):
        pli, frame = c.add(packet, _frames.DEPAYLOAD_VP8)
        assert not pli
        if frame is not None:
            left.append(index)
            assert isinstance(frame, JitterFrame)
    assert left == [i for i, p in enumerate(packets) if p.marker]
    assert c.held == 0


def test_h264_and_others_take_what_python_depayloaded() -> None:
    c = FrameBuffer(capacity=16, video=False, frame_type=JitterFrame)
    packet = _packet(7, 960, True, b"as sent")
    packet._data = b"depayloaded"  # type: ignore[attr-defined]
    _, frame = c.add(packet, _frames.DEPAYLOAD_DONE)
    assert frame.data == b"depayloaded"
    _, frame = c.add(_packet(8, 1920, True, b"as sent"), _frames.DEPAYLOAD_AS_IS)
    assert frame.data == b"as sent"


def test_a_broken_vp8_descriptor_is_dropped_before_it_is_forwarded() -> None:
    c = FrameBuffer(capacity=128, video=True, frame_type=JitterFrame)
    seen: list[int] = []
    c.forward = lambda p: seen.append(p.sequence_number)
    for payload in (
        bytes([0x80]),
        bytes([0x80, 0x80]),
        bytes([0x80, 0x80, 0x80]),
        bytes([0x80, 0x40]),
        bytes([0x80, 0x20]),
    ):
        with pytest.raises(ValueError, match="VPX descriptor"):
            c.add(_packet(1, 0, True, payload), _frames.DEPAYLOAD_VP8)
    assert seen == [] and c.held == 0
    c.frames_wanted = False  # nothing depayloaded: forwarded as it is
    assert c.add(_packet(1, 0, True, bytes([0x80])), _frames.DEPAYLOAD_VP8) == (False, None)
    assert seen == [1]


def test_bad_arguments_are_refused() -> None:
    for capacity in (0, 3, 65536):
        with pytest.raises(ValueError):
            FrameBuffer(capacity=capacity, video=True, frame_type=JitterFrame)
    with pytest.raises(TypeError):
        FrameBuffer(capacity=16, video=True, frame_type=None)
    c = FrameBuffer(capacity=16, video=True, frame_type=JitterFrame)
    with pytest.raises(ValueError):
        c.add(_packet(1, 0, True, b"\x10x"), 9)
    with pytest.raises(TypeError):
        c.forward = 5
    with pytest.raises(ValueError):
        c.remove(17)
    with pytest.raises(AttributeError):
        c.add(object(), _frames.DEPAYLOAD_VP8)
    with pytest.raises(AttributeError):
        c.add(_packet(1, 0, True, b"\x10x"))  # aiortc's path depayloads into _data first
    assert c.held == 0
