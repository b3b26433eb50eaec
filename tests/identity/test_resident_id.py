"""GB 11643 resident ID numbers: ISO 7064 MOD 11-2, birth date, sex, region, legacy numbers."""

from __future__ import annotations

import datetime as dt

import pytest

from identity.resident_id import (
    Reason,
    ResidentIdError,
    check_character,
    parse_resident_id,
    upgrade_legacy_number,
)

pytestmark = pytest.mark.unit

TODAY = dt.date(2024, 6, 1)


@pytest.mark.parametrize(
    ("number", "born", "sex"),
    [
        # the examples printed in GB 11643-1999
        ("11010519491231002X", dt.date(1949, 12, 31), "F"),
        ("440524188001010014", dt.date(1880, 1, 1), "M"),
        ("11010519491231002x", dt.date(1949, 12, 31), "F"),  # lower-case x
        ("110105 1949 1231 002X", dt.date(1949, 12, 31), "F"),  # typed with spaces
    ],
)
def test_known_good_numbers(number: str, born: dt.date, sex: str) -> None:
    parsed = parse_resident_id(number, today=TODAY)
    assert parsed.birth_date == born
    assert parsed.sex == sex
    assert parsed.number == number.replace(" ", "").upper()


def test_every_single_digit_typo_and_neighbour_swap_is_caught() -> None:
    good = "11010519491231002X"
    for i in range(17):
        for digit in "0123456789":
            if digit == good[i]:
                continue
            typo = good[:i] + digit + good[i + 1 :]
            with pytest.raises(ResidentIdError):
                parse_resident_id(typo, today=TODAY)
    for i in range(16):
        if good[i] != good[i + 1]:
            swapped = good[:i] + good[i + 1] + good[i] + good[i + 2 :]
            with pytest.raises(ResidentIdError):
                parse_resident_id(swapped, today=TODAY)


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", Reason.CHECKSUM),
        ("440524188001010015", Reason.CHECKSUM),
        ("11010519491231002", Reason.FORMAT),
        ("1101051949123100XX", Reason.FORMAT),
        ("991051194912310020", Reason.REGION),
        ("110105194902300020", Reason.BIRTH_DATE),  # 30 February
        ("110105203001010011", Reason.BIRTH_DATE),  # born in 2030
        ("110105491231002", Reason.LEGACY_15_DIGIT),
    ],
)
def test_known_bad_numbers(number: str, reason: Reason) -> None:
    with pytest.raises(ResidentIdError) as caught:
        parse_resident_id(number, today=TODAY)
    assert caught.value.reason is reason


def test_legacy_numbers_are_explained_and_upgraded() -> None:
    with pytest.raises(ResidentIdError) as caught:
        parse_resident_id("110105491231002", today=TODAY)
    assert "no check digit" in caught.value.message
    assert "11010519491231002X" in caught.value.message
    assert upgrade_legacy_number("110105491231002") == "11010519491231002X"


def test_check_character_covers_x() -> None:
    assert check_character("11010519491231002") == "X"
    assert check_character("44052418800101001") == "4"
