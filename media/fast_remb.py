"""aiortc's receive-side bandwidth estimator as one flat class, cheaper per packet.

aiortc 1.16.0's `RemoteBitrateEstimator.add` runs for every incoming video packet that carries
abs-send-time, through six objects (RateCounter and its 1000 RateBucket objects, InterArrival
allocating a TimestampGroup and an InterArrivalDelta per group, OveruseEstimator,
OveruseDetector, AimdRateControl), with enum comparisons and attribute chains at each step: the
largest pure-Python stage of the receive path. `FastRemoteBitrateEstimator` computes the same:

- the rate counter keeps the ms that received something and the bytes at each, in time order,
  in two lists, instead of 1000 one-ms buckets emptied one by one; entries that left the
  window are dropped when the feedback reads the total. A packet stamped before the window's
  origin (the wall clock stepped back) counts where aiortc's ring index puts it, 1000 ms later;
- timestamp groups, Kalman filter, detector and AIMD controller are plain slots, hypotheses and
  rate-control states ints; nothing is allocated per packet but the feedback returned;
- the minimum of the last 60 group deltas is kept until it leaves the history, not recomputed;
- a packet of the current group is a few comparisons; the feedback test is inlined.

Every float expression is aiortc's, in aiortc's order, so the results are bit-identical:
tests/media/test_fast_remb.py runs both side by side (a paced VP8 stream across an abs-send-time
wrap, congestion, underuse, jitter, reordering, duplicates, loss, gaps, clock steps, seeded
fuzz) and compares every return value and the whole state, floats by repr.

Measured with `python -m tests.bench.remb_costs` (CPU time, best of 15 rounds, 60 s of a 30 fps
VP8 publisher, 1.2 Mbit/s, ~4 packets a frame; 2-core VM shared with other work, Python 3.11),
µs per packet:

    trace        aiortc   aiortc+fast_rate   this   (aiortc+fast_rate / this)
    paced          8.01         5.92          1.79     3.3x
    frames         7.65         5.28          1.32     4.0x
    congested      7.42         5.84          1.94     3.0x

"frames" is how tests/bench/packet_costs.py builds its trace (a frame's packets share send and
arrival time), "paced" spreads them 1 ms apart as browsers do, "congested" overuses (feedback
computed on every packet). About 0.7 µs of a paced packet is the Kalman and detector update,
once per group of packets: float arithmetic that cannot be left out.

`install()` makes receivers created afterwards use this class; its docstring says how that
composes with media/remb_throttle.py and media/fast_rate.py. Where media/_remb.c is built and
the C core is on (media/core.py), they get its `Estimator` / `ThrottledEstimator` instead: these
classes step for step in C (0.08 against 1.25 µs a packet; tests/media/test_remb_core.py runs
both side by side on the same traces and fuzz, state included). This module stays the reference.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import deque
from math import sqrt

from aiortc import rtcrtpreceiver
from aiortc.rate import (
    BURST_DELTA_THRESHOLD_MS,
    DELTA_COUNTER_MAX,
    INTER_ARRIVAL_SHIFT,
    MAX_ADAPT_OFFSET_MS,
    MIN_FRAME_PERIOD_HISTORY_LENGTH,
    MIN_NUM_DELTAS,
    TIMESTAMP_GROUP_LENGTH_MS,
    TIMESTAMP_TO_MS,
    BandwidthUsage,
    RateControlState,
    RemoteBitrateEstimator,
)

from media import core, remb_throttle

try:
    from media import _remb
except ImportError:  # built optionally (pyproject.toml), as the forwarding core
    _remb = None  # type: ignore[assignment]

# aiortc's enums, as ints: an int comparison costs less than an enum's.
NORMAL: int = BandwidthUsage.NORMAL.value
UNDERUSING: int = BandwidthUsage.UNDERUSING.value
OVERUSING: int = BandwidthUsage.OVERUSING.value
HOLD: int = RateControlState.HOLD.value
INCREASE: int = RateControlState.INCREASE.value
DECREASE: int = RateControlState.DECREASE.value

WINDOW_MS = 1000  # aiortc's RateCounter(1000, 8000)
SCALE = 8000
GROUP_LENGTH = (TIMESTAMP_GROUP_LENGTH_MS << INTER_ARRIVAL_SHIFT) // 1000
FEEDBACK_INTERVAL_MS = 500
# The rate counter's entries are dropped when the feedback reads the total; past this many
# (a window holds at most 1000) they are dropped at once.
PRUNE_AT = 2 * WINDOW_MS
UINT32 = 0xFFFFFFFF
HALF = 0x80000000
# OveruseEstimator.process_noise, and the extra noise added when the offset moves against the
# hypothesis: the same products aiortc computes.
PROCESS_NOISE_0 = 1e-13
PROCESS_NOISE_1 = 1e-3
PROCESS_NOISE_1_X10 = 10 * PROCESS_NOISE_1


class FastRemoteBitrateEstimator:
    """`aiortc.rate.RemoteBitrateEstimator`, same `add()`, same results."""

    # aiortc's objects flattened: rate counter (_rate_*), inter-arrival groups (_cur_*, _prev_*),
    # Kalman filter (_e*, _offset, ...), detector, AIMD rate control; see __init__.
    __slots__ = (
        "_avg_max_bitrate_kbps",
        "_avg_noise",
        "_cur_arrival",
        "_cur_first",
        "_cur_last",
        "_cur_size",
        "_current_bitrate_initialized",
        "_detector_last_update_ms",
        "_detector_previous_offset",
        "_e00",
        "_e01",
        "_e10",
        "_e11",
        "_first_estimated_throughput_time",
        "_last_change_ms",
        "_latest_estimated_throughput",
        "_min_ts_delta",
        "_min_ts_delta_at",
        "_near_max",
        "_num_of_deltas",
        "_offset",
        "_overuse_counter",
        "_overuse_time",
        "_prev_arrival",
        "_prev_last",
        "_prev_size",
        "_previous_offset",
        "_rate_bytes",
        "_rate_control_state",
        "_rate_initialized",
        "_rate_ms",
        "_rate_origin_ms",
        "_rate_total",
        "_rtt",
        "_slope",
        "_threshold",
        "_ts_delta_count",
        "_ts_delta_hist",
        "_var_max_bitrate_kbps",
        "_var_noise",
        "current_bitrate",
        "hypothesis",
        "last_update_ms",
        "ssrcs",
    )

    def __init__(self) -> None:
        self.ssrcs: dict[int, int] = {}
        # RateCounter(1000, 8000): the ms that received something, ascending, and the bytes at
        # each. Entries older than the origin are only dropped when the total is read
        # (_prune()): a packet costs two list appends.
        self._rate_ms: list[int] = []
        self._rate_bytes: list[int] = []
        self._rate_total = 0
        self._rate_origin_ms: int | None = None
        self._rate_initialized = True

        # InterArrival: the current timestamp group (none before the first packet), the previous.
        self._cur_first: int | None = None
        self._cur_last = 0
        self._cur_size = 0
        self._cur_arrival = 0
        self._prev_last: int | None = None
        self._prev_size = 0
        self._prev_arrival = 0

        # OveruseEstimator: E is the Kalman filter's 2x2 covariance.
        self._e00 = 100.0
        self._e01 = 0.0
        self._e10 = 0.0
        self._e11 = 0.1
        self._num_of_deltas = 0
        self._offset = 0.0
        self._previous_offset = 0.0
        self._slope = 1 / 64
        # aiortc drops the oldest of 60 before taking the minimum with the newest: the same
        # as appending to a deque of 60 and taking its minimum.
        self._ts_delta_hist: deque[float] = deque(maxlen=MIN_FRAME_PERIOD_HISTORY_LENGTH)
        # Its minimum, kept until the value falls out of the history: min() over 60 floats at
        # every group cost more than the rest of the Kalman update.
        self._ts_delta_count = 0
        self._min_ts_delta = math.inf
        self._min_ts_delta_at = 0
        self._avg_noise = 0.0
        self._var_noise: float = 50.0

        # OveruseDetector.
        self.hypothesis = NORMAL
        self._detector_last_update_ms: int | None = None
        self._overuse_counter = 0
        self._overuse_time: float | None = None
        self._detector_previous_offset = 0.0
        self._threshold: float = 12.5

        # AimdRateControl.
        self._avg_max_bitrate_kbps: float | None = None
        self._var_max_bitrate_kbps = 0.4
        self.current_bitrate = 30000000
        self._current_bitrate_initialized = False
        self._first_estimated_throughput_time: int | None = None
        self._last_change_ms: int | None = None
        self._near_max = False
        self._latest_estimated_throughput = 30000000
        self._rtt = 200
        self._rate_control_state = HOLD

        self.last_update_ms: int | None = None

    def add(
        self, arrival_time_ms: int, abs_send_time: int, payload_size: int, ssrc: int
    ) -> tuple[int, list[int]] | None:
        now = arrival_time_ms
        timestamp = abs_send_time << 8
        self.ssrcs[ssrc] = now

        # Incoming bitrate: RateCounter.rate() (its value is only tested for None here), the
        # reset aiortc does when it has none, then RateCounter.add().
        origin = self._rate_origin_ms
        rate_ms = self._rate_ms
        if origin is not None and origin < now - WINDOW_MS + 1:  # RateCounter._erase_old()
            origin = self._rate_origin_ms = now - WINDOW_MS + 1
        # The window holds something if its newest entry is not older than the origin.
        if origin is not None and rate_ms and rate_ms[-1] >= origin and now > origin:
            self._rate_initialized = True
        elif self._rate_initialized:
            rate_ms.clear()
            self._rate_bytes.clear()
            self._rate_total = 0
            origin = None
            self._rate_initialized = False
        if origin is None:
            origin = self._rate_origin_ms = now
        if not rate_ms or now > rate_ms[-1]:  # a new newest ms (empty: origin was just set)
            rate_ms.append(now)
            self._rate_bytes.append(payload_size)
            if len(rate_ms) > PRUNE_AT:  # no feedback for long (the clock stepped back)
                self._prune()
        elif now == rate_ms[-1]:
            self._rate_bytes[-1] += payload_size
        else:
            self._add_out_of_order(now, origin, payload_size)
        self._rate_total += payload_size

        # Inter-arrival groups: InterArrival.compute_deltas().
        first = self._cur_first
        if first is None:
            self._cur_first = self._cur_last = timestamp
        elif timestamp != self._cur_last:  # else: in the group, nothing to compare
            since_first = (timestamp - first) & UINT32
            if since_first >= HALF:  # out of order: ignored
                return self._feedback(now)
            last = self._cur_last
            # belongs_to_burst(): round(x) == 0 is x <= 0.5 for x >= 0
            timestamp_delta_ms = TIMESTAMP_TO_MS * ((timestamp - last) & UINT32)
            if timestamp_delta_ms <= 0.5:
                burst = True
            else:
                arrival_time_delta = now - self._cur_arrival
                burst = (
                    arrival_time_delta <= BURST_DELTA_THRESHOLD_MS
                    and arrival_time_delta < round(timestamp_delta_ms)
                )
            if not burst and since_first > GROUP_LENGTH:
                prev_last = self._prev_last
                if prev_last is not None:
                    self._update(
                        (last - prev_last) & UINT32,
                        self._cur_arrival - self._prev_arrival,
                        self._cur_size - self._prev_size,
                        now,
                    )
                self._prev_last = last
                self._prev_size = self._cur_size
                self._prev_arrival = self._cur_arrival
                self._cur_first = self._cur_last = timestamp
                self._cur_size = 0
            elif (timestamp > last and timestamp - last < HALF) or (
                timestamp < last and last - timestamp > HALF
            ):  # uint32_gt(timestamp, last)
                self._cur_last = timestamp
        self._cur_size += payload_size
        self._cur_arrival = now

        # Most packets: no feedback due (aiortc's test, inlined here).
        last_update_ms = self.last_update_ms
        if (
            last_update_ms is not None
            and now - last_update_ms <= FEEDBACK_INTERVAL_MS
            and self.hypothesis != OVERUSING
        ):
            return None
        return self._estimate(now)

    def _add_out_of_order(self, now: int, origin: int, payload_size: int) -> None:
        """A packet older than the newest in the window (the clock stepped back): aiortc's ring
        index puts one older than the origin 1000 ms later, into the window."""
        if now < origin:
            now += WINDOW_MS * -((now - origin) // WINDOW_MS)
        rate_ms, rate_bytes = self._rate_ms, self._rate_bytes
        index = bisect_left(rate_ms, now)  # after any entries older than the origin
        if index < len(rate_ms) and rate_ms[index] == now:
            rate_bytes[index] += payload_size
        else:
            rate_ms.insert(index, now)
            rate_bytes.insert(index, payload_size)

    def _update(
        self, timestamp_delta: int, time_delta_ms: int, size_delta: int, now_ms: int
    ) -> None:
        """OveruseEstimator.update() then OveruseDetector.detect(), for a completed group."""
        timestamp_delta_ms = timestamp_delta * TIMESTAMP_TO_MS
        hypothesis = self.hypothesis

        # OveruseEstimator.update_min_frame_period()
        history = self._ts_delta_hist
        history.append(timestamp_delta_ms)
        count = self._ts_delta_count = self._ts_delta_count + 1
        if timestamp_delta_ms <= self._min_ts_delta:
            self._min_ts_delta = min_frame_period = timestamp_delta_ms
            self._min_ts_delta_at = count
        elif count - self._min_ts_delta_at >= MIN_FRAME_PERIOD_HISTORY_LENGTH:
            # the minimum left the history: find the new one and where it is
            self._min_ts_delta = min_frame_period = min(history)
            self._min_ts_delta_at = count - len(history) + 1 + history.index(min_frame_period)
        else:
            min_frame_period = self._min_ts_delta

        t_ts_delta = time_delta_ms - timestamp_delta_ms
        fs_delta = size_delta
        num_of_deltas = self._num_of_deltas + 1
        if num_of_deltas > DELTA_COUNTER_MAX:  # min(), without the call
            num_of_deltas = DELTA_COUNTER_MAX
        self._num_of_deltas = num_of_deltas

        # Kalman filter, h = [fs_delta, 1.0] (a product with 1.0 is exact: left out).
        e00 = self._e00 + PROCESS_NOISE_0
        e01 = self._e01
        e10 = self._e10
        e11 = self._e11 + PROCESS_NOISE_1
        offset = self._offset
        if (hypothesis == OVERUSING and offset < self._previous_offset) or (
            hypothesis == UNDERUSING and offset > self._previous_offset
        ):
            e11 += PROCESS_NOISE_1_X10

        eh0 = e00 * fs_delta + e01
        eh1 = e10 * fs_delta + e11

        residual = t_ts_delta - self._slope * fs_delta - offset
        var_noise = self._var_noise
        if hypothesis == NORMAL:
            # update_noise_estimate()
            max_residual = 3.0 * sqrt(var_noise)
            if (residual if residual >= 0 else -residual) < max_residual:  # abs()
                noise = residual
            else:
                noise = -max_residual if residual < 0 else max_residual
            alpha = 0.01
            if num_of_deltas > 10 * 30:
                alpha = 0.002
            beta = pow(1 - alpha, min_frame_period * 30.0 / 1000.0)
            avg_noise = self._avg_noise = beta * self._avg_noise + (1 - beta) * noise
            var_noise = beta * var_noise + (1 - beta) * (avg_noise - noise) ** 2
            if var_noise < 1:
                var_noise = 1
            self._var_noise = var_noise

        denom = var_noise + fs_delta * eh0 + eh1
        k0 = eh0 / denom
        k1 = eh1 / denom
        ikh00 = 1.0 - k0 * fs_delta
        ikh01 = -k0
        ikh10 = -k1 * fs_delta
        ikh11 = 1.0 - k1
        self._e00 = e00 * ikh00 + e10 * ikh01
        self._e01 = e01 * ikh00 + e11 * ikh01
        self._e10 = e00 * ikh10 + e10 * ikh11
        self._e11 = e01 * ikh10 + e11 * ikh11

        self._previous_offset = offset
        self._slope += k0 * residual
        offset = self._offset = offset + k1 * residual

        # OveruseDetector.detect()
        if num_of_deltas < 2:
            return
        threshold = self._threshold
        modified_offset = (
            MIN_NUM_DELTAS if num_of_deltas > MIN_NUM_DELTAS else num_of_deltas
        ) * offset
        if modified_offset > threshold:
            if self._overuse_time is None:
                self._overuse_time = timestamp_delta_ms / 2
            else:
                self._overuse_time += timestamp_delta_ms
            self._overuse_counter += 1
            if (
                self._overuse_time > 10  # overuse_time_threshold
                and self._overuse_counter > 1
                and offset >= self._detector_previous_offset
            ):
                self._overuse_counter = 0
                self._overuse_time = 0
                self.hypothesis = OVERUSING
        elif modified_offset < -threshold:
            self._overuse_counter = 0
            self._overuse_time = None
            self.hypothesis = UNDERUSING
        else:
            self._overuse_counter = 0
            self._overuse_time = None
            self.hypothesis = NORMAL
        self._detector_previous_offset = offset

        # OveruseDetector.update_threshold()
        if self._detector_last_update_ms is None:
            self._detector_last_update_ms = now_ms
        abs_t = (
            modified_offset if modified_offset >= 0 else -modified_offset
        )  # differs from abs() for -0.0 only: the same results here
        if abs_t > threshold + MAX_ADAPT_OFFSET_MS:
            self._detector_last_update_ms = now_ms
            return
        k = 0.039 if abs_t < threshold else 0.0087  # k_down, k_up
        time_delta_ms = now_ms - self._detector_last_update_ms
        if time_delta_ms > 100:
            time_delta_ms = 100
        threshold += k * (abs_t - threshold) * time_delta_ms
        # max(6, min(threshold, 600)), NaN included
        if threshold > 600:
            threshold = 600
        elif not threshold > 6:
            threshold = 6
        self._threshold = threshold
        self._detector_last_update_ms = now_ms

    def _feedback(self, now: int) -> tuple[int, list[int]] | None:
        """The end of RemoteBitrateEstimator.add(): AimdRateControl.update() when due."""
        last_update_ms = self.last_update_ms
        if (
            last_update_ms is not None
            and now - last_update_ms <= FEEDBACK_INTERVAL_MS
            and self.hypothesis != OVERUSING
        ):
            return None
        return self._estimate(now)

    def _estimate(self, now: int) -> tuple[int, list[int]] | None:
        """AimdRateControl.update() with the incoming bitrate, and the feedback it gives."""
        # RateCounter.rate(): the packet was just added, so the window is not empty.
        self._prune()
        active_window_size = now - self._rate_origin_ms + 1  # type: ignore[operator]
        throughput = (
            round(SCALE * self._rate_total / active_window_size) if active_window_size > 1 else None
        )
        target_bitrate = self._rate_control(throughput, now)
        if target_bitrate is None:
            return None
        self.last_update_ms = now
        return target_bitrate, list(self.ssrcs)

    def _prune(self) -> None:
        """Drops the rate counter's entries older than its origin, as aiortc's erase did."""
        rate_ms, origin = self._rate_ms, self._rate_origin_ms
        if rate_ms and origin is not None and rate_ms[0] < origin:
            index = bisect_left(rate_ms, origin)
            self._rate_total -= sum(self._rate_bytes[:index])
            del rate_ms[:index], self._rate_bytes[:index]

    def _rate_control(self, estimated_throughput: int | None, now_ms: int) -> int | None:
        """AimdRateControl.update()."""
        usage = self.hypothesis
        if not self._current_bitrate_initialized and estimated_throughput is not None:
            if self._first_estimated_throughput_time is None:
                self._first_estimated_throughput_time = now_ms
            elif now_ms - self._first_estimated_throughput_time > 3000:
                self.current_bitrate = estimated_throughput
                self._current_bitrate_initialized = True

        # wait for initialisation or overuse
        if not self._current_bitrate_initialized and usage != OVERUSING:
            return None

        state = self._rate_control_state
        if usage == NORMAL and state == HOLD:
            self._last_change_ms = now_ms
            state = INCREASE
        elif usage == OVERUSING:
            state = DECREASE
        elif usage == UNDERUSING:
            state = HOLD
        self._rate_control_state = state  # before what follows, which can raise as aiortc's

        new_bitrate = self.current_bitrate
        if estimated_throughput is not None:
            self._latest_estimated_throughput = estimated_throughput
        else:
            estimated_throughput = self._latest_estimated_throughput
        estimated_throughput_kbps = estimated_throughput / 1000

        if state == INCREASE:
            avg_max = self._avg_max_bitrate_kbps
            if avg_max is not None:
                sigma_kbps = math.sqrt(self._var_max_bitrate_kbps * avg_max)
                if estimated_throughput_kbps >= avg_max + 3 * sigma_kbps:
                    self._near_max = False
                    self._avg_max_bitrate_kbps = None
            last_ms = self._last_change_ms
            if self._near_max:
                # _additive_rate_increase(), _near_max_rate_increase()
                bits_per_frame = self.current_bitrate / 30
                packets_per_frame = math.ceil(bits_per_frame / (8 * 1200))
                avg_packet_size_bits = bits_per_frame / packets_per_frame
                response_time = self._rtt + 100
                increase = max(4000, int((avg_packet_size_bits * 1000) / response_time))
                new_bitrate += int((now_ms - last_ms) * increase / 1000)  # type: ignore[operator]
            else:
                # _multiplicative_rate_increase()
                alpha = 1.08
                if last_ms is not None:
                    elapsed_ms = min(now_ms - last_ms, 1000)
                    alpha = pow(alpha, elapsed_ms / 1000)
                new_bitrate += int(max((alpha - 1) * new_bitrate, 1000))
            self._last_change_ms = now_ms
        elif state == DECREASE:
            avg_max = self._avg_max_bitrate_kbps
            if avg_max is not None:
                sigma_kbps = math.sqrt(self._var_max_bitrate_kbps * avg_max)
                if estimated_throughput_kbps < avg_max - 3 * sigma_kbps:
                    avg_max = None
            # _update_max_throughput_estimate()
            alpha = 0.05
            if avg_max is None:
                avg_max = estimated_throughput_kbps
            else:
                avg_max = (1 - alpha) * avg_max + alpha * estimated_throughput_kbps
            self._avg_max_bitrate_kbps = avg_max
            norm = max(1, avg_max)
            var_max = (1 - alpha) * self._var_max_bitrate_kbps + alpha * (
                (avg_max - estimated_throughput_kbps) ** 2
            ) / norm
            self._var_max_bitrate_kbps = max(0.4, min(var_max, 2.5))

            self._near_max = True
            new_bitrate = round(0.85 * estimated_throughput)
            self._last_change_ms = now_ms
            self._rate_control_state = HOLD

        # _clamp_bitrate()
        max_bitrate = max(int(1.5 * estimated_throughput) + 10000, self.current_bitrate)
        self.current_bitrate = min(new_bitrate, max_bitrate)
        return self.current_bitrate


class ThrottledRemoteBitrateEstimator(FastRemoteBitrateEstimator):
    """The estimator with media/remb_throttle.py's rule applied to what `add()` returns, as
    `remb_throttle.add` applies it to aiortc's (which it calls by name on `self`, so it cannot
    wrap this class; the test checks both send the same)."""

    __slots__ = ("_last_sent_bitrate", "_last_sent_ms")

    def __init__(self) -> None:
        super().__init__()
        self._last_sent_ms: int | None = None
        self._last_sent_bitrate = 0

    def add(
        self, arrival_time_ms: int, abs_send_time: int, payload_size: int, ssrc: int
    ) -> tuple[int, list[int]] | None:
        feedback = FastRemoteBitrateEstimator.add(
            self, arrival_time_ms, abs_send_time, payload_size, ssrc
        )
        if feedback is None:
            return None
        bitrate = feedback[0]
        last_ms = self._last_sent_ms
        if last_ms is not None and not remb_throttle.lets_out(
            last_ms, self._last_sent_bitrate, arrival_time_ms, bitrate
        ):
            return None
        self._last_sent_ms, self._last_sent_bitrate = arrival_time_ms, bitrate
        return feedback


def in_c() -> bool:
    """Whether `new_estimator()` builds media/_remb.c's classes (built, and the core not off)."""
    return _remb is not None and core.enabled()


