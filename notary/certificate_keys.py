"""The office's certificate-signing key and its self-issued X.509 certificate.

Made once at first start under a keys directory (like the evidence signing key, see
recorder/keys.py) and loaded afterwards; an office that has a certificate from a recognised CA
puts its key and certificate there instead. Verifiers trust this certificate explicitly: the
verification API checks a PDF's signature against it, not against a public CA.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY_DAYS = 20 * 366  # certificates outlive any one key rotation plan; rotate by replacing
_OFFICE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class OfficeKeyError(ValueError):
    pass


@dataclass(frozen=True)
class OfficeSigningKey:
    office_code: str
    key_pem: bytes  # PKCS#8, unencrypted: the file is readable by its owner only
    cert_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)


def paths(keys_dir: Path, office_code: str) -> tuple[Path, Path]:
    if not _OFFICE_CODE.match(office_code):
        raise OfficeKeyError(f"office code {office_code!r} cannot name a key file")
    return keys_dir / f"office-{office_code}.key.pem", keys_dir / f"office-{office_code}.crt.pem"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never replace a key
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _self_issued(key: ec.EllipticCurvePrivateKey, office_code: str, name: str) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name[:64] or office_code),
            x509.NameAttribute(NameOID.COMMON_NAME, f"NotaryLink office {office_code}"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,  # non-repudiation: the office stands by what it signs
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def load_or_create(keys_dir: Path, office_code: str, office_name: str) -> OfficeSigningKey:
    """The office's key and certificate from `keys_dir`, made there first if absent."""
    key_path, cert_path = paths(keys_dir, office_code)
    if not key_path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        _write_private(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        cert = _self_issued(key, office_code, office_name)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    try:
        key_pem, cert_pem = key_path.read_bytes(), cert_path.read_bytes()
        loaded = serialization.load_pem_private_key(key_pem, password=None)
        cert = x509.load_pem_x509_certificate(cert_pem)
    except (OSError, ValueError) as exc:
        raise OfficeKeyError(f"cannot read the office key or certificate: {exc}") from exc
    if loaded.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise OfficeKeyError(f"{cert_path} does not belong to the key in {key_path}")
    return OfficeSigningKey(office_code, key_pem, cert_pem)


class Keyring:
    """The offices' signing keys under one directory, loaded (or made) once each."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir
        self._loaded: dict[str, OfficeSigningKey] = {}

    def get(self, office_code: str, office_name: str) -> OfficeSigningKey:
        if office_code not in self._loaded:
            self._loaded[office_code] = load_or_create(self.keys_dir, office_code, office_name)
        return self._loaded[office_code]

    def existing(self, office_code: str) -> OfficeSigningKey | None:
        """The office's key if it was ever made; never makes one (verification only)."""
        if office_code in self._loaded:
            return self._loaded[office_code]
        key_path, _ = paths(self.keys_dir, office_code)
        return self.get(office_code, office_code) if key_path.exists() else None
