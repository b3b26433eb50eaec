"""Passport machine-readable zone (ICAO 9303 part 4, TD3: two lines of 44 characters).

The check digits catch typing and OCR errors; they prove nothing about the document being
genuine (anyone can compute them). Parsing is strict: a line of the wrong length, a character
outside A-Z 0-9 '<', an impossible date or a failed check digit raises `MrzError`, which names
the field so that the person typing can correct it.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

TD3_LINE_LENGTH = 44
_ALLOWED = re.compile(r"^[A-Z0-9<]+$")
_WEIGHTS = (7, 3, 1)


class MrzError(ValueError):
    """The MRZ cannot be accepted; `field` names the part that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def char_value(char: str) -> int:
    """ICAO 9303 value of one MRZ character: digits as such, A-Z 10-35, the filler '<' 0."""
    if char.isdigit():
        return int(char)
    if "A" <= char <= "Z":
        return ord(char) - ord("A") + 10
    if char == "<":
        return 0
    raise MrzError("character", f"{char!r} is not allowed in an MRZ")


def check_digit(data: str) -> int:
    """The 7-3-1 weighted sum modulo 10."""
    return sum(char_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(data)) % 10


def _verify(field: str, data: str, digit: str) -> None:
    if digit == "<" and set(data) <= {"<"}:
        return  # an empty optional field may carry a filler instead of 0
    if not digit.isdigit():
        raise MrzError(field, f"check digit {digit!r} is not a digit")
    expected = check_digit(data)
    if int(digit) != expected:
        raise MrzError(field, f"check digit is {digit}, the data gives {expected}: a typo?")


@dataclass(frozen=True, slots=True)
class PassportMrz:
    """A parsed TD3 MRZ whose check digits all hold."""

    document_code: str  # "P" or "P" followed by a subtype letter
    issuing_state: str  # ICAO 3-letter code (D<< for Germany)
    surname: str
    given_names: str
    document_number: str
    nationality: str
    birth_date: dt.date
    sex: str  # "M", "F" or "X" (unspecified, written '<')
    expiry_date: dt.date
    personal_number: str

    @property
    def expired(self) -> bool:
        return self.expiry_date < dt.date.today()


def normalize_lines(text: str) -> tuple[str, str]:
    """Two MRZ lines from pasted or OCR text: blank lines and spaces are dropped, letters
    upper-cased. Nothing else is "corrected": a guessed O/0 fix would hide the typo the check
    digits are there to catch."""
    lines = [re.sub(r"\s+", "", line).upper() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) != 2:
        raise MrzError("lines", f"a passport MRZ (TD3) has 2 lines, got {len(lines)}")
    return lines[0], lines[1]


def _date(field: str, yymmdd: str, *, past: bool, today: dt.date) -> dt.date:
    if not yymmdd.isdigit():
        raise MrzError(field, f"{yymmdd!r} is not a YYMMDD date")
    yy, mm, dd = int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
    year = today.year // 100 * 100 + yy
    try:
        value = dt.date(year, mm, dd)
        if past and value > today:
            value = value.replace(year=year - 100)  # a birth date is never in the future
        if not past and year < today.year - 50:
            value = value.replace(year=year + 100)  # an expiry lies at most decades back
    except ValueError:
        raise MrzError(field, f"{yymmdd!r} is not a real date") from None
    return value


def _name(field: str) -> tuple[str, str]:
    surname, _, given = field.partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()


def parse_td3(text: str, *, today: dt.date | None = None) -> PassportMrz:
    """Parse and check a passport MRZ; raise MrzError naming the first wrong field."""
    today = today or dt.date.today()
    line1, line2 = normalize_lines(text)
    for index, line in ((1, line1), (2, line2)):
        if len(line) != TD3_LINE_LENGTH:
            raise MrzError(f"line {index}", f"has {len(line)} characters, a passport line has 44")
        if not _ALLOWED.match(line):
            bad = sorted(set(re.sub(r"[A-Z0-9<]", "", line)))
            raise MrzError(f"line {index}", f"characters {bad} are not allowed in an MRZ")
    if line1[0] != "P":
        raise MrzError("document code", f"{line1[:2]!r} is not a passport (P) code")

    number, number_cd = line2[0:9], line2[9]
    birth, birth_cd = line2[13:19], line2[19]
    expiry, expiry_cd = line2[21:27], line2[27]
    personal, personal_cd = line2[28:42], line2[42]
    composite_cd = line2[43]
    _verify("document number", number, number_cd)
    _verify("birth date", birth, birth_cd)
    _verify("expiry date", expiry, expiry_cd)
    _verify("personal number", personal, personal_cd)
    _verify("composite", line2[0:10] + line2[13:20] + line2[21:43], composite_cd)

    sex = line2[20]
    if sex not in "MF<":
        raise MrzError("sex", f"{sex!r} is not M, F or <")
    surname, given = _name(line1[5:])
    if not surname:
        raise MrzError("name", "the surname is empty")
    return PassportMrz(
        document_code=line1[0:2].replace("<", ""),
        issuing_state=line1[2:5].replace("<", ""),
        surname=surname,
        given_names=given,
        document_number=number.replace("<", ""),
        nationality=line2[10:13].replace("<", ""),
        birth_date=_date("birth date", birth, past=True, today=today),
        sex="X" if sex == "<" else sex,
        expiry_date=_date("expiry date", expiry, past=False, today=today),
        personal_number=personal.replace("<", ""),
    )
