import pytest

from signaling.ratelimit import RateLimiter

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.retry_after("a") == pytest.approx(0.5)
    assert limiter.allow("b")  # keys are independent
    clock.now = 0.5
    assert limiter.allow("a")
    assert not limiter.allow("a")
    clock.now = 100
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]  # capped at burst


def test_memory_is_bounded_under_a_flood_of_keys() -> None:
    limiter = RateLimiter(rate=1, burst=1, max_keys=100, clock=Clock())
    for i in range(10_000):
        limiter.allow(f"spoofed-{i}")
    assert len(limiter) == 100


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1)
