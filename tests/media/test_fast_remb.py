"""media/fast_remb.py against aiortc's own RemoteBitrateEstimator, side by side on the same
packets: every return value and, after every trace, the whole state, compared by repr (exact
floats, int against float told apart)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from aiortc import rate, rtcrtpreceiver
from aiortc.rate import OveruseEstimator, RateCounter, RemoteBitrateEstimator

import media  # noqa: F401  (installs fast_rate, the throttle and this, as the server runs)
from media import core, fast_rate, fast_remb, remb_throttle

pytestmark = pytest.mark.unit

Packet = tuple[int, int, int, int]  # arrival ms, abs-send-time, payload size, ssrc
SSRC = 0x1234
UNDERUSING, OVERUSING = 1, 2  # BandwidthUsage values


@pytest.fixture(autouse=True)
def aiortc_as_shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference is aiortc's code alone: fast_rate's replacements taken out."""
    monkeypatch.setattr(RateCounter, "_erase_old", fast_rate.ORIGINAL_ERASE_OLD)
    monkeypatch.setattr(
        OveruseEstimator, "update_min_frame_period", fast_rate.ORIGINAL_UPDATE_MIN_FRAME_PERIOD
    )


def abs_send_time(ms: float) -> int:
    return int(ms * (1 << 18) / 1000) & 0xFFFFFF  # 6.18 fixed point seconds, 24 bits


def aiortc_state(e: RemoteBitrateEstimator) -> dict[str, Any]:
    counter = e.incoming_bitrate
    entries = []
    if counter._origin_ms is not None:
        for offset in range(counter._window_size):
            bucket = counter._buckets[(counter._origin_index + offset) % counter._window_size]
            if bucket.count:
                entries.append((counter._origin_ms + offset, bucket.value))
    cur, prev = e.inter_arrival.current_group, e.inter_arrival.previous_group
    est, det, aimd = e.estimator, e.detector, e.rate_control
    return {
        "rate": (counter._origin_ms, entries, counter._total.value, e.incoming_bitrate_initialized),
        "nonempty": counter._total.count > 0,
        "current": cur and (cur.first_timestamp, cur.last_timestamp, cur.size, cur.arrival_time),
        "previous": prev and (prev.last_timestamp, prev.size, prev.arrival_time),
        "estimator": (
            est.E,
            est._num_of_deltas,
            est._offset,
            est.previous_offset,
            est.slope,
            est.ts_delta_hist,
            est.avg_noise,
            est.var_noise,
        ),
        "detector": (
            det.hypothesis.value,
            det.last_update_ms,
            det.overuse_counter,
            det.overuse_time,
            det.previous_offset,
            det.threshold,
        ),
        "aimd": (
            aimd.avg_max_bitrate_kbps,
            aimd.var_max_bitrate_kbps,
            aimd.current_bitrate,
            aimd.current_bitrate_initialized,
            aimd.first_estimated_throughput_time,
            aimd.last_change_ms,
            aimd.near_max,
            aimd.latest_estimated_throughput,
            aimd.rtt,
            aimd.state.value,
        ),
        "last_update_ms": e.last_update_ms,
        "ssrcs": list(e.ssrcs.items()),
    }


def fast_state(f: fast_remb.FastRemoteBitrateEstimator) -> dict[str, Any]:
    f._prune()
    history = f._ts_delta_hist
    if history:  # the kept minimum is the history's, and still in it
        assert f._min_ts_delta == min(history)
        assert history[f._min_ts_delta_at - f._ts_delta_count - 1] == f._min_ts_delta
    entries = list(zip(f._rate_ms, f._rate_bytes, strict=True))
    cur = None if f._cur_first is None else (f._cur_first, f._cur_last, f._cur_size, f._cur_arrival)
    return {
        "rate": (f._rate_origin_ms, entries, f._rate_total, f._rate_initialized),
        "nonempty": bool(entries),
        "current": cur,
        "previous": None if f._prev_last is None else (f._prev_last, f._prev_size, f._prev_arrival),
        "estimator": (
            [[f._e00, f._e01], [f._e10, f._e11]],
            f._num_of_deltas,
            f._offset,
            f._previous_offset,
            f._slope,
            list(f._ts_delta_hist),
            f._avg_noise,
            f._var_noise,
        ),
        "detector": (
            f.hypothesis,
            f._detector_last_update_ms,
            f._overuse_counter,
            f._overuse_time,
            f._detector_previous_offset,
            f._threshold,
        ),
        "aimd": (
            f._avg_max_bitrate_kbps,
            f._var_max_bitrate_kbps,
            f.current_bitrate,
            f._current_bitrate_initialized,
            f._first_estimated_throughput_time,
            f._last_change_ms,
            f._near_max,
            f._latest_estimated_throughput,
            f._rtt,
            f._rate_control_state,
        ),
        "last_update_ms": f.last_update_ms,
        "ssrcs": list(f.ssrcs.items()),
    }


