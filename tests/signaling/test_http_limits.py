"""Rate limits as HTTP answers: the burst passes, the next is a 429 saying how long to wait,
and limiters are kept per application and per kind."""

from __future__ import annotations

import pytest
from aiohttp import web

from signaling.errors import ApiError
from signaling.http_limits import AppLimiters, enforce
from signaling.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_burst_passes_then_429_with_the_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1 / 6, burst=2, clock=clock)
    enforce(limiter, "ip:a", "attempts")
    enforce(limiter, "ip:a", "attempts")
    with pytest.raises(ApiError) as refused:
        enforce(limiter, "ip:a", "attempts")
    assert (refused.value.status, refused.value.code) == (429, "rate_limited")
    assert refused.value.message == "too many attempts; try again in 6 s"
    assert refused.value.details == {"retry_after": 6}
    enforce(limiter, "ip:b", "attempts")  # another key has its own bucket
    clock.now = 6.0
    enforce(limiter, "ip:a", "attempts")  # one token back after the wait


def test_the_wait_is_at_least_one_second() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=1, clock=clock)
    enforce(limiter, "k", "changes")
    with pytest.raises(ApiError) as refused:
        enforce(limiter, "k", "changes")
    assert refused.value.details == {"retry_after": 1}  # 0.1 s rounds up, never "0 s"


def test_limiters_are_per_application_and_kind_and_read_the_limits_late() -> None:
    limits = {"upload": (1.0, 2), "search": (1.0, 5)}
    limiters = AppLimiters(limits)
    first, second = web.Application(), web.Application()
    upload = limiters.of(first, "upload")
    assert limiters.of(first, "upload") is upload
    assert limiters.of(second, "upload") is not upload
    assert limiters.of(first, "search") is not upload
    assert (upload.rate, upload.burst) == (1.0, 2)
    limits["search"] = (0.5, 1)  # tightened before the kind is used in this application
    tightened = limiters.of(second, "search")
    assert (tightened.rate, tightened.burst) == (0.5, 1)
    with pytest.raises(KeyError):
        limiters.of(first, "unknown")
