"""Chinese resident identity card numbers (公民身份号码, GB 11643-1999).

18 characters: a 6-digit administrative region code, the birth date YYYYMMDD, a 3-digit
sequence number (odd for men, even for women) and a check character computed with
ISO 7064 MOD 11-2 (0-9 or X for 10). The checksum catches typos (every single wrong digit
and every swap of two neighbouring digits); it proves nothing about the card being genuine.

15-digit numbers are the first-generation format (issued until 2004, no longer valid as
cards since 2013-01-01): region code, YYMMDD birth date in the 1900s, sequence number, and
no check character, so a typo in one cannot be detected at all. They are refused with that
explanation; `upgrade_legacy_number` gives the 18-digit form of the same person's number
(the number the holder's current card shows), which is what the applicant should type.

Region codes are checked for their form (a known province-level prefix), not against the
full list of county codes: codes are retired over time, and a number issued under a retired
code stays the holder's number for life.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum

# ISO 7064 MOD 11-2 weights are 2^(17-i) mod 11.
WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))
_CHECK = "10X98765432"  # check character for (sum mod 11) = 0..10

# Province-level prefixes: mainland provinces, 71 Taiwan, 81/82 Hong Kong and Macao
# (residence permits for Hong Kong, Macao and Taiwan residents use 81, 82, 83), and 91/93 as
# used on foreigners' permanent residence ID cards of the 2023 format.
PROVINCE_PREFIXES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83, 91, 93}
)


class Reason(StrEnum):
    FORMAT = "format"
    LEGACY_15_DIGIT = "legacy_15_digit"
    REGION = "region"
    BIRTH_DATE = "birth_date"
    CHECKSUM = "checksum"


class ResidentIdError(ValueError):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class ResidentId:
    number: str  # 18 characters, X upper-case
    region_code: str
    birth_date: dt.date
    sequence: str
    sex: str  # "M" or "F"


def check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ResidentIdError(Reason.FORMAT, "the check character needs 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return _CHECK[total % 11]


def _normalize(text: str) -> str:
    return re.sub(r"[\s-]", "", text).upper()


def _birth_date(digits: str, today: dt.date) -> dt.date:
    try:
        born = dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        raise ResidentIdError(Reason.BIRTH_DATE, f"{digits} is not a real date") from None
    if born > today:
        raise ResidentIdError(Reason.BIRTH_DATE, f"birth date {born} lies in the future")
    if born.year < 1850:
        raise ResidentIdError(Reason.BIRTH_DATE, f"birth year {born.year} is implausible")
    return born


def parse_resident_id(text: str, *, today: dt.date | None = None) -> ResidentId:
    """Check an 18-character number and derive birth date and sex; raise ResidentIdError."""
    today = today or dt.date.today()
    number = _normalize(text)
    if len(number) == 15 and number.isdigit():
        raise ResidentIdError(
            Reason.LEGACY_15_DIGIT,
            "this is a first-generation 15-digit number: it has no check digit, so typos "
            "cannot be caught, and such cards are no longer valid; enter the 18-digit number "
            f"of the current card (for this number it would be {upgrade_legacy_number(number)})",
        )
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise ResidentIdError(
            Reason.FORMAT, "a resident ID number has 17 digits and a final digit or X"
        )
    if int(number[:2]) not in PROVINCE_PREFIXES:
        raise ResidentIdError(Reason.REGION, f"{number[:6]} is not a region code")
    born = _birth_date(number[6:14], today)
    expected = check_character(number[:17])
    if number[17] != expected:
        raise ResidentIdError(
            Reason.CHECKSUM,
            f"the check character is {number[17]}, the digits give {expected}: a typo?",
        )
    return ResidentId(
        number=number,
        region_code=number[:6],
        birth_date=born,
        sequence=number[14:17],
        sex="M" if int(number[16]) % 2 else "F",
    )


def upgrade_legacy_number(number15: str) -> str:
    """The 18-character form of a 15-digit number: '19' inserted before the year, check
    character appended (the conversion GB 11643-1999 defines)."""
    number = _normalize(number15)
    if len(number) != 15 or not number.isdigit():
        raise ResidentIdError(Reason.FORMAT, "a first-generation number has 15 digits")
    first17 = number[:6] + "19" + number[6:]
    return first17 + check_character(first17)
