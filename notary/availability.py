"""Availability: when notaries (and site officers) can hold video interviews.

A window is wall-clock time in the office's zone, either weekly ("Saturdays 09:00-12:00",
evenings and weekends are ordinary windows) or on one date. Windows are turned into instants
only here, day by day in the office's zone, so a window keeps its local hours across a
daylight-saving change: 18:00 in Berlin is 17:00 UTC in winter and 16:00 UTC in summer.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal
from notary.roles import Role
from notary.tables import accounts, availability_windows, offices
from notary.timezones import wall_to_utc, zone

# Every slot starts on this grid (in UTC; all offsets in use are whole quarter hours), and a
# booked person holds one row per tick: see notary.tables.appointment_holds.
GRID_MINUTES = 15
MAX_WINDOWS_PER_ACCOUNT = 200  # a busy week has perhaps 20; this bounds every slot search
MAX_RANGE_DAYS = 62  # the longest span a slot search may cover
PUBLISHERS = (Role.NOTARY, Role.SITE_OFFICER)


class AvailabilityError(ValueError):
    """A window that cannot be published as asked; `code` is for API clients."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Window:
    id: str
    account_id: str
    office_id: int
    weekday: int | None  # 0 = Monday
    on_date: dt.date | None
    start_minute: int
    end_minute: int
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None

    def applies_on(self, day: dt.date) -> bool:
        if self.on_date is not None:
            return day == self.on_date
        if self.weekday != day.weekday():
            return False
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_until is None or day <= self.valid_until

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account_id": self.account_id,
            "weekday": self.weekday,
            "date": self.on_date.isoformat() if self.on_date else None,
            "start": format_minute(self.start_minute),
            "end": format_minute(self.end_minute),
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
        }


@dataclass(frozen=True)
class Interval:
    """[start, end) in UTC, with whose time it is."""

    account_id: str
    start: dt.datetime
    end: dt.datetime


def parse_minute(text: str) -> int:
    """'HH:MM' to minutes after midnight; '24:00' is the end of the day."""
    hours, sep, minutes = text.partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2:
        raise AvailabilityError("invalid_time", f"{text!r} is not a time like 18:30")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > 24 * 60:
        raise AvailabilityError("invalid_time", f"{text!r} is not a time of day")
    return value


def format_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def occurrences(
    windows: Iterable[Window], tz: ZoneInfo, start: dt.datetime, end: dt.datetime
) -> list[Interval]:
    """The windows as instants overlapping [start, end), in time order.

    Local days are walked in the office's zone; one extra day on each side catches windows
    whose local day lies partly outside the range.
    """
    first = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = end.astimezone(tz).date() + dt.timedelta(days=1)
    found: list[Interval] = []
    windows = list(windows)
    day = first
    while day <= last:
        for window in windows:
            if not window.applies_on(day):
                continue
            opens = wall_to_utc(day, window.start_minute, tz)
            closes = wall_to_utc(day, window.end_minute, tz)
            if opens < end and closes > start and opens < closes:
                found.append(Interval(window.account_id, opens, closes))
        day += dt.timedelta(days=1)
    found.sort(key=lambda i: (i.start, i.account_id))
    return found


def on_grid(moment: dt.datetime) -> bool:
    return moment.second == 0 and moment.microsecond == 0 and moment.minute % GRID_MINUTES == 0


