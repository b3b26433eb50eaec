"""Rate limits as HTTP answers: 429 with the seconds to wait, and named limiters kept per
application (signaling.ratelimit is the bucket itself, with no HTTP in it)."""

from __future__ import annotations

import weakref

from aiohttp import web

from signaling.errors import ApiError
from signaling.ratelimit import RateLimiter


def enforce(limiter: RateLimiter, key: str, what: str) -> None:
    """Spend one of `key`'s tokens, or answer 429 "too many `what`" with `retry_after` (s)."""
    if not limiter.allow(key):
        retry = max(1, round(limiter.retry_after(key)))
        raise ApiError(
            429,
            "rate_limited",
            f"too many {what}; try again in {retry} s",
            {"retry_after": retry},
        )


class AppLimiters:
    """Limiters by kind, one set per application, so that each server (and each test's app)
    counts on its own. `limits` maps a kind to (tokens a second, burst) and is read when a kind
    is first used in an application."""

    def __init__(self, limits: dict[str, tuple[float, int]]) -> None:
        self.limits = limits
        self._apps: weakref.WeakKeyDictionary[web.Application, dict[str, RateLimiter]] = (
            weakref.WeakKeyDictionary()
        )

    def of(self, app: web.Application, kind: str) -> RateLimiter:
        per_app = self._apps.setdefault(app, {})
        if kind not in per_app:
            rate, burst = self.limits[kind]
            per_app[kind] = RateLimiter(rate=rate, burst=burst)
        return per_app[kind]
