"""notary/timezones: wall clocks to instants across daylight-saving changes."""

from __future__ import annotations

import datetime as dt

import pytest

from notary.timezones import (
    TimeZoneError,
    iso_in_zone,
    local_dates,
    local_day_bounds,
    require_aware,
    wall_to_utc,
    zone,
)

pytestmark = pytest.mark.unit

BERLIN = zone("Europe/Berlin")
NEW_YORK = zone("America/New_York")
SHANGHAI = zone("Asia/Shanghai")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize("name", ["", "Not/AZone", "../etc/passwd", "/etc/localtime", "x" * 65])
def test_zone_refuses_what_is_not_an_iana_name(name: str) -> None:
    with pytest.raises(TimeZoneError):
        zone(name)


def test_wall_clock_keeps_its_hour_across_a_change() -> None:
    # 18:00 in Berlin: 17:00 UTC in winter, 16:00 UTC in summer (2026-03-29 is the change).
    assert wall_to_utc(dt.date(2026, 3, 28), 18 * 60, BERLIN) == utc(2026, 3, 28, 17)
    assert wall_to_utc(dt.date(2026, 3, 29), 18 * 60, BERLIN) == utc(2026, 3, 29, 16)
    # Shanghai has no daylight saving: the same UTC hour all year.
    assert wall_to_utc(dt.date(2026, 3, 8), 9 * 60, SHANGHAI) == utc(2026, 3, 8, 1)
    assert wall_to_utc(dt.date(2026, 11, 1), 9 * 60, SHANGHAI) == utc(2026, 11, 1, 1)


def test_a_time_in_the_spring_gap_moves_forward_and_a_repeated_one_is_the_first() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29: read as 03:30 CEST = 01:30 UTC.
    assert wall_to_utc(dt.date(2026, 3, 29), 150, BERLIN) == utc(2026, 3, 29, 1, 30)
    # 02:30 happens twice on 2026-10-25: the first (CEST) is 00:30 UTC.
    assert wall_to_utc(dt.date(2026, 10, 25), 150, BERLIN) == utc(2026, 10, 25, 0, 30)


def test_days_are_23_24_or_25_hours_long() -> None:
    lengths = {
        day: (lambda b: b[1] - b[0])(local_day_bounds(day, NEW_YORK))
        for day in (dt.date(2026, 3, 8), dt.date(2026, 3, 9), dt.date(2026, 11, 1))
    }
    assert lengths == {
        dt.date(2026, 3, 8): dt.timedelta(hours=23),
        dt.date(2026, 3, 9): dt.timedelta(hours=24),
        dt.date(2026, 11, 1): dt.timedelta(hours=25),
    }
    assert wall_to_utc(dt.date(2026, 3, 8), 24 * 60, NEW_YORK) == utc(2026, 3, 9, 4)


def test_local_dates_cover_the_range_in_that_zone() -> None:
    # 2026-03-08 23:00 UTC is still the 8th in New York but already the 9th in Shanghai.
    start, end = utc(2026, 3, 8, 23), utc(2026, 3, 9, 1)
    assert local_dates(start, end, NEW_YORK) == [dt.date(2026, 3, 8)]
    assert local_dates(start, end, SHANGHAI) == [dt.date(2026, 3, 9)]


def test_display_in_the_viewers_zone() -> None:
    moment = utc(2026, 3, 9, 1)  # 09:00 in Shanghai
    assert iso_in_zone(moment, SHANGHAI) == "2026-03-09T09:00+08:00"
    assert iso_in_zone(moment, NEW_YORK) == "2026-03-08T21:00-04:00"
    assert iso_in_zone(moment - dt.timedelta(days=7), NEW_YORK) == "2026-03-01T20:00-05:00"


def test_naive_times_are_refused() -> None:
    with pytest.raises(TimeZoneError, match="offset"):
        require_aware(dt.datetime(2026, 3, 9, 1))
    assert require_aware(dt.datetime(2026, 3, 9, 9, tzinfo=SHANGHAI)) == utc(2026, 3, 9, 1)