def _call(add: Any, estimator: Any, packet: Packet) -> Any:
    try:
        return add(estimator, *packet)
    except ArithmeticError as error:  # aiortc's own failures must be ours too
        return type(error)


class Run:
    def __init__(self) -> None:
        self.outputs: list[Any] = []  # aiortc's return values (or the exception's type)
        self.hypotheses: list[int] = []  # aiortc's detector state after each packet


def side_by_side(trace: list[Packet]) -> Run:
    """Runs both on the trace; asserts every return value and the final state are equal."""
    reference, fast = RemoteBitrateEstimator(), fast_remb.FastRemoteBitrateEstimator()
    run = Run()
    for index, packet in enumerate(trace):
        expected = _call(remb_throttle.ORIGINAL_ADD, reference, packet)
        got = _call(fast_remb.FastRemoteBitrateEstimator.add, fast, packet)
        assert repr(got) == repr(expected), f"packet {index} {packet}"
        run.outputs.append(expected)
        run.hypotheses.append(reference.detector.hypothesis.value)
        if isinstance(expected, type):
            break
        if index % 97 == 0:  # now and then mid-trace, as the full state is slow to read
            assert repr(fast_state(fast)) == repr(aiortc_state(reference)), f"packet {index}"
    assert repr(fast_state(fast)) == repr(aiortc_state(reference))
    return run


# Traces --------------------------------------------------------------------------------------


def vp8_stream(
    seed: int,
    seconds: float,
    start_ms: float = 0.0,
    delay: Any = None,
    kbps: int = 1200,
) -> list[Packet]:
    """30 fps, a keyframe every 3 s, packets of at most 1200 bytes paced 1 ms apart as a
    browser's pacer sends them, abs-send-time stamped at send; `delay(send_ms)` is the network's
    one-way delay (ms), 20 ms plus a little jitter by default."""
    rng = random.Random(seed)
    packets = []
    for frame in range(int(seconds * 30)):
        frame_ms = start_ms + frame * 1000 / 30
        size = kbps * 1000 / 8 / 30 * (6 if frame % 90 == 0 else rng.uniform(0.6, 1.3))
        count = max(1, round(size / 1200))
        for part in range(count):
            send_ms = frame_ms + part + rng.uniform(0, 0.3)
            network = delay(send_ms) if delay else 20 + rng.expovariate(1.0)
            arrival = round(send_ms + network) + 5_000_000
            packets.append((arrival, abs_send_time(send_ms), round(size / count), SSRC))
    packets.sort(key=lambda p: p[0])  # arrival order
    return packets


def bottleneck(trace: list[Packet], kbps_at: Any) -> list[Packet]:
    """The trace through a FIFO link whose capacity (kbit/s) at each arrival is `kbps_at(ms)`:
    packets wait behind the queue, so delays grow while capacity is below the send rate."""
    out, free_at = [], 0.0
    for arrival, send, size, ssrc in trace:
        start = max(float(arrival), free_at)
        free_at = start + size * 8 / kbps_at(arrival)
        out.append((round(free_at), send, size, ssrc))
    return out


def test_real_vp8_stream() -> None:
    trace = vp8_stream(1, 90, start_ms=20_000)  # passes a wrap of abs-send-time at 64 s
    run = side_by_side(trace)
    assert sum(o is not None for o in run.outputs) > 100
    assert OVERUSING not in run.hypotheses


def test_trace_as_tests_bench_builds_it() -> None:
    """tests/bench/packet_costs.py's trace: the packets of a frame share one send time and one
    arrival time."""
    rng = random.Random(2)
    trace = []
    for frame in range(900):
        arrival_ms = 10_000 + frame * 33
        for _ in range(rng.randint(1, 6)):
            trace.append((arrival_ms, abs_send_time(arrival_ms), rng.randrange(300, 1200), SSRC))
    side_by_side(trace)


