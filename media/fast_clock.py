"""aiortc's wall-clock helpers without datetime arithmetic, for the per-packet paths.

aiortc 1.16.0 reads the clock through `aiortc.clock` for every packet: `current_ms()` stamps
each incoming packet's arrival (bandwidth estimation) and `current_ntp_time()` runs twice per
outgoing packet (abs-send-time and the next sender report). Both build a timezone-aware
datetime and subtract another; py-spy put them at 3-4 % of the server's busy time. These
integer versions return the same values (microsecond resolution, like datetime) from
`time.time_ns()`; `install()` swaps them in, so aiortc's modules, which call them as
`clock.current_ms()`, pick them up. `current_datetime()`, read for every incoming packet,
reuses one datetime for a millisecond. The pinned version is checked by media/compat.py.
"""

from __future__ import annotations

import datetime
import time

from aiortc import clock

# aiortc's own functions, for side-by-side measurements and tests.
ORIGINAL_CURRENT_NTP_TIME = clock.current_ntp_time
ORIGINAL_CURRENT_MS = clock.current_ms
ORIGINAL_CURRENT_DATETIME = clock.current_datetime

# aiortc stamps every incoming packet's source with `current_datetime()` (for
# getSynchronizationSources and its 10 s expiry): one datetime a millisecond is plenty.
DATETIME_REUSE_NS = 1_000_000
_last_datetime = (0, datetime.datetime.fromtimestamp(0, datetime.UTC))

# Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01), RFC 5905.
NTP_UNIX_OFFSET_S = 2_208_988_800


def ntp_from_ns(unix_ns: int) -> int:
    """64-bit NTP time (32.32 fixed point) of a Unix time in nanoseconds, to the microsecond."""
    micros = unix_ns // 1000 + NTP_UNIX_OFFSET_S * 1_000_000
    seconds, micro = divmod(micros, 1_000_000)
    return (seconds << 32) | ((micro << 32) // 1_000_000)


def ms_from_ns(unix_ns: int) -> int:
    """Milliseconds since the NTP epoch, as `aiortc.clock.current_ms()` counts them."""
    return (unix_ns // 1000 + NTP_UNIX_OFFSET_S * 1_000_000) // 1000


def current_ntp_time() -> int:
    return ntp_from_ns(time.time_ns())


def current_ms() -> int:
    return ms_from_ns(time.time_ns())


def current_datetime() -> datetime.datetime:
    """The wall clock as an aware datetime, at most a millisecond old."""
    global _last_datetime
    now = time.time_ns()
    if now - _last_datetime[0] >= DATETIME_REUSE_NS:
        _last_datetime = (now, datetime.datetime.fromtimestamp(now / 1e9, datetime.UTC))
    return _last_datetime[1]


def install() -> None:
    clock.current_ntp_time = current_ntp_time
    clock.current_ms = current_ms
    clock.current_datetime = current_datetime
