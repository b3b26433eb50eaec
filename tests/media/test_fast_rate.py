"""media/fast_rate.py against aiortc's own estimator code, run side by side on the same input."""

from __future__ import annotations

import random

import pytest
from aiortc.rate import OveruseEstimator, RateCounter, RemoteBitrateEstimator

from media import fast_rate


class ReferenceCounter(RateCounter):
    _erase_old = fast_rate.ORIGINAL_ERASE_OLD


class FastCounter(RateCounter):
    _erase_old = fast_rate.erase_old


class ReferenceEstimator(OveruseEstimator):
    update_min_frame_period = fast_rate.ORIGINAL_UPDATE_MIN_FRAME_PERIOD


class FastEstimator(OveruseEstimator):
    update_min_frame_period = fast_rate.update_min_frame_period


def _buckets(counter: RateCounter) -> list[tuple[int, int]]:
    return [(b.count, b.value) for b in counter._buckets]


@pytest.mark.parametrize("seed", range(5))
def test_rate_counter_matches_aiortcs(seed: int) -> None:
    rng = random.Random(seed)
    reference, fast = ReferenceCounter(1000, 8000), FastCounter(1000, 8000)
    now = rng.randrange(10**9)
    for _ in range(3000):
        # Packet bursts, ordinary gaps, and now and then a pause longer than the window.
        now += rng.choice([0, 0, 1, 3, 8, 33, rng.randrange(900, 2500)])
        size = rng.randrange(0, 1300)
        if rng.random() < 0.5:
            assert fast.rate(now) == reference.rate(now)
        fast.add(size, now)
        reference.add(size, now)
        assert (fast._total.count, fast._total.value) == (
            reference._total.count,
            reference._total.value,
        )
    assert fast._origin_ms == reference._origin_ms
    assert fast._origin_index == reference._origin_index
    assert _buckets(fast) == _buckets(reference)


@pytest.mark.parametrize("seed", range(5))
def test_min_frame_period_matches_aiortcs(seed: int) -> None:
    rng = random.Random(seed)
    reference, fast = ReferenceEstimator(), FastEstimator()
    for _ in range(500):
        delta = rng.choice([33.3, 16.6, 40.0, rng.uniform(0, 100), 0.0])
        assert fast.update_min_frame_period(delta) == reference.update_min_frame_period(delta)
    assert fast.ts_delta_hist == reference.ts_delta_hist


def test_installed_estimator_gives_aiortcs_remb(monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole receive-side estimator, fed one packet trace, twice: same REMB values."""

    def run() -> list[tuple[int, list[int]] | None]:
        rng = random.Random(3)
        estimator = RemoteBitrateEstimator()
        out = []
        arrival, send = 10_000, 0
        for _ in range(4000):
            send += rng.choice([0, 0, 0, 33])  # packets of one frame share a send time
            arrival += rng.choice([0, 1, 2, 5, 33, 40])
            abs_send_time = (send * (1 << 18) // 1000) & 0xFFFFFF
            out.append(estimator.add(arrival, abs_send_time, rng.randrange(200, 1200), 1234))
        return out

    monkeypatch.setattr(RateCounter, "_erase_old", fast_rate.ORIGINAL_ERASE_OLD)
    monkeypatch.setattr(
        OveruseEstimator, "update_min_frame_period", fast_rate.ORIGINAL_UPDATE_MIN_FRAME_PERIOD
    )
    reference = run()
    fast_rate.install()  # monkeypatch puts aiortc's methods back after the test
    assert RateCounter._erase_old is fast_rate.erase_old
    assert run() == reference
    assert sum(r is not None for r in reference) > 3, "the trace must produce REMB updates"