def test_congestion_goes_to_overuse_and_lowers_the_estimate() -> None:
    trace = bottleneck(
        vp8_stream(3, 30, kbps=1500), lambda ms: 900 if 5_010_000 <= ms < 5_020_000 else 10_000
    )
    run = side_by_side(trace)
    overuse = run.hypotheses.index(OVERUSING)
    before = [o[0] for o in run.outputs[:overuse] if o is not None]
    after = [o[0] for o in run.outputs[overuse:] if o is not None]
    assert min(after) < before[-1] * 0.7, "the estimate went down"


def test_underuse_when_the_queue_drains() -> None:
    # 10 s of a 2 Mbit/s stream; the link slows to 1.6 Mbit/s for 4 s then drains fast.
    trace = bottleneck(
        vp8_stream(4, 20, kbps=2000), lambda ms: 1600 if 5_004_000 <= ms < 5_008_000 else 50_000
    )
    run = side_by_side(trace)
    assert UNDERUSING in run.hypotheses and OVERUSING in run.hypotheses


@pytest.mark.parametrize("seed", range(4))
def test_jitter_reordering_duplicates_and_loss(seed: int) -> None:
    rng = random.Random(seed)
    trace = vp8_stream(seed, 30, start_ms=60_000, delay=lambda ms: 20 + rng.uniform(0, 25))
    noisy: list[Packet] = []
    for packet in trace:
        roll = rng.random()
        if roll < 0.03:
            continue  # lost
        noisy.append(packet)
        if roll < 0.06:
            noisy.append(packet)  # duplicated
        if roll < 0.1 and len(noisy) > 3:  # swapped with an earlier one: reordered on the wire
            other = len(noisy) - rng.randint(2, 4)
            noisy[other], noisy[-1] = noisy[-1], noisy[other]
    side_by_side(noisy)


def test_long_gaps() -> None:
    trace: list[Packet] = []
    start = 0.0
    # pauses: under the rate window, over it, past the 3 s initialisation, past a wrap (64 s)
    for seconds, gap in ((5, 0.4), (4, 1.5), (3, 8), (5, 70), (5, 130), (3, 2), (2, 0)):
        trace += vp8_stream(len(trace), seconds, start_ms=start)
        start += (seconds + gap) * 1000
    side_by_side(trace)


def test_receive_gap_with_continuous_send_times() -> None:
    """The network holds packets for a while and then delivers them at once."""
    trace = vp8_stream(6, 20)
    held = [
        (max(a, 5_008_000) if 5_006_000 <= a < 5_008_000 else a, s, n, x) for a, s, n, x in trace
    ]
    side_by_side(held)


def test_abs_send_time_wraps_and_jumps() -> None:
    near_wrap = 64_000 - 3_000  # the 24-bit 6.18 clock wraps every 64 s
    trace = vp8_stream(7, 10, start_ms=near_wrap)
    # then the sender's clock jumps half a range ahead, then back: out-of-order groups
    trace += [(a + 10_000, (s + 0x800000) & 0xFFFFFF, n, x) for a, s, n, x in vp8_stream(8, 3)]
    trace += [(a + 14_000, s, n, x) for a, s, n, x in vp8_stream(9, 3)]
    side_by_side(sorted(trace, key=lambda p: p[0]))


def test_send_time_exactly_half_a_range_from_the_group() -> None:
    """Half the 32-bit range from the group's first timestamp is out of order, one less is not."""
    trace = vp8_stream(15, 8)
    prefix, rest = trace[:500], trace[500:]
    scratch = RemoteBitrateEstimator()
    for packet in prefix:
        remb_throttle.ORIGINAL_ADD(scratch, *packet)
    group = scratch.inter_arrival.current_group
    assert group is not None and group.first_timestamp is not None
    first = group.first_timestamp >> 8
    arrival = prefix[-1][0]
    odd = [(arrival, (first + 0x800000) & 0xFFFFFF, 1000, SSRC)]
    side_by_side(prefix + odd + rest)
    odd = [(arrival, (first + 0x7FFFFF) & 0xFFFFFF, 1000, SSRC)]
    side_by_side(prefix + odd + rest)


def test_arrival_clock_steps_back() -> None:
    """The arrival clock (wall time in aiortc) jumps back, a little and by more than the window."""
    trace = vp8_stream(10, 12)
    stepped = [
        (a - (300 if i > 100 else 0) - (2_500 if i > 600 else 0), s, n, x)
        for i, (a, s, n, x) in enumerate(trace)
    ]
    side_by_side(stepped)


