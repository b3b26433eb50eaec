"""notary/availability: windows in the office's zone become instants and slots."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import availability
from notary.availability import (
    AvailabilityError,
    Interval,
    Window,
    occurrences,
    parse_minute,
    slot_starts,
    ticks,
)
from notary.tables import availability_windows, journal_entries
from notary.timezones import zone
from tests.notary.booking_world import make_world, utc

BERLIN = zone("Europe/Berlin")
SHANGHAI = zone("Asia/Shanghai")


def weekly(weekday: int, start: str, end: str, **extra: object) -> Window:
    return Window(
        id="w",
        account_id="n",
        office_id=1,
        weekday=weekday,
        on_date=None,
        start_minute=parse_minute(start),
        end_minute=parse_minute(end),
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.unit
@pytest.mark.parametrize(
    "text, minute", [("00:00", 0), ("09:30", 570), ("18:45", 1125), ("24:00", 1440)]
)
def test_parse_minute(text: str, minute: int) -> None:
    assert parse_minute(text) == minute


@pytest.mark.unit
@pytest.mark.parametrize("text", ["9", "9:5", "24:15", "12:60", "ab:cd", "-1:00", ""])
def test_parse_minute_refuses(text: str) -> None:
    with pytest.raises(AvailabilityError):
        parse_minute(text)


@pytest.mark.unit
def test_an_evening_window_keeps_its_local_hours_across_the_change() -> None:
    # Sundays 18:00-21:00 in Berlin, the week before and the week after 2026-03-29.
    found = occurrences([weekly(6, "18:00", "21:00")], BERLIN, utc(2026, 3, 21), utc(2026, 4, 6))
    assert [(i.start, i.end) for i in found] == [
        (utc(2026, 3, 22, 17), utc(2026, 3, 22, 20)),  # CET, UTC+1
        (utc(2026, 3, 29, 16), utc(2026, 3, 29, 19)),  # CEST, UTC+2
        (utc(2026, 4, 5, 16), utc(2026, 4, 5, 19)),
    ]


@pytest.mark.unit
def test_weekend_and_validity_range() -> None:
    window = weekly(
        5, "09:00", "12:00", valid_from=dt.date(2026, 12, 5), valid_until=dt.date(2026, 12, 12)
    )
    found = occurrences([window], SHANGHAI, utc(2026, 11, 25), utc(2026, 12, 31))
    assert [i.start for i in found] == [utc(2026, 12, 5, 1), utc(2026, 12, 12, 1)]


@pytest.mark.unit
def test_a_window_across_the_clock_change_has_as_many_slots_as_real_hours() -> None:
    night = weekly(6, "01:00", "04:00")  # Sunday night in Berlin
    hour = dt.timedelta(hours=1)
    spring = occurrences([night], BERLIN, utc(2026, 3, 29), utc(2026, 3, 30))
    autumn = occurrences([night], BERLIN, utc(2026, 10, 24), utc(2026, 10, 26))
    assert len(slot_starts(spring[0], hour)) == 2  # 02:00-03:00 does not exist
    assert len(slot_starts(autumn[0], hour)) == 4  # 02:00-03:00 happens twice


@pytest.mark.unit
def test_slots_fill_a_window_back_to_back_and_hold_their_ticks() -> None:
    interval = Interval("n", utc(2026, 5, 4, 1), utc(2026, 5, 4, 2, 45))
    starts = slot_starts(interval, dt.timedelta(minutes=30))
    assert starts == [utc(2026, 5, 4, 1), utc(2026, 5, 4, 1, 30), utc(2026, 5, 4, 2)]
    assert ticks(starts[0], starts[0] + dt.timedelta(minutes=30)) == [
        utc(2026, 5, 4, 1),
        utc(2026, 5, 4, 1, 15),
    ]


@pytest.mark.integration
async def test_publish_checks_and_journals(engine: AsyncEngine) -> None:
    now = utc(2026, 11, 22, 5)
    async with engine.begin() as conn:
        world = await make_world(conn)
        saturday = await availability.publish(
            conn,
            account_id=world.notary,
            weekday=5,
            on_date=None,
            start_minute=parse_minute("09:00"),
            end_minute=parse_minute("12:00"),
            now=now,
        )
        evening = await availability.publish(
            conn,
            account_id=world.officer,
            weekday=None,
            on_date=dt.date(2026, 12, 1),
            start_minute=parse_minute("19:00"),
            end_minute=parse_minute("22:00"),
            now=now,
        )
    async with engine.connect() as conn:
        mine = await availability.windows_of(conn, [world.notary])
        actions = list(await conn.scalars(sa.select(journal_entries.c.action)))
    assert mine == [saturday]
    assert evening.office_id == world.consulate  # a site officer's hours are in their own zone
    assert actions.count("availability.published") == 2

    bad: list[dict[str, object]] = [
        {"weekday": 1, "on_date": dt.date(2026, 12, 1)},  # both
        {"weekday": None, "on_date": None},  # neither
        {"weekday": 7, "on_date": None},
        {"weekday": 1, "on_date": None, "start_minute": 600, "end_minute": 600},
        {"weekday": 1, "on_date": None, "start_minute": 605, "end_minute": 660},  # off grid
        {"weekday": None, "on_date": dt.date(2026, 11, 1)},  # past
    ]
    for fields in bad:
        values = {"start_minute": 540, "end_minute": 720, **fields}
        async with engine.begin() as conn:
            with pytest.raises(AvailabilityError):
                await availability.publish(conn, account_id=world.notary, now=now, **values)  # type: ignore[arg-type]
    async with engine.begin() as conn:
        with pytest.raises(AvailabilityError, match="only notaries"):
            await availability.publish(
                conn,
                account_id=world.applicant,
                weekday=1,
                on_date=None,
                start_minute=540,
                end_minute=600,
                now=now,
            )


@pytest.mark.integration
async def test_remove_only_own_window(engine: AsyncEngine) -> None:
    now = utc(2026, 11, 22, 5)
    async with engine.begin() as conn:
        world = await make_world(conn)
        window = await availability.publish(
            conn,
            account_id=world.notary,
            weekday=0,
            on_date=None,
            start_minute=540,
            end_minute=600,
            now=now,
        )
    async with engine.begin() as conn:
        with pytest.raises(AvailabilityError, match="no such window"):
            await availability.remove(
                conn, window_id=window.id, account_id=world.notary2, role="notary"
            )
    async with engine.begin() as conn:
        await availability.remove(conn, window_id=window.id, account_id=world.notary, role="notary")
        left = await conn.scalar(sa.select(sa.func.count()).select_from(availability_windows))
    assert left == 0


@pytest.mark.integration
async def test_the_database_refuses_a_malformed_window(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_world(conn)
    async with engine.begin() as conn:
        with pytest.raises(sa.exc.IntegrityError):
            await conn.execute(
                availability_windows.insert().values(
                    id="x",
                    office_id=world.office,
                    account_id=world.notary,
                    weekday=1,
                    on_date=dt.date(2026, 12, 1),
                    start_minute=540,
                    end_minute=600,
                    created_at=utc(2026, 11, 22),
                )
            )
