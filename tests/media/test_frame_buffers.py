"""media/frame_buffers.py: frames leave as soon as they are whole, against aiortc's buffer."""

from __future__ import annotations

import random

import pytest
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket

from media.frame_buffers import AudioFrameBuffer, VideoFrameBuffer

Frame = tuple[int, bytes]  # (timestamp, data)


def _packet(seq: int, timestamp: int, data: bytes, marker: bool) -> RtpPacket:
    packet = RtpPacket(sequence_number=seq & 0xFFFF, timestamp=timestamp)
    packet.marker = int(marker)
    packet._data = data  # type: ignore[attr-defined]  # what aiortc's depayloader sets
    return packet


def _video_stream(frames: int, seed: int, first_seq: int = 65530) -> list[RtpPacket]:
    """Frames of 1-4 packets, 3000 ticks apart; the sequence numbers wrap around."""
    rng = random.Random(seed)
    packets, seq = [], first_seq
    for index in range(frames):
        parts = rng.randint(1, 4)
        for part in range(parts):
            data = bytes([index % 256, part]) * rng.randint(1, 50)
            packets.append(_packet(seq, 1000 + 3000 * index, data, part == parts - 1))
            seq += 1
    return packets


def _feed(buffer: JitterBuffer, packets: list[RtpPacket]) -> list[tuple[int, Frame | None]]:
    """After each packet (by its index in `packets`), the frame the buffer gave, if any."""
    out: list[tuple[int, Frame | None]] = []
    for index, packet in enumerate(packets):
        _, frame = buffer.add(packet)
        out.append((index, None if frame is None else (frame.timestamp, frame.data)))
    return out


def _frames(fed: list[tuple[int, Frame | None]]) -> list[Frame]:
    return [frame for _, frame in fed if frame is not None]


def _expected(packets: list[RtpPacket]) -> list[Frame]:
    by_timestamp: dict[int, bytes] = {}
    for packet in sorted(packets, key=lambda p: p.timestamp):  # stable: in sending order
        by_timestamp[packet.timestamp] = by_timestamp.get(packet.timestamp, b"") + packet._data  # type: ignore[attr-defined]
    return sorted(by_timestamp.items())


def test_a_video_frame_leaves_with_its_last_packet() -> None:
    packets = _video_stream(40, seed=1)
    fed = _feed(VideoFrameBuffer(capacity=128, is_video=True), packets)
    # Every frame leaves at the packet that carries the marker bit, not one packet later.
    left_at = [index for index, frame in fed if frame is not None]
    assert left_at == [i for i, p in enumerate(packets) if p.marker]
    assert _frames(fed) == _expected(packets)


def test_aiortc_holds_each_frame_until_the_next_one_begins() -> None:
    """The reason for the module: the same stream through aiortc's buffer, one frame late."""
    packets = _video_stream(40, seed=1)
    fed = _feed(JitterBuffer(capacity=128, is_video=True), packets)
    left_at = [index for index, frame in fed if frame is not None]
    markers = [i for i, p in enumerate(packets) if p.marker]
    assert left_at == [m + 1 for m in markers[:-1]]  # the last frame has not even left yet
    assert _frames(fed) == _expected(packets)[:-1]


def test_packets_out_of_order_within_a_frame_still_make_it_whole() -> None:
    packets = _video_stream(30, seed=2)
    rng = random.Random(5)
    shuffled: list[RtpPacket] = []
    by_frame: dict[int, list[RtpPacket]] = {}
    for packet in packets:
        by_frame.setdefault(packet.timestamp, []).append(packet)
    for frame_packets in by_frame.values():
        shuffled += rng.sample(frame_packets, len(frame_packets))
    fed = _feed(VideoFrameBuffer(capacity=128, is_video=True), shuffled)
    assert _frames(fed) == _expected(packets)


def test_without_marker_bits_frames_leave_by_aiortcs_rule() -> None:
    """A sender that never sets the marker bit loses only the gain, never a frame."""
    packets = _video_stream(20, seed=3)
    for packet in packets:
        packet.marker = 0
    ours = _feed(VideoFrameBuffer(capacity=128, is_video=True), packets)
    theirs = _feed(JitterBuffer(capacity=128, is_video=True), packets)
    assert ours == theirs
    assert _frames(ours) == _expected(packets)[:-1]


def test_a_lost_packet_holds_its_frame_until_the_retransmission() -> None:
    packets = _video_stream(10, seed=6)
    lost = next(i for i, p in enumerate(packets) if not p.marker)  # inside the first frames
    buffer = VideoFrameBuffer(capacity=128, is_video=True)
    before = _frames(_feed(buffer, packets[:lost] + packets[lost + 1 :]))
    assert all(t < packets[lost].timestamp for t, _ in before)  # nothing from there on
    _, frame = buffer.add(packets[lost])  # the NACKed packet arrives again
    assert frame is not None and frame.timestamp == packets[lost].timestamp


def test_audio_packets_leave_as_they_arrive() -> None:
    packets = [_packet(100 + i, 960 * i, bytes([i]) * 20, i == 0) for i in range(30)]
    fed = _feed(AudioFrameBuffer(capacity=16), packets)
    assert all(frame is not None for _, frame in fed)
    assert _frames(fed) == [(p.timestamp, p._data) for p in packets]  # type: ignore[attr-defined]
    # aiortc's audio buffer (prefetch=4) gives the first frame only four packets later.
    aiortc = _feed(JitterBuffer(capacity=16, prefetch=4), packets)
    assert next(index for index, frame in aiortc if frame is not None) == 4