def fuzz_trace(seed: int) -> list[Packet]:
    rng = random.Random(seed)
    arrival, send = rng.randrange(-(10**6), 10**9), rng.uniform(0, 70_000)
    trace: list[Packet] = []
    for _ in range(4000):
        arrival += rng.choice([0, 0, 1, 1, 2, 3, 5, 8, 20, 33, 34, rng.randrange(-50, 3000)])
        send += rng.choice([0, 0, 0.2, 1, 5, 33.3, rng.uniform(-20, 200), rng.uniform(0, 70_000)])
        size = rng.choice([0, 1, 100, 1200, 1200, rng.randrange(1500)])
        trace.append((arrival, abs_send_time(send), size, rng.choice([SSRC, SSRC, SSRC, 7])))
    return trace


def test_clock_step_back_without_feedback_keeps_the_counter_small() -> None:
    """The arrival clock and the sender's both step back: every packet is out of order
    for aiortc (no group, no detector update) and no feedback is due until the clock is back
    where it was; the counter's entries older than its window are dropped all the same."""
    before = vp8_stream(16, 10)
    after = vp8_stream(17, 14, start_ms=-10_000, kbps=4000)  # 6 to 20 s back
    side_by_side(before + after)
    fast = fast_remb.FastRemoteBitrateEstimator()
    for packet in before:
        fast.add(*packet)
    longest = 0
    for packet in after:
        assert fast.add(*packet) is None
        longest = max(longest, len(fast._rate_ms))
    assert 1000 < longest <= fast_remb.PRUNE_AT + 1


@pytest.mark.parametrize("seed", range(8))
def test_fuzz(seed: int) -> None:
    side_by_side(fuzz_trace(seed))


@pytest.mark.parametrize("seed", range(4))
def test_fuzz_out_of_range_values(seed: int) -> None:
    """Values no parser gives (abs-send-time past 24 bits or negative, negative sizes, time
    running back): still aiortc's results, its 32-bit arithmetic on the raw values included."""
    rng = random.Random(1000 + seed)
    arrival, send = rng.randrange(-(10**6), 10**6), rng.randrange(-(2**30), 2**30)
    trace: list[Packet] = []
    for _ in range(3000):
        arrival += rng.choice([0, 1, 2, 5, 33, -1, -500, 1500, rng.randrange(-3000, 3000)])
        send += rng.choice([0, 0, 100, 8738, -8738, 2**23, rng.randrange(-(2**26), 2**26)])
        size = rng.choice([0, 1200, -5, rng.randrange(-100, 5000)])
        trace.append((arrival, send, size, rng.randrange(3)))
    side_by_side(trace)


@pytest.mark.parametrize("seed", range(4))
def test_fuzz_steady_stream_with_rare_events(seed: int) -> None:
    """Mostly a steady stream (so the estimator gets initialised and moves), with now and then a
    burst, a stall, a send-time jump or a zero-size packet."""
    rng = random.Random(100 + seed)
    arrival, send, delay = 10_000, 1_000.0, 20.0
    trace: list[Packet] = []
    for _ in range(6000):
        send += rng.choice([0.0, 0.5, 1.0, 33.3 - 3])
        delay = max(0.0, delay + rng.gauss(0, 0.7) + (0.4 if rng.random() < 0.3 else -0.1))
        arrival = max(arrival, round(send + delay))
        roll = rng.random()
        if roll < 0.002:
            arrival += rng.randrange(500, 4000)
        elif roll < 0.003:
            send += rng.uniform(-5000, 5000)
        trace.append((arrival, abs_send_time(send), 0 if roll > 0.999 else 1100, SSRC))
    side_by_side(trace)


def test_estimate_of_zero_fails_as_aiortcs() -> None:
    """aiortc divides by zero when it adds to an estimate of 0 near the max (a stream of empty
    packets after an estimate of a few kbit/s): ours fails on the same packet."""
    reference, fast = RemoteBitrateEstimator(), fast_remb.FastRemoteBitrateEstimator()
    aimd = reference.rate_control
    aimd.current_bitrate = fast.current_bitrate = 0
    aimd.current_bitrate_initialized = fast._current_bitrate_initialized = True
    aimd.near_max = fast._near_max = True
    aimd.avg_max_bitrate_kbps = fast._avg_max_bitrate_kbps = 1.0
    aimd.latest_estimated_throughput = fast._latest_estimated_throughput = 0
    for packet in vp8_stream(14, 2):
        packet = (packet[0], packet[1], 0, packet[3])
        expected = _call(remb_throttle.ORIGINAL_ADD, reference, packet)
        assert _call(fast_remb.FastRemoteBitrateEstimator.add, fast, packet) == expected
        if expected is ZeroDivisionError:
            break
    assert expected is ZeroDivisionError
    assert repr(fast_state(fast)) == repr(aiortc_state(reference))


