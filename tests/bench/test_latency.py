"""Matching received frames to their capture stamps: latency, loss, equal frames, percentiles."""

from __future__ import annotations

import pytest

from tests.bench.latency import (
    KEY_BYTES,
    MAX_AGE_S,
    StreamProbe,
    frame_key,
    percentile,
    summarize_ms,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def video(n: int) -> bytes:
    """A distinct video frame whose first KEY_BYTES name it."""
    return n.to_bytes(4, "big") * (KEY_BYTES // 4) + b"rest of the frame" * 10


def test_keys_of_video_are_its_first_bytes_and_of_audio_all_of_it() -> None:
    frame = video(7)
    assert frame_key("video", frame) == frame[:KEY_BYTES]
    assert frame_key("video", memoryview(frame)) == frame[:KEY_BYTES]
    assert frame_key("audio", b"\x01\x02\x03") == b"\x01\x02\x03"
    # A frame shorter than the key is named by all of it, on both sides alike.
    assert frame_key("video", b"tiny") == b"tiny"


def test_latency_is_receipt_minus_capture() -> None:
    clock = FakeClock()
    probe = StreamProbe("video", clock)
    probe.on_sent(video(1))
    clock.now += 0.004
    probe.on_sent(video(2))
    clock.now += 0.010
    assert probe.on_received(frame_key("video", video(2))) == pytest.approx(0.010)
    assert probe.on_received(frame_key("video", video(1))) == pytest.approx(0.014)
    assert probe.on_received(frame_key("video", video(3))) is None
    assert (probe.sent, probe.received, probe.unmatched) == (2, 3, 1)


def test_equal_frames_match_first_in_first_out() -> None:
    clock = FakeClock()
    probe = StreamProbe("audio", clock)
    for _ in range(3):
        probe.on_sent(b"silence")
        clock.now += 0.020
    key = frame_key("audio", b"silence")
    latencies = [probe.on_received(key) for _ in range(3)]
    assert latencies == pytest.approx([0.060, 0.040, 0.020])


def test_a_stamp_too_old_is_a_lost_frame_not_a_match() -> None:
    clock = FakeClock()
    probe = StreamProbe("audio", clock)
    probe.on_sent(b"loop")  # lost
    clock.now += MAX_AGE_S + 5  # the file plays again: the same frame is sent once more
    probe.on_sent(b"loop")
    clock.now += 0.002
    assert probe.on_received(frame_key("audio", b"loop")) == pytest.approx(0.002)


def test_window_counts_loss_of_settled_frames_only() -> None:
    clock = FakeClock()
    probe = StreamProbe("video", clock)
    probe.on_sent(video(0))  # before the window: not counted
    probe.open_window()
    for n in range(1, 11):
        probe.on_sent(video(n))
        clock.now += 0.1
    for n in (1, 2, 3, 5, 6, 7, 8, 9):  # 4 is lost; 10 is still on its way
        probe.on_received(frame_key("video", video(n)))
    stats = probe.close_window(grace_s=0.15)
    assert stats.sent == 10
    assert stats.settled == 9  # frame 10 was sent 0.1 s before the end, within the grace
    assert stats.lost == 1
    assert stats.loss_pct == pytest.approx(100 / 9)
    assert len(stats.latencies) == 8
    assert stats.to_json()["latency_ms"]["count"] == 8


def test_percentile_interpolates() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0
    assert percentile([3.0], 95) == 3.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summarize_in_milliseconds() -> None:
    assert summarize_ms([]) == {"count": 0}
    summary = summarize_ms([0.001, 0.002, 0.003])
    assert summary == {"count": 3, "p50": 2.0, "p95": 2.9, "max": 3.0}


def test_window_ends_before_it_is_closed() -> None:
    """Frames sent after the window's end are not its own; those before had the grace."""
    clock = FakeClock()
    probe = StreamProbe("video", clock)
    probe.open_window()
    probe.on_sent(video(1))
    clock.now += 0.5
    ended = clock.now
    clock.now += 0.1
    probe.on_sent(video(2))  # after the end
    clock.now += 1.0  # the grace
    stats = probe.close_window(ended)
    assert (stats.sent, stats.settled, stats.lost) == (1, 1, 1)