@pytest.mark.parametrize("in_c", [False, True], ids=["python", "c"])
def test_install_keeps_what_the_receivers_buffer_holds(
    in_c: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Receiver:  # just the private attribute install() works on
        pass

    from media import core, frame_buffers

    if in_c and frame_buffers.FrameBuffer is None:
        pytest.skip("media/_frames.c is not built here")
    monkeypatch.setattr(core, "_enabled", in_c)
    receiver = Receiver()
    old = JitterBuffer(capacity=128, is_video=True)
    packets = _video_stream(2, seed=4, first_seq=10)
    first_frame = [p for p in packets if p.timestamp == packets[0].timestamp]
    for packet in first_frame[:-1]:
        old.add(packet)
    setattr(receiver, frame_buffers.RECEIVER_JITTER_BUFFER, old)
    frame_buffers.install(receiver, "video")  # type: ignore[arg-type]
    new = getattr(receiver, frame_buffers.RECEIVER_JITTER_BUFFER)
    expected = frame_buffers.FrameBuffer if in_c else VideoFrameBuffer
    assert isinstance(new, expected) and new.capacity == 128
    assert frame_buffers.install(receiver, "video") is new  # type: ignore[arg-type]  # once
    _, frame = new.add(first_frame[-1])  # as aiortc's own path adds: depayloaded already
    assert isinstance(frame, JitterFrame)
    assert frame.data == b"".join(p._data for p in first_frame)  # type: ignore[attr-defined]


def test_a_lost_audio_packet_is_given_up_once_two_later_ones_are_there() -> None:
    packets = [_packet(200 + i, 960 * i, bytes([i]) * 20, False) for i in range(10)]
    buffer = AudioFrameBuffer(capacity=16)
    out: list[int] = []
    for packet in packets[:3] + packets[4:]:  # packet 3 never arrives (audio is not NACKed)
        _, frame = buffer.add(packet)
        for each in ([frame] if frame is not None else []) + buffer.ready_frames():
            out.append(each.timestamp // 960)
        if packet is packets[4]:
            assert out == [0, 1, 2]  # one later packet: perhaps only reordered, wait
    # At packet 5 the gap is given up and nothing stays queued behind it.
    assert out == [0, 1, 2, 4, 5, 6, 7, 8, 9]


def test_frames_queued_behind_a_filled_gap_all_leave_at_once() -> None:
    packets = _video_stream(8, seed=7)
    # Not the very first packet: a loss before anything arrived cannot be known.
    lost = next(i for i, p in enumerate(packets) if i > 0 and not p.marker)
    buffer = VideoFrameBuffer(capacity=128, is_video=True)
    before = []
    for packet in packets[:lost] + packets[lost + 1 :]:
        _, frame = buffer.add(packet)
        if frame is not None:
            before.append((frame.timestamp, frame.data))
    assert all(t < packets[lost].timestamp for t, _ in before)  # the rest waits behind the gap
    _, first = buffer.add(packets[lost])  # the retransmission
    assert first is not None
    rest = buffer.ready_frames()
    # aiortc would hand on one frame per later packet: late, one by one.
    got = before + [(f.timestamp, f.data) for f in [first, *rest]]
    assert got == _expected(packets)
    assert buffer.ready_frames() == []


class _ScanningEveryPacket(VideoFrameBuffer):
    """The buffer without its shortcut: both scans after every packet."""

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        return self._next_frame()


def test_skipping_the_scans_mid_frame_changes_nothing() -> None:
    """Loss, late repairs, reordering, missing markers: every frame leaves at the same packet."""
    for seed in range(40):
        rng = random.Random(seed)
        packets = _video_stream(120, seed=seed, first_seq=rng.randrange(65536))
        arrival: list[RtpPacket] = []
        late: list[tuple[int, RtpPacket]] = []
        for index, packet in enumerate(packets):
            roll = rng.random()
            if roll < 0.05:
                late.append((index + rng.randint(1, 12), packet))  # repaired later
                continue
            if roll < 0.07:
                packet.marker = 0  # a frame without its marker bit: aiortc's rule ends it
            if roll < 0.12 and arrival:
                arrival.insert(len(arrival) - 1, packet)  # swapped with the one before
            else:
                arrival.append(packet)
            for due, lost in [entry for entry in late if entry[0] <= index]:
                late.remove((due, lost))
                arrival.append(lost)
        arrival += [lost for _, lost in late]  # every repair comes in the end
        # As aiortc alone does (one frame a packet), and as the receiver tap does (the
        # frames waiting behind one handed on, at once).
        fast = _feed(VideoFrameBuffer(capacity=512, is_video=True), arrival)
        slow = _feed(_ScanningEveryPacket(capacity=512, is_video=True), arrival)
        assert fast == slow, f"seed {seed}"
        drained = _feed_draining(VideoFrameBuffer(capacity=512, is_video=True), arrival)
        scanned = _feed_draining(_ScanningEveryPacket(capacity=512, is_video=True), arrival)
        assert drained == scanned, f"seed {seed}, draining"
        assert len(drained) > 100


def _feed_draining(buffer: VideoFrameBuffer, packets: list[RtpPacket]) -> list[tuple[int, Frame]]:
    out: list[tuple[int, Frame]] = []
    for index, packet in enumerate(packets):
        _, frame = buffer.add(packet)
        if frame is not None:
            for each in [frame, *buffer.ready_frames()]:
                out.append((index, (each.timestamp, each.data)))
    return out
