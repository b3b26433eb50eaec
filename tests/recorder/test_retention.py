from datetime import UTC, datetime

import pytest

from recorder.retention import find_class, parse_retention_classes

pytestmark = pytest.mark.unit


def test_parses_years_and_holds() -> None:
    classes = parse_retention_classes("short=20y, long=60y,permanent=hold")
    assert [(c.name, c.years, c.legal_hold) for c in classes] == [
        ("short", 20, False),
        ("long", 60, False),
        ("permanent", None, True),
    ]
    assert ",".join(c.spec for c in classes) == "short=20y,long=60y,permanent=hold"


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ("", "at least one"),
        ("short=0y", "at least one year"),
        ("short=20", "NAME=<years>y"),
        ("short=20y,short=30y", "twice"),
        ("Short=20y", "NAME=<years>y"),
        ("short=forever", "NAME=<years>y"),
    ],
)
def test_refuses_bad_specs(spec: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_retention_classes(spec)


def test_retain_until_adds_calendar_years() -> None:
    (short,) = parse_retention_classes("short=20y")
    now = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
    assert short.retain_until(now) == datetime(2046, 11, 22, 10, 30, tzinfo=UTC)


def test_retain_until_from_29_february_never_ends_early() -> None:
    (short,) = parse_retention_classes("short=1y")
    leap_day = datetime(2028, 2, 29, tzinfo=UTC)
    until = short.retain_until(leap_day)
    assert until is not None and until >= datetime(2029, 3, 1, tzinfo=UTC)


def test_legal_hold_has_no_end() -> None:
    (permanent,) = parse_retention_classes("permanent=hold")
    assert permanent.retain_until(datetime.now(UTC)) is None


def test_find_class_names_the_known_ones() -> None:
    classes = parse_retention_classes("short=20y,long=60y")
    assert find_class(classes, "long").years == 60
    with pytest.raises(KeyError, match="short, long"):
        find_class(classes, "forever")
