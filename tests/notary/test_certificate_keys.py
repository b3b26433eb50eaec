"""notary/certificate_keys: the office key is made once, kept private, and checked on load."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509

from notary.certificate_keys import Keyring, OfficeKeyError, load_or_create, paths

pytestmark = pytest.mark.unit


def test_made_once_then_loaded(tmp_path: Path) -> None:
    first = load_or_create(tmp_path / "keys", "SH01", "Shanghai Notary Office")
    again = load_or_create(tmp_path / "keys", "SH01", "ignored the second time")
    assert again == first
    key_path, _ = paths(tmp_path / "keys", "SH01")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    cert = first.certificate
    assert cert.subject == cert.issuer  # self-issued
    assert "Shanghai Notary Office" in cert.subject.rfc4514_string()
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment


def test_each_office_has_its_own_key(tmp_path: Path) -> None:
    keyring = Keyring(tmp_path)
    assert keyring.existing("GZ01") is None  # verification never makes a key
    one, two = keyring.get("SH01", "A"), keyring.get("GZ01", "B")
    assert one.key_pem != two.key_pem
    assert keyring.existing("GZ01") == two


def test_a_certificate_of_another_key_is_refused(tmp_path: Path) -> None:
    load_or_create(tmp_path / "a", "SH01", "A")
    load_or_create(tmp_path / "b", "SH01", "B")
    _, cert_a = paths(tmp_path / "a", "SH01")
    _, cert_b = paths(tmp_path / "b", "SH01")
    cert_a.write_bytes(cert_b.read_bytes())
    with pytest.raises(OfficeKeyError, match="does not belong"):
        load_or_create(tmp_path / "a", "SH01", "A")


@pytest.mark.parametrize("code", ["", "../etc", "a/b", "x" * 33])
def test_office_codes_cannot_escape_the_directory(tmp_path: Path, code: str) -> None:
    with pytest.raises(OfficeKeyError):
        load_or_create(tmp_path, code, "X")