def ticks(start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """The grid ticks a slot [start, end) covers: what a booking holds."""
    step = dt.timedelta(minutes=GRID_MINUTES)
    out = []
    moment = start
    while moment < end:
        out.append(moment)
        moment += step
    return out


def slot_starts(interval: Interval, length: dt.timedelta) -> list[dt.datetime]:
    """Back-to-back slots of `length` from the window's opening, all inside the window.

    The steps are real time, so a window across a clock change holds as many slots as it has
    real hours (one fewer in spring, one more in autumn).
    """
    starts = []
    moment = interval.start
    while moment + length <= interval.end:
        if on_grid(moment):
            starts.append(moment)
        moment += length
    return starts


async def office_zone(conn: AsyncConnection, office_id: int) -> ZoneInfo:
    name = await conn.scalar(sa.select(offices.c.timezone).where(offices.c.id == office_id))
    if name is None:
        raise AvailabilityError("office_not_found", "no such office")
    return zone(str(name))


def _window(row: sa.Row[Any]) -> Window:
    return Window(
        id=row.id,
        account_id=row.account_id,
        office_id=row.office_id,
        weekday=row.weekday,
        on_date=row.on_date,
        start_minute=row.start_minute,
        end_minute=row.end_minute,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
    )


async def publish(
    conn: AsyncConnection,
    *,
    account_id: str,
    weekday: int | None,
    on_date: dt.date | None,
    start_minute: int,
    end_minute: int,
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
    now: dt.datetime,
) -> Window:
    """Publish a window for a notary or site officer (in their office's zone); journaled."""
    row = (
        await conn.execute(
            sa.select(accounts.c.role, accounts.c.office_id, accounts.c.disabled).where(
                accounts.c.id == account_id
            )
        )
    ).first()
    if row is None or row.disabled or Role(row.role) not in PUBLISHERS or row.office_id is None:
        raise AvailabilityError("forbidden", "only notaries and site officers publish hours")
    if (weekday is None) == (on_date is None):
        raise AvailabilityError("invalid_window", "give either a weekday or a date, not both")
    if weekday is not None and not 0 <= weekday <= 6:
        raise AvailabilityError("invalid_window", "weekday is 0 (Monday) to 6 (Sunday)")
    if not 0 <= start_minute < end_minute <= 24 * 60:
        raise AvailabilityError("invalid_window", "the window must end after it starts")
    if start_minute % GRID_MINUTES or end_minute % GRID_MINUTES:
        raise AvailabilityError(
            "invalid_window", f"windows start and end on a {GRID_MINUTES}-minute boundary"
        )
    if on_date is not None and (valid_from is not None or valid_until is not None):
        raise AvailabilityError("invalid_window", "a one-date window has no validity range")
    if valid_from and valid_until and valid_until < valid_from:
        raise AvailabilityError("invalid_window", "valid_until is before valid_from")
    tz = await office_zone(conn, row.office_id)
    if on_date is not None and on_date < now.astimezone(tz).date():
        raise AvailabilityError("invalid_window", "that date is in the past")
    count = await conn.scalar(
        sa.select(sa.func.count())
        .select_from(availability_windows)
        .where(availability_windows.c.account_id == account_id)
    )
    if (count or 0) >= MAX_WINDOWS_PER_ACCOUNT:
        raise AvailabilityError(
            "too_many_windows", f"at most {MAX_WINDOWS_PER_ACCOUNT} windows; remove old ones"
        )
    window = Window(
        id=str(uuid.uuid4()),
        account_id=account_id,
        office_id=row.office_id,
        weekday=weekday,
        on_date=on_date,
        start_minute=start_minute,
        end_minute=end_minute,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    await conn.execute(
        availability_windows.insert().values(
            id=window.id,
            office_id=window.office_id,
            account_id=account_id,
            weekday=weekday,
            on_date=on_date,
            start_minute=start_minute,
            end_minute=end_minute,
            valid_from=valid_from,
            valid_until=valid_until,
            created_at=now,
        )
    )
    await journal.append(
        conn,
        action="availability.published",
        actor_id=account_id,
        actor_role=row.role,
        after=window.as_json(),
    )
    return window


async def remove(conn: AsyncConnection, *, window_id: str, account_id: str, role: str) -> None:
    """Remove one of the caller's own windows; bookings already made keep their time."""
    row = (
        await conn.execute(
            sa.select(availability_windows).where(
                availability_windows.c.id == window_id,
                availability_windows.c.account_id == account_id,
            )
        )
    ).first()
    if row is None:
        raise AvailabilityError("window_not_found", "no such window")
    await conn.execute(availability_windows.delete().where(availability_windows.c.id == window_id))
    await journal.append(
        conn,
        action="availability.removed",
        actor_id=account_id,
        actor_role=role,
        before=_window(row).as_json(),
    )


async def windows_of(conn: AsyncConnection, account_ids: Sequence[str]) -> list[Window]:
    if not account_ids:
        return []
    rows = await conn.execute(
        sa.select(availability_windows)
        .where(availability_windows.c.account_id.in_(list(account_ids)))
        # Weekly windows first, then dates; explicit, as NULLs sort differently per database.
        .order_by(
            availability_windows.c.on_date.is_not(None),
            sa.func.coalesce(availability_windows.c.weekday, 0),
            availability_windows.c.on_date,
            availability_windows.c.start_minute,
        )
    )
    return [_window(row) for row in rows]