def new_estimator() -> FastRemoteBitrateEstimator | RemoteBitrateEstimator | _remb.Estimator:
    """What RTCRtpReceiver builds once `install()` ran: the estimator aiortc's class would be
    with whatever `RemoteBitrateEstimator.add` is installed at that moment; in C where it can."""
    add = RemoteBitrateEstimator.add
    if add is remb_throttle.add:
        return _remb.ThrottledEstimator() if in_c() else ThrottledRemoteBitrateEstimator()
    if add is remb_throttle.ORIGINAL_ADD:
        return _remb.Estimator() if in_c() else FastRemoteBitrateEstimator()
    return RemoteBitrateEstimator()  # someone else wraps aiortc's add: keep theirs


def install() -> None:
    """New video receivers build their estimator with `new_estimator()`.

    aiortc's receiver builds it with the name `RemoteBitrateEstimator` of its own module; that
    name is replaced. aiortc's class itself is left alone, so media/remb_throttle.py's
    `install()` (which replaces aiortc's `add`) still decides, at each receiver's creation,
    whether REMB feedback is throttled: installed in either order, the result is the same.
    media/fast_rate.py's methods are not used by this class (it has its own counter and
    history); they still serve aiortc's class where that is used.
    """
    rtcrtpreceiver.RemoteBitrateEstimator = new_estimator  # type: ignore[misc,assignment]
