"""REMB throttling: the estimator runs as before; only feedback that says nothing new is held."""

from __future__ import annotations

import itertools

import pytest
from aiortc.rate import RemoteBitrateEstimator

import media  # noqa: F401  (installs the throttle)
from media import remb_throttle

pytestmark = pytest.mark.unit


def abs_send_time(seconds: float) -> int:
    return int(seconds * (1 << 18)) & 0xFFFFFF  # 6.18 fixed point, 24 bits


def congested_trace(seconds: float = 12.0) -> list[tuple[int, int, int]]:
    """(arrival ms, abs-send-time, size): 1 Mbit/s sent at 100 packets a second; after 4 s the
    path queues, each packet 2 ms later than the one before, then recovers at 8 s."""
    packets = []
    delay = 0.0
    for index in range(int(seconds * 100)):
        sent = index / 100
        if 4 <= sent < 8:
            delay += 0.002
        elif delay > 0:
            delay = max(0.0, delay - 0.004)
        packets.append((round((sent + 0.02 + delay) * 1000), abs_send_time(sent), 1250))
    return packets


def run(add: object, trace: list[tuple[int, int, int]]) -> tuple[RemoteBitrateEstimator, list]:
    estimator = RemoteBitrateEstimator()
    sent = []
    for arrival, send_time, size in trace:
        feedback = add(estimator, arrival, send_time, size, 1234)  # type: ignore[operator]
        if feedback is not None:
            sent.append((arrival, feedback[0]))
    return estimator, sent


def test_install_replaces_what_the_receiver_calls() -> None:
    assert RemoteBitrateEstimator.add is remb_throttle.add


def test_overuse_no_longer_sends_a_remb_per_packet_and_the_estimate_is_unchanged() -> None:
    trace = congested_trace()
    plain, everything = run(remb_throttle.ORIGINAL_ADD, trace)
    throttled, kept = run(remb_throttle.add, trace)

    # aiortc sends on every packet while overusing: the trace does provoke that.
    assert len(everything) > 100
    assert 0 < len(kept) < len(everything) / 4
    # What is sent is what aiortc would have sent at that packet.
    assert set(kept) <= set(everything)
    # At most one per 200 ms, unless the value fell by 3 % or more.
    for (before_ms, before), (after_ms, after) in itertools.pairwise(kept):
        assert after_ms - before_ms >= remb_throttle.MIN_INTERVAL_MS or (
            after < before * remb_throttle.DROP_SENDS_AT_ONCE
        )
    # The estimator itself ran on every packet as before.
    assert throttled.rate_control.current_bitrate == plain.rate_control.current_bitrate
    assert throttled.detector.state() == plain.detector.state()
    # The lowest value aiortc reached went out: the publisher was told to slow down.
    assert min(b for _, b in kept) == min(b for _, b in everything)


def test_steady_feedback_every_500_ms_is_untouched() -> None:
    trace = [(t * 10 + 20, abs_send_time(t / 100), 1250) for t in range(1000)]
    _, everything = run(remb_throttle.ORIGINAL_ADD, trace)
    _, kept = run(remb_throttle.add, trace)
    assert kept == everything and len(everything) >= 10
