"""notary/certificate_pdf: the page (Chinese font embedded, QR link), the signature, its check."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from notary.certificate_keys import OfficeSigningKey, load_or_create
from notary.certificate_pdf import (
    FONT_PATHS,
    CertificateContent,
    check_signature,
    qr_payload,
    render,
    sign,
)

pytestmark = pytest.mark.unit

CONTENT = CertificateContent(
    number="SH01-2026-000007",
    verification_code="ABCD-EFGH-JKMN",
    office_name_zh="上海市东方公证处",
    office_name_en="Shanghai Oriental Notary Office",
    matter_name_zh="出生",
    matter_name_en="Birth",
    holder_name="张三",
    statement_zh="兹证明张三于一九九〇年一月一日出生于上海市。" * 4,
    statement_en="This is to certify that Zhang San was born in Shanghai. " * 4,
    notary_name="王公证员",
    issued_on=dt.date(2026, 11, 22),
    verify_url="https://notary.example/static/verify.html",
)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> OfficeSigningKey:
    return load_or_create(tmp_path_factory.mktemp("keys"), "SH01", "Shanghai")


@pytest.fixture(autouse=True)
def font_or_skip() -> None:
    if not any(path.exists() for path in FONT_PATHS):
        pytest.skip("fonts-wqy-microhei is missing (make test installs it)")


def test_the_page_embeds_a_chinese_font_subset() -> None:
    pdf = render(CONTENT)
    assert pdf.startswith(b"%PDF-")
    assert render(CONTENT) == pdf  # deterministic: no random ids or creation dates
    # A TrueType font program embedded (not merely referenced), and used by the page.
    # Subset fonts are named with a six-letter tag and a "+".
    assert b"/FontFile2" in pdf
    assert re.search(rb"/BaseFont /[A-Z]{6}\+WenQuanYi", pdf)
    # A subset, not the 5 MB font file.
    assert len(pdf) < 200_000


def test_the_qr_code_opens_the_verification_page_with_number_and_code() -> None:
    assert qr_payload(CONTENT) == (
        "https://notary.example/static/verify.html#n=SH01-2026-000007&c=ABCD-EFGH-JKMN"
    )


def test_signed_by_the_office_and_checked(key: OfficeSigningKey, tmp_path: Path) -> None:
    unsigned = render(CONTENT)
    signed = sign(unsigned, key, reason="公证书", location="Shanghai")
    assert check_signature(signed, [key]).reason == "ok"
    assert check_signature(unsigned, [key]).reason == "unsigned"
    assert check_signature(b"%PDF-1.4 garbage", [key]).reason == "not_pdf"
    other = load_or_create(tmp_path, "SH01", "Another office")
    assert check_signature(signed, [other]).reason == "untrusted"
    flipped = bytearray(signed)
    flipped[len(unsigned) // 2] ^= 0x01
    assert check_signature(bytes(flipped), [key]).reason == "altered"
