"""Keyframe requests towards one publisher: coalesced and rate-limited.

Every subscriber that joins, drops a frame or reports picture loss wants a keyframe, and each
keyframe costs the publisher's uplink several times a normal frame. Requests inside
`min_interval` of the last one sent are merged into one deferred request, and a keyframe that
arrives meanwhile satisfies it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

DEFAULT_MIN_INTERVAL = 0.5


class KeyframeRequester:
    def __init__(
        self, send: Callable[[], None], *, min_interval: float = DEFAULT_MIN_INTERVAL
    ) -> None:
        self._send = send
        self.min_interval = min_interval
        self.requested = 0
        self.sent = 0
        self._last_sent: float | None = None
        self._deferred: asyncio.TimerHandle | None = None

    @property
    def pending(self) -> bool:
        return self._deferred is not None

    def request(self) -> None:
        self.requested += 1
        now = time.monotonic()
        if self._last_sent is None or now - self._last_sent >= self.min_interval:
            self._fire()
        elif self._deferred is None:
            delay = self.min_interval - (now - self._last_sent)
            self._deferred = asyncio.get_running_loop().call_later(delay, self._fire)

    def keyframe_seen(self) -> None:
        """A keyframe arrived: any request still deferred is answered."""
        self.cancel()

    def cancel(self) -> None:
        if self._deferred is not None:
            self._deferred.cancel()
            self._deferred = None

    def _fire(self) -> None:
        self._deferred = None
        self._last_sent = time.monotonic()
        self.sent += 1
        self._send()
