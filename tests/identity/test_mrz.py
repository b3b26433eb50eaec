"""TD3 MRZ parsing and ICAO 9303 check digits, against known-good and known-bad lines."""

from __future__ import annotations

import datetime as dt

import pytest

from identity.mrz import MrzError, check_digit, parse_td3

pytestmark = pytest.mark.unit

# The specimen of ICAO Doc 9303 part 4 (Anna Maria Eriksson, Utopia).
LINE1 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
LINE2 = "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
TODAY = dt.date(2024, 1, 1)


def test_the_icao_specimen_parses() -> None:
    mrz = parse_td3(f"{LINE1}\n{LINE2}", today=TODAY)
    assert (mrz.surname, mrz.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert mrz.document_number == "L898902C3"
    assert mrz.issuing_state == mrz.nationality == "UTO"
    assert mrz.birth_date == dt.date(1974, 8, 12)
    assert mrz.expiry_date == dt.date(2012, 4, 15)
    assert mrz.sex == "F"
    assert mrz.personal_number == "ZE184226B"
    assert mrz.expired


@pytest.mark.parametrize(
    ("data", "digit"),
    [("L898902C3", 6), ("740812", 2), ("120415", 9), ("ZE184226B<<<<<", 1), ("<<<<<<", 0)],
)
def test_check_digits_of_the_specimen(data: str, digit: int) -> None:
    assert check_digit(data) == digit


def test_ocr_noise_is_tolerated_but_not_corrected() -> None:
    mrz = parse_td3(f"\n  {LINE1.lower()} \n\n{LINE2[:20]} {LINE2[20:]}\n", today=TODAY)
    assert mrz.document_number == "L898902C3"


@pytest.mark.parametrize(
    ("line2", "field"),
    [
        ("L898902C37UTO7408122F1204159ZE184226B<<<<<10", "document number"),
        ("L898902C36UTO7408123F1204159ZE184226B<<<<<10", "birth date"),
        ("L898902C36UTO7408122F1204158ZE184226B<<<<<10", "expiry date"),
        ("L898902C36UTO7408122F1204159ZE184226B<<<<<20", "personal number"),
        ("L898902C36UTO7408122F1204159ZE184226B<<<<<11", "composite"),
        # one typo in the number (C3 -> G3) is caught by its check digit
        ("L898902G36UTO7408122F1204159ZE184226B<<<<<10", "document number"),
        # O for 0 in the birth date: the date is no longer digits
        ("L898902C36UTO74O8122F1204159ZE184226B<<<<<10", "birth date"),
    ],
)
def test_known_bad_lines_name_the_field(line2: str, field: str) -> None:
    with pytest.raises(MrzError) as caught:
        parse_td3(f"{LINE1}\n{line2}", today=TODAY)
    assert caught.value.field == field


def test_wrong_shapes_are_refused_clearly() -> None:
    with pytest.raises(MrzError, match="2 lines"):
        parse_td3(LINE1)
    with pytest.raises(MrzError, match="43 characters"):
        parse_td3(f"{LINE1}\n{LINE2[:-1]}")
    with pytest.raises(MrzError, match="not allowed"):
        parse_td3(f"{LINE1}\n{LINE2[:-2]}-0")
    with pytest.raises(MrzError, match="not a passport"):
        parse_td3(f"I{LINE1[1:]}\n{LINE2}")


def test_impossible_date_is_refused() -> None:
    # 31 February with a matching check digit
    birth = "740231"
    from identity.mrz import check_digit as cd

    body = f"L898902C36UTO{birth}{cd(birth)}F1204159ZE184226B<<<<<1"
    line2 = body + str(cd(body[0:10] + body[13:20] + body[21:43]))
    with pytest.raises(MrzError, match="not a real date"):
        parse_td3(f"{LINE1}\n{line2}", today=TODAY)


def test_century_of_dates() -> None:
    mrz = parse_td3(f"{LINE1}\n{LINE2}", today=dt.date(2074, 1, 1))
    assert mrz.birth_date.year == 1974  # 2074-08-12 would be in the future
    assert mrz.expiry_date.year == 2112  # 2012 is more than 50 years back
