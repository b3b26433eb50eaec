"""Time zones: wall-clock times in a named zone to instants and back.

Every instant is kept as an aware UTC datetime; a wall-clock time only exists together with the
IANA zone it was read in (the office's for availability, the viewer's for display). Daylight-saving
gaps and folds are resolved here, in one place, so that no caller does arithmetic on local times.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_ZONE_NAME = 64  # offices.timezone is String(64)


class TimeZoneError(ValueError):
    pass


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The zone for an IANA name such as 'Asia/Shanghai'; TimeZoneError for anything else."""
    # ZoneInfo also accepts file-system-like keys; refuse what no IANA name looks like.
    if not name or len(name) > MAX_ZONE_NAME or name.startswith(("/", ".")) or ".." in name:
        raise TimeZoneError(f"not an IANA time zone name: {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeZoneError(f"unknown time zone {name!r}") from None


def require_aware(moment: dt.datetime, what: str = "time") -> dt.datetime:
    """`moment` in UTC; TimeZoneError if it has no offset (a naive time means nothing here)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise TimeZoneError(f"the {what} needs a UTC offset")
    return moment.astimezone(dt.UTC)


def wall_to_utc(day: dt.date, minute: int, tz: ZoneInfo) -> dt.datetime:
    """The instant at `minute` minutes after local midnight of `day` in `tz`, as UTC.

    Minute 1440 is the next day's midnight. A wall time in a spring-forward gap does not exist;
    it is read with the offset in force before the gap (fold=0), which moves it forward by the
    gap, as a clock that was not yet changed would. A wall time that occurs twice (fall back)
    is its first occurrence.
    """
    if not 0 <= minute <= 24 * 60:
        raise ValueError(f"minute of day out of range: {minute}")
    # Naive arithmetic is wall-clock arithmetic; the zone is attached only at the end.
    wall = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=minute)
    return wall.replace(tzinfo=tz, fold=0).astimezone(dt.UTC)


def local_day_bounds(day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of the local calendar day as UTC instants (23, 24 or 25 hours long)."""
    return wall_to_utc(day, 0, tz), wall_to_utc(day + dt.timedelta(days=1), 0, tz)


def local_dates(start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> list[dt.date]:
    """Every local calendar date in `tz` that overlaps the instants [start, end)."""
    first = start.astimezone(tz).date()
    last = (end - dt.timedelta(microseconds=1)).astimezone(tz).date()
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def in_zone(moment: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    """An instant as the wall clock in `tz` shows it (with its offset)."""
    return require_aware(moment).astimezone(tz)


def iso_in_zone(moment: dt.datetime, tz: ZoneInfo) -> str:
    """ISO 8601 with the local offset, e.g. '2026-03-09T09:00:00-04:00'."""
    return in_zone(moment, tz).isoformat(timespec="minutes")
