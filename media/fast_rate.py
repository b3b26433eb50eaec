"""Two loops of aiortc's receive-side bandwidth estimator, rewritten to cost less per packet.

Every incoming video packet carrying abs-send-time goes through aiortc's
RemoteBitrateEstimator (the server answers the publisher with REMB, which browsers use to pick
their bitrate). py-spy put two of its loops among the server's largest self-times:

- `RateCounter._erase_old` walks its 1 ms buckets one by one in Python, a thousand steps per
  second of stream per counter; here a gap longer than the window clears everything at once and
  empty buckets cost a comparison.
- `OveruseEstimator.update_min_frame_period` takes the minimum of its last 60 timestamp deltas
  with a Python loop at every packet group; here the builtin `min` does it.

Both return exactly what aiortc's return (tests/media/test_fast_rate.py runs both side by side);
`install()` replaces the methods on aiortc's classes. The aiortc pin is checked by compat.
"""

from __future__ import annotations

from aiortc import rate
from aiortc.rate import MIN_FRAME_PERIOD_HISTORY_LENGTH, OveruseEstimator, RateCounter

# aiortc's own methods, for side-by-side tests and to undo install().
ORIGINAL_ERASE_OLD = RateCounter._erase_old
ORIGINAL_UPDATE_MIN_FRAME_PERIOD = OveruseEstimator.update_min_frame_period


def erase_old(self: RateCounter, now_ms: int) -> None:
    assert self._origin_ms is not None  # as in aiortc: only called once a value was added
    new_origin_ms = now_ms - self._window_size + 1
    steps = new_origin_ms - self._origin_ms
    if steps <= 0:
        return
    buckets, size, total = self._buckets, self._window_size, self._total
    if steps >= size:  # the whole window is older than now: nothing survives
        for bucket in buckets:
            bucket.count = bucket.value = 0
        total.count = total.value = 0
        index = (self._origin_index + steps) % size
    else:
        index = self._origin_index
        for _ in range(steps):
            bucket = buckets[index]
            if bucket.count or bucket.value:
                total.count -= bucket.count
                total.value -= bucket.value
                bucket.count = bucket.value = 0
            index += 1
            if index == size:
                index = 0
    self._origin_index = index
    self._origin_ms = new_origin_ms


def update_min_frame_period(self: OveruseEstimator, ts_delta: float) -> float:
    history = self.ts_delta_hist
    if len(history) >= MIN_FRAME_PERIOD_HISTORY_LENGTH:
        del history[0]
    smallest = min(min(history), ts_delta) if history else ts_delta
    history.append(ts_delta)
    return smallest


def install() -> None:
    rate.RateCounter._erase_old = erase_old  # type: ignore[method-assign]
    rate.OveruseEstimator.update_min_frame_period = update_min_frame_period  # type: ignore[method-assign]
