"""media/_remb.c: the C estimator against media/fast_remb.py's, packet for packet.

Both get the same packets: tests/media/test_fast_remb.py's traces (built with its builders), and
seeded fuzz of many thousands of packets (jitter, loss, duplicates, reordering, bursts,
congestion, abs-send-time wraps, both clocks stepping, empty packets, a second SSRC), and of
values no parser gives, up to the C class's bounds. Every return value (or exception type), and
the float-or-int attributes, must be equal by repr after every packet; the whole state, read
under the Python class's names by test_fast_remb's `fast_state`, now and then and at the end.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from aiortc import rate

from media import fast_remb, remb_throttle
from tests.media.test_fast_remb import (
    SSRC,
    Packet,
    abs_send_time,
    bottleneck,
    fast_state,
    fuzz_trace,
    vp8_stream,
)

_remb = pytest.importorskip("media._remb", reason="media/_remb.c is not built here")

pytestmark = pytest.mark.unit

# What the Python class raises where aiortc's would (ZeroDivisionError, OverflowError from a
# float power, ValueError from sqrt): the C class must raise the same on the same packet.
ERRORS = (ArithmeticError, ValueError)
LIMIT = 2**53  # the C class's bound on times and abs-send-times
OVERUSING = fast_remb.OVERUSING


def _call(estimator: Any, packet: Packet) -> Any:
    try:
        return estimator.add(*packet)
    except ERRORS as error:
        return type(error)


# Read after every packet: cheap, and the attributes that are an int or a float in Python.
LIGHT = [
    "hypothesis",
    "current_bitrate",
    "last_update_ms",
    "_rate_control_state",
    "_threshold",
    "_var_noise",
    "_overuse_time",
    "_avg_max_bitrate_kbps",
]


def _light(e: Any) -> str:
    return repr([getattr(e, name) for name in LIGHT])


def _state(e: Any) -> str:
    state = fast_state(e)  # drops the rate counter's stale entries first, on both sides alike
    state["throttle"] = getattr(e, "_last_sent_ms", None), getattr(e, "_last_sent_bitrate", None)
    return repr(state)


class Run:
    def __init__(self) -> None:
        self.outputs: list[Any] = []
        self.kinds: set[tuple[str, str]] = set()  # (attribute, type name) the Python class had


def side_by_side(trace: list[Packet], throttled: bool = False, every: int = 97) -> Run:
    if throttled:
        python: Any = fast_remb.ThrottledRemoteBitrateEstimator()
        c: Any = _remb.ThrottledEstimator()
    else:
        python, c = fast_remb.FastRemoteBitrateEstimator(), _remb.Estimator()
    run = Run()
    for index, packet in enumerate(trace):
        expected = _call(python, packet)
        got = _call(c, packet)
        assert repr(got) == repr(expected), f"packet {index} {packet}"
        assert _light(c) == _light(python), f"packet {index} {packet}"
        run.outputs.append(expected)
        for name in ("_threshold", "_var_noise", "_overuse_time"):
            run.kinds.add((name, type(getattr(python, name)).__name__))
        if isinstance(expected, type):
            break
        if index % every == 0:
            assert _state(c) == _state(python), f"packet {index}"
    assert _state(c) == _state(python)
    return run


# test_fast_remb.py's traces ------------------------------------------------------------------


def _frames_trace() -> list[Packet]:
    """tests/bench/packet_costs.py's: a frame's packets share send and arrival time."""
    rng = random.Random(2)
    return [
        (10_000 + frame * 33, abs_send_time(10_000 + frame * 33), rng.randrange(300, 1200), SSRC)
        for frame in range(900)
        for _ in range(rng.randint(1, 6))
    ]


def _long_gaps() -> list[Packet]:
    trace: list[Packet] = []
    start = 0.0
    for seconds, gap in ((5, 0.4), (4, 1.5), (3, 8), (5, 70), (5, 130), (3, 2), (2, 0)):
        trace += vp8_stream(len(trace), seconds, start_ms=start)
        start += (seconds + gap) * 1000
    return trace


def _send_clock_jumps() -> list[Packet]:
    trace = vp8_stream(7, 10, start_ms=64_000 - 3_000)
    trace += [(a + 10_000, (s + 0x800000) & 0xFFFFFF, n, x) for a, s, n, x in vp8_stream(8, 3)]
    trace += [(a + 14_000, s, n, x) for a, s, n, x in vp8_stream(9, 3)]
    return sorted(trace, key=lambda p: p[0])


def _arrival_clock_steps_back() -> list[Packet]:
    return [
        (a - (300 if i > 100 else 0) - (2_500 if i > 600 else 0), s, n, x)
        for i, (a, s, n, x) in enumerate(vp8_stream(10, 12))
    ]


def _held_then_delivered() -> list[Packet]:
    return [
        (max(a, 5_008_000) if 5_006_000 <= a < 5_008_000 else a, s, n, x)
        for a, s, n, x in vp8_stream(6, 20)
    ]


TRACES: dict[str, Callable[[], list[Packet]]] = {
    "vp8_across_a_wrap": lambda: vp8_stream(1, 90, start_ms=20_000),
    "frames": _frames_trace,
    "congestion": lambda: bottleneck(
        vp8_stream(3, 30, kbps=1500), lambda ms: 900 if 5_010_000 <= ms < 5_020_000 else 10_000
    ),
    "underuse": lambda: bottleneck(
        vp8_stream(4, 20, kbps=2000), lambda ms: 1600 if 5_004_000 <= ms < 5_008_000 else 50_000
    ),
    "long_gaps": _long_gaps,
    "held_then_delivered": _held_then_delivered,
    "send_clock_jumps": _send_clock_jumps,
    "arrival_clock_steps_back": _arrival_clock_steps_back,
    "both_clocks_step_back": lambda: vp8_stream(16, 10) + vp8_stream(17, 14, -10_000, kbps=4000),
    **{f"fuzz_{seed}": partial(fuzz_trace, seed) for seed in range(8)},
}


@pytest.mark.parametrize("name", TRACES)
def test_fast_remb_traces(name: str) -> None:
    side_by_side(TRACES[name]())


@pytest.mark.parametrize("name", ["congestion", "underuse", "fuzz_0", "fuzz_1"])
def test_fast_remb_traces_throttled(name: str) -> None:
    run = side_by_side(TRACES[name](), throttled=True)
    assert any(output is not None for output in run.outputs)


# Fuzz ------------------------------------------------------------------------------------------


def stream_fuzz(seed: int, packets: int = 20_000) -> list[Packet]:
    """A 30 fps stream through a network and two clocks that do everything at random: jitter,
    congestion (a FIFO link slower than the stream for a while), the network holding packets and
    then delivering them at once, the sender's clock jumping (abs-send-time wraps every 64 s
    besides), the arrival clock stepping back or ahead, loss, duplicates, reordering, empty
    packets, a second SSRC."""
    rng = random.Random(seed)
    calm = rng.choice([0.05, 0.2, 1.0])  # how often things happen
    jitter = rng.choice([0.0, 0.5, 3.0, 20.0])
    kbps = rng.choice([300, 1200, 3000])
    fast_link = 20.0 * kbps
    real_ms, sender_offset = 0.0, rng.uniform(0, 64_000)
    link_kbps, free_at, held_until = fast_link, 0.0, 0.0
    sent: list[tuple[float, int, int]] = []
    frame = 0
    while len(sent) < packets:
        roll = rng.random() / calm
        if roll < 0.002:
            sender_offset += rng.uniform(-5_000, 5_000)
        elif roll < 0.006:
            link_kbps = kbps * rng.uniform(0.4, 0.95)
        elif roll < 0.02:
            link_kbps = fast_link
        elif roll < 0.023:
            held_until = real_ms + rng.uniform(30, 1_500)
        size = kbps * 1000 / 8 / 30 * (6 if frame % 90 == 0 else rng.uniform(0.5, 1.4))
        count = max(1, round(size / 1200))
        for part in range(count):
            send = real_ms + part + rng.uniform(0, 0.3)
            arrival = max(send + 20 + rng.uniform(0, jitter), held_until)
            free_at = max(arrival, free_at) + size / count * 8 / link_kbps
            sent.append((free_at, abs_send_time(send + sender_offset), round(size / count)))
        real_ms += 1000 / 30
        frame += 1
    sent.sort(key=lambda p: p[0])
    trace: list[Packet] = []
    clock = 5_000_000 + rng.randrange(-(10**6), 10**6)
    for arrival, send, size in sent:
        roll = rng.random() / calm
        if roll < 0.001:
            clock -= rng.randrange(10, 3_000)
        elif roll < 0.002:
            clock += rng.randrange(10, 3_000)
        elif roll < 0.02:
            continue  # lost
        empty, other_ssrc = 0.06 <= roll < 0.065, 0.065 <= roll < 0.07
        packet = (round(arrival) + clock, send, 0 if empty else size, 7 if other_ssrc else SSRC)
        trace.append(packet)
        if roll < 0.035:
            trace.append(packet)  # duplicated
        elif roll < 0.06 and len(trace) > 4:  # swapped with an earlier one
            other = len(trace) - rng.randint(2, 4)
            trace[other], trace[-1] = trace[-1], trace[other]
    return trace


@pytest.mark.parametrize("seed", range(8))
def test_stream_fuzz(seed: int) -> None:
    run = side_by_side(stream_fuzz(seed))
    assert sum(output is not None for output in run.outputs) > 50


@pytest.mark.parametrize("seed", range(3))
def test_stream_fuzz_throttled(seed: int) -> None:
    side_by_side(stream_fuzz(100 + seed, packets=10_000), throttled=True)


def test_the_fuzz_reaches_the_states_python_keeps_as_ints() -> None:
    """`_threshold` (6), `_var_noise` (1), `_overuse_time` (0) are ints in Python when clamped
    or reset: the comparison by repr sees them."""
    kinds: set[tuple[str, str]] = set()
    for trace in (_frames_trace(), stream_fuzz(0), stream_fuzz(1), TRACES["congestion"]()):
        kinds |= side_by_side(trace, every=10_000).kinds
    assert {("_threshold", "int"), ("_var_noise", "int"), ("_overuse_time", "int")} <= kinds
    assert {("_threshold", "float"), ("_var_noise", "float"), ("_overuse_time", "float")} <= kinds


def extreme_fuzz(seed: int, packets: int = 6_000) -> list[Packet]:
    """Values no parser gives, within the C class's bounds: a steady stream of the largest
    packets (more than 2**53 / 8000 bytes in the rate window), its times and abs-send-times
    anywhere in [-2**53, 2**53], jumping by up to 10**12 ms or to the bounds now and then, a
    few negative sizes, SSRCs from the whole 32-bit range (more than the C class's array of
    32). Where ints leave 53 bits, the C class's int divisions go through Python's."""
    rng = random.Random(seed)
    arrival, send = rng.randrange(-LIMIT, LIMIT), rng.randrange(-LIMIT, LIMIT)
    ssrcs = [rng.randrange(2**32) for _ in range(40)] + [0, 2**32 - 1]
    trace: list[Packet] = []
    for index in range(packets):
        roll = rng.random()
        if roll < 0.003:  # mostly ahead: a clock that went back has no rate until it is back
            arrival += rng.randrange(-(10**9), 10**12)
            send += rng.randrange(-(2**50), 2**50)
        elif roll < 0.0035:
            near = -LIMIT, LIMIT - 10**7  # room left to go on
            arrival, send = rng.choice(near), rng.choice(near)
        elif index % 4 == 0:  # four packets every 2 ms or so, sent 2 ms apart
            arrival += rng.choice([1, 2, 2, 2, 3, 30])
            send += 524
        arrival, send = max(-LIMIT, min(arrival, LIMIT)), max(-LIMIT, min(send, LIMIT))
        size = 2**31 - rng.randrange(1000) if roll < 0.995 else rng.randrange(-100, 0)
        trace.append((arrival, send, size, rng.choice(ssrcs) if roll < 0.2 else ssrcs[0]))
    return trace


@pytest.mark.parametrize("seed", range(8))
def test_extreme_values(seed: int) -> None:
    side_by_side(extreme_fuzz(seed), throttled=seed % 2 == 1)


def test_bitrates_past_53_bits() -> None:
    """The largest packets in a burst right after the rate window emptied, while the detector
    says overuse: an incoming bitrate past 2**53 and the estimate cut to 85 % of it, ints that a
    double no longer holds, which aiortc divides."""
    ramp = [(a, s, 1000, x) for a, s, _, x in _zero_estimate_trace()]
    probe = fast_remb.FastRemoteBitrateEstimator()
    for cut, packet in enumerate(ramp):  # noqa: B007  (the packet where overuse begins)
        probe.add(*packet)
        if probe.hypothesis == OVERUSING:
            break
    arrival, send = ramp[cut][0] + 1_100, ramp[cut][1]  # the group in progress: no detection
    burst = [(arrival, send, 2**31, 5)] * 2_048 + [(arrival + 1, send, 2**31, 5)]
    trace = ramp[: cut + 1] + burst + [(a + 1_101, s, n, x) for a, s, n, x in ramp[cut + 1 :]]
    side_by_side(trace)
    python, peak = fast_remb.FastRemoteBitrateEstimator(), 0
    for packet in trace:
        python.add(*packet)
        peak = max(peak, python.current_bitrate)
    assert peak > 2**53


def _zero_estimate_trace() -> list[Packet]:
    """An estimate of a few kbit/s lowered by overuse, then empty packets and overuse again: the
    estimate is 0 near the max, and aiortc divides by zero when it next increases it."""
    trace = []
    delay = 20.0
    for frame in range(700):
        send = 1_000 + frame * 100 / 3
        if 150 <= frame < 190 or 400 <= frame < 440:
            delay += 3
        for part in range(2):
            size = 2 if frame < 300 else 0
            trace.append((round(send + part + delay) + 10_000, abs_send_time(send + part), size, 5))
    return trace


def test_estimate_of_zero_fails_as_pythons() -> None:
    run = side_by_side(_zero_estimate_trace(), every=1)
    assert run.outputs[-1] is ZeroDivisionError


# Arguments -------------------------------------------------------------------------------------


def test_called_by_keyword_as_aiortcs_receiver_calls_it() -> None:
    estimator = _remb.Estimator()
    estimator.add(abs_send_time=1, arrival_time_ms=10_000, payload_size=1000, ssrc=1)
    estimator.add(10_001, 2, ssrc=2, payload_size=1000)
    assert estimator.ssrcs == {1: 10_000, 2: 10_001}


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((1.5, 0, 0, 1), TypeError, "arrival_time_ms must be an int, not float"),
        ((0, "1", 0, 1), TypeError, "abs_send_time must be an int, not str"),
        ((0, 0, None, 1), TypeError, "payload_size must be an int"),
        ((0, 0, 0, 1.0), TypeError, "ssrc must be an int"),
        ((0, 0, 0, -1), OverflowError, "ssrc must be between 0 and 4294967295"),
        ((0, 0, 0, 2**32), OverflowError, "ssrc must be between"),
        ((LIMIT + 1, 0, 0, 1), OverflowError, "arrival_time_ms must be between"),
        ((-LIMIT - 1, 0, 0, 1), OverflowError, "arrival_time_ms must be between"),
        ((0, 2**64, 0, 1), OverflowError, "abs_send_time must be between"),
        ((0, -(2**100), 0, 1), OverflowError, "abs_send_time must be between"),
        ((0, 0, 2**31 + 1, 1), OverflowError, "payload_size must be between"),
        ((0, 0, -(2**31) - 1, 1), OverflowError, "payload_size must be between"),
        ((0, 0, 0), TypeError, "missing required argument 'ssrc'"),
        ((0, 0, 0, 1, 5), TypeError, "takes 4 arguments"),
    ],
)
def test_bad_arguments_are_refused_and_change_nothing(
    args: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    for estimator in (_remb.Estimator(), _remb.ThrottledEstimator()):
        for packet in vp8_stream(5, 2):
            estimator.add(*packet)
        before = _state(estimator)
        with pytest.raises(error, match=message):
            estimator.add(*args)
        assert _state(estimator) == before


def test_bad_keywords() -> None:
    estimator = _remb.Estimator()
    with pytest.raises(TypeError, match="unexpected keyword argument 'size'"):
        estimator.add(0, 0, 0, size=1)
    with pytest.raises(TypeError, match="multiple values for argument 'arrival_time_ms'"):
        estimator.add(0, 0, 0, 1, arrival_time_ms=0)
    with pytest.raises(TypeError, match="missing required argument 'abs_send_time'"):
        estimator.add(arrival_time_ms=0, payload_size=0, ssrc=1)
    with pytest.raises(TypeError, match="takes no arguments"):
        _remb.Estimator(1)
    with pytest.raises(AttributeError):
        estimator.current_bitrate = 5
    with pytest.raises(AttributeError):
        estimator.ssrcs = {}
    assert estimator.ssrcs == {} and estimator.last_update_ms is None


def test_the_bounds_themselves_are_accepted() -> None:
    trace = [
        (LIMIT, -LIMIT, 2**31, 2**32 - 1),
        (-LIMIT, LIMIT, -(2**31), 0),
        (LIMIT, LIMIT, 0, 0),
    ]
    side_by_side(trace, every=1)


def test_more_ssrcs_than_the_array_holds() -> None:
    """Past SSRC_CAPACITY SSRCs the C class keeps them in a dict: the same order, the same
    feedback lists."""
    trace = [
        (a, s, n, i % (_remb.SSRC_CAPACITY + 8) if i < 400 else 3)
        for i, (a, s, n, _) in enumerate(vp8_stream(18, 12))
    ]
    side_by_side(trace, every=1)
    estimator = _remb.Estimator()
    for packet in trace:
        estimator.add(*packet)
    assert list(estimator.ssrcs) == list(range(_remb.SSRC_CAPACITY + 8))


def test_types() -> None:
    assert issubclass(_remb.ThrottledEstimator, _remb.Estimator)
    assert not hasattr(_remb.Estimator(), "_last_sent_ms")


# Constants and the throttle's rule -------------------------------------------------------------


def test_constants_are_aiortcs_and_the_python_modules() -> None:
    for name in (
        "TIMESTAMP_TO_MS",
        "BURST_DELTA_THRESHOLD_MS",
        "INTER_ARRIVAL_SHIFT",
        "TIMESTAMP_GROUP_LENGTH_MS",
        "MIN_FRAME_PERIOD_HISTORY_LENGTH",
        "DELTA_COUNTER_MAX",
        "MIN_NUM_DELTAS",
        "MAX_ADAPT_OFFSET_MS",
    ):
        assert repr(getattr(_remb, name)) == repr(getattr(rate, name)), name
    for name in ("WINDOW_MS", "SCALE", "GROUP_LENGTH", "FEEDBACK_INTERVAL_MS", "PRUNE_AT"):
        assert getattr(_remb, name) == getattr(fast_remb, name), name
    for name in ("MIN_INTERVAL_MS", "DROP_SENDS_AT_ONCE"):
        assert repr(getattr(_remb, name)) == repr(getattr(remb_throttle, name)), name


def test_lets_out_is_remb_throttles() -> None:
    rng = random.Random(3)
    cases = [(0, 100, 199, 97), (0, 100, 200, 100), (0, 100, 1, 96), (0, 0, 0, -1)]
    for _ in range(20_000):
        last_ms = rng.randrange(-LIMIT, LIMIT)
        last_bitrate = rng.choice([rng.randrange(10**7), rng.randrange(-(2**63), 2**63)])
        # near 97 % of it, where int against float must be exact, past 2**53 too
        bitrate = int(last_bitrate * 0.97) + rng.randrange(-3, 4)
        bitrate = max(-(2**63), min(bitrate, 2**63 - 1))
        arrival = last_ms + rng.randrange(-5, 400)
        cases.append((last_ms, last_bitrate, max(-LIMIT, min(arrival, LIMIT)), bitrate))
    for case in cases:
        assert _remb.lets_out(*case) is remb_throttle.lets_out(*case), case
