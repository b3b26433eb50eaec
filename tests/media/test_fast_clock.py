import datetime
import random
import time

import pytest
from aiortc import clock

from media import fast_clock


def _as_datetime(unix_ns: int) -> datetime.datetime:
    # aiortc's own clock has microsecond resolution: build the same instant as it would see it.
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    return epoch + datetime.timedelta(microseconds=unix_ns // 1000)


def _aiortc_ms(moment: datetime.datetime) -> int:
    return int((moment - clock.NTP_EPOCH).total_seconds() * 1000)


def test_ntp_time_equals_aiortcs_for_the_same_instant() -> None:
    rng = random.Random(7)
    now = time.time_ns()
    instants = [now, 0, 1, 999_999_999, now - now % 10**9]
    instants += [rng.randrange(0, 4 * 10**18) for _ in range(2000)]
    for unix_ns in instants:
        assert fast_clock.ntp_from_ns(unix_ns) == clock.datetime_to_ntp(_as_datetime(unix_ns))


def test_ms_equal_aiortcs_for_the_same_instant() -> None:
    rng = random.Random(11)
    for unix_ns in [time.time_ns()] + [rng.randrange(0, 4 * 10**18) for _ in range(2000)]:
        # total_seconds() is a float: at ~1e11 ms it can round the last millisecond either way.
        assert abs(fast_clock.ms_from_ns(unix_ns) - _aiortc_ms(_as_datetime(unix_ns))) <= 1


def test_ntp_round_trips_through_aiortcs_parser() -> None:
    unix_ns = 1_795_000_000_123_456_000
    back = clock.datetime_from_ntp(fast_clock.ntp_from_ns(unix_ns))
    assert abs(back - _as_datetime(unix_ns)) <= datetime.timedelta(microseconds=1)


def test_installed_clock_is_what_aiortc_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock, "current_ntp_time", clock.current_ntp_time)
    monkeypatch.setattr(clock, "current_ms", clock.current_ms)
    monkeypatch.setattr(clock, "current_datetime", clock.current_datetime)
    fast_clock.install()
    assert clock.current_ntp_time is fast_clock.current_ntp_time
    assert clock.current_ms is fast_clock.current_ms
    assert clock.current_datetime is fast_clock.current_datetime
    # And it tells the time: within a second of the datetime-based reading.
    reference = clock.datetime_to_ntp(clock.current_datetime())
    assert abs(clock.current_ntp_time() - reference) < 1 << 32


def test_datetime_is_aware_current_and_reused_within_a_millisecond() -> None:
    before = datetime.datetime.now(datetime.UTC)
    first = fast_clock.current_datetime()
    second = fast_clock.current_datetime()
    assert first.tzinfo is not None
    assert abs(first - before) < datetime.timedelta(milliseconds=50)
    assert second is first or second - first <= datetime.timedelta(milliseconds=2)
    time.sleep(0.003)
    later = fast_clock.current_datetime()
    assert later > first
    assert abs(later - datetime.datetime.now(datetime.UTC)) < datetime.timedelta(milliseconds=50)