# The comparison can fail -----------------------------------------------------------------------

MUTATIONS = [
    ("FEEDBACK_INTERVAL_MS", 499),
    ("GROUP_LENGTH", fast_remb.GROUP_LENGTH * 2),
    ("BURST_DELTA_THRESHOLD_MS", 4),
    ("WINDOW_MS", 999),
    ("PROCESS_NOISE_1_X10", 0.011),
    ("MIN_NUM_DELTAS", 59),
    ("MAX_ADAPT_OFFSET_MS", 14),
    ("UNDERUSING", 3),
    ("DELTA_COUNTER_MAX", 299),
]


@pytest.mark.parametrize(("name", "value"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_mutated_estimator_is_caught(
    name: str, value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    traces = [
        bottleneck(
            vp8_stream(12, 30, kbps=2000),
            lambda ms: 1500 if 5_010_000 <= ms < 5_016_000 else 40_000,
        ),
        fuzz_trace(0),
    ]
    monkeypatch.setattr(fast_remb, name, value)
    caught = 0
    for trace in traces:
        try:
            side_by_side(trace)
        except AssertionError:
            caught += 1
    assert caught


# Installed in the receiver ---------------------------------------------------------------------


def test_throttled_estimator_sends_what_remb_throttle_sends() -> None:
    trace = bottleneck(
        vp8_stream(13, 30, kbps=1500), lambda ms: 900 if 5_010_000 <= ms < 5_020_000 else 10_000
    )
    reference = RemoteBitrateEstimator()
    throttled = fast_remb.ThrottledRemoteBitrateEstimator()
    sent = 0
    for packet in trace:
        expected = remb_throttle.add(reference, *packet)
        assert throttled.add(*packet) == expected
        sent += expected is not None
    assert sent > 5


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Importing media installed it already (as the server runs); whatever a test changes is
    # put back as it was, so the tests after it see the server's setup.
    monkeypatch.setattr(rtcrtpreceiver, "RemoteBitrateEstimator", rate.RemoteBitrateEstimator)
    fast_remb.install()
    yield


def test_importing_media_installs_it() -> None:
    assert rtcrtpreceiver.RemoteBitrateEstimator is fast_remb.new_estimator


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize("in_c", [False, True], ids=["python", "c"])
def test_install_gives_receivers_the_fast_estimator(
    in_c: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if in_c and fast_remb._remb is None:
        pytest.skip("media/_remb.c is not built here")
    monkeypatch.setattr(core, "_enabled", in_c)  # the core's switch covers the estimator too
    throttled, plain = (
        (fast_remb._remb.ThrottledEstimator, fast_remb._remb.Estimator)
        if in_c
        else (fast_remb.ThrottledRemoteBitrateEstimator, fast_remb.FastRemoteBitrateEstimator)
    )
    assert RemoteBitrateEstimator.add is remb_throttle.add  # media installed the throttle
    assert type(rtcrtpreceiver.RemoteBitrateEstimator()) is throttled

    monkeypatch.setattr(RemoteBitrateEstimator, "add", remb_throttle.ORIGINAL_ADD)
    assert type(rtcrtpreceiver.RemoteBitrateEstimator()) is plain

    def wrapped(*args: Any) -> Any:
        return remb_throttle.ORIGINAL_ADD(*args)

    monkeypatch.setattr(RemoteBitrateEstimator, "add", wrapped)
    assert type(rtcrtpreceiver.RemoteBitrateEstimator()) is RemoteBitrateEstimator


@pytest.mark.usefixtures("installed")
def test_a_video_receiver_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "_enabled", False)
    receiver = rtcrtpreceiver.RTCRtpReceiver("video", transport=_FakeTransport())  # type: ignore[arg-type]
    estimator = receiver.__dict__["_RTCRtpReceiver__remote_bitrate_estimator"]
    assert isinstance(estimator, fast_remb.FastRemoteBitrateEstimator)
    # called as aiortc's receiver and media/sync_receive.py call it: by keyword
    estimator.add(abs_send_time=1, arrival_time_ms=10_000, payload_size=1000, ssrc=1)
    assert estimator.ssrcs == {1: 10_000}
    audio = rtcrtpreceiver.RTCRtpReceiver("audio", transport=_FakeTransport())  # type: ignore[arg-type]
    assert audio.__dict__["_RTCRtpReceiver__remote_bitrate_estimator"] is None


class _FakeTransport:
    state = "new"
