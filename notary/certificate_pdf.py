"""The certificate (公证书) as a PDF: laid out, signed with the office key, and checked again.

Synchronous and CPU-bound (font subsetting, signing): callers on an event loop run these in a
thread. The Chinese font comes from Debian's fonts-wqy-microhei (the Makefile's system deps);
only the glyphs used are embedded, so a certificate stays a few tens of kilobytes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

import segno
from asn1crypto import keys as asn1_keys  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.general import SigningError
from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from notary.certificate_keys import OfficeSigningKey

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)
FONT_NAME = "NotaryCJK"
SIGNATURE_FIELD = "OfficeSignature"

T = TypeVar("T")


class CertificatePdfError(RuntimeError):
    pass


@dataclass(frozen=True)
class CertificateContent:
    number: str
    verification_code: str
    office_name_zh: str
    office_name_en: str
    matter_name_zh: str
    matter_name_en: str
    holder_name: str  # the applicant, as the certificate names them
    statement_zh: str  # what the notary certifies
    statement_en: str
    notary_name: str
    issued_on: dt.date  # in the office's time zone
    verify_url: str  # the page the QR code opens, number and code in its fragment


@cache
def _register_font() -> str:
    for path in FONT_PATHS:
        if path.exists():
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(path), subfontIndex=0))
            return FONT_NAME
    raise CertificatePdfError(
        "no Chinese font: install the Debian package fonts-wqy-microhei (make system-deps)"
    )


def qr_payload(content: CertificateContent) -> str:
    # In the fragment: a browser never sends it, so no server log holds the code.
    return f"{content.verify_url}#n={content.number}&c={content.verification_code}"


def _wrap(c: canvas.Canvas, text: str, font: str, size: float, width: float) -> list[str]:
    """Break text into lines that fit `width`; per character, which suits Chinese as well."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for char in paragraph:
            if c.stringWidth(line + char, font, size) > width:
                # Break English at the last space when there is one.
                cut = line.rfind(" ")
                if char != " " and cut > len(line) // 2:
                    lines.append(line[:cut])
                    line = line[cut + 1 :]
                else:
                    lines.append(line)
                    line = ""
            line += char
        lines.append(line.strip())
    return lines


def _draw_qr(c: canvas.Canvas, payload: str, x: float, y: float, size: float) -> None:
    """The QR code as vector squares: sharp at any print size, no image codec needed."""
    qr = segno.make(payload, error="m")
    matrix = [list(row) for row in qr.matrix]
    quiet = 2
    modules = len(matrix) + 2 * quiet
    cell = size / modules
    c.setFillColorRGB(1, 1, 1)
    c.rect(x, y, size, size, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        for col, dark in enumerate(row):
            if dark:
                c.rect(
                    x + (col + quiet) * cell,
                    y + size - (r + quiet + 1) * cell,
                    cell,
                    cell,
                    stroke=0,
                    fill=1,
                )


def render(content: CertificateContent) -> bytes:
    """The unsigned PDF: one A4 page, Chinese first, English below."""
    font = _register_font()
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4, invariant=True)  # invariant: no random ids or dates
    c.setTitle(f"公证书 Notarial Certificate {content.number}")
    c.setAuthor(content.office_name_en)
    c.setCreator("NotaryLink")
    width, height = A4
    left, right = 25 * mm, width - 25 * mm
    c.setFont(font, 26)
    c.drawCentredString(width / 2, height - 40 * mm, "公 证 书")
    c.setFont(font, 13)
    c.drawCentredString(width / 2, height - 48 * mm, "NOTARIAL CERTIFICATE")
    c.setFont(font, 11)
    c.drawRightString(right, height - 58 * mm, f"（{content.number}）号 No. {content.number}")

    y = height - 72 * mm
    rows = [
        ("申请人 Applicant", content.holder_name),
        ("公证事项 Matter", f"{content.matter_name_zh}  {content.matter_name_en}"),
    ]
    for label, value in rows:
        c.setFont(font, 11)
        c.drawString(left, y, f"{label}：")
        c.drawString(left + 45 * mm, y, value)
        y -= 9 * mm

    y -= 4 * mm
    for text, size in ((content.statement_zh, 13), (content.statement_en, 11)):
        c.setFont(font, size)
        for line in _wrap(c, text, font, size, right - left):
            c.drawString(left, y, line)
            y -= size * 1.6
        y -= 6 * mm

    c.setFont(font, 12)
    base = 95 * mm
    c.drawRightString(right, base + 24 * mm, f"{content.office_name_zh}")
    c.drawRightString(right, base + 17 * mm, content.office_name_en)
    c.drawRightString(right, base + 10 * mm, f"公证员 Notary：{content.notary_name}")
    c.drawRightString(
        right,
        base + 3 * mm,
        f"{content.issued_on.year}年{content.issued_on.month}月{content.issued_on.day}日  "
        f"{content.issued_on.isoformat()}",
    )

    qr_size = 34 * mm
    _draw_qr(c, qr_payload(content), left, 30 * mm, qr_size)
    c.setFont(font, 10)
    text_x = left + qr_size + 6 * mm
    c.drawString(text_x, 56 * mm, "扫码或访问核验页面，输入公证书编号和验证码核验真伪。")
    c.drawString(text_x, 50 * mm, "Scan, or open the verification page and enter the number")
    c.drawString(text_x, 45 * mm, "and the verification code, to check this certificate.")
    c.setFont(font, 12)
    c.drawString(text_x, 37 * mm, f"验证码 Verification code：{content.verification_code}")
    c.setFont(font, 9)
    c.drawString(text_x, 31 * mm, content.verify_url)
    c.showPage()
    c.save()
    return out.getvalue()


def _outside_loop(work: Callable[[], T]) -> T:
    """pyhanko's sync API runs its own event loop, which cannot nest in a running one: there,
    run it in a worker thread (callers on a loop should use asyncio.to_thread anyway)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="certificate-pdf") as executor:
        return executor.submit(work).result()


def _signer(key: OfficeSigningKey) -> signers.SimpleSigner:
    private = serialization.load_pem_private_key(key.key_pem, password=None)
    der_key = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert = asn1_x509.Certificate.load(key.certificate.public_bytes(serialization.Encoding.DER))
    return signers.SimpleSigner(
        signing_cert=cert,
        signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
        cert_registry=SimpleCertificateStore.from_certs([cert]),
    )


def sign(pdf: bytes, key: OfficeSigningKey, *, reason: str, location: str) -> bytes:
    """A PAdES signature by the office over the whole file."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        reason=reason,
        location=location,
        subfilter=SigSeedSubFilter.PADES,
    )
    signer = _signer(key)
    out = _outside_loop(lambda: signers.sign_pdf(writer, meta, signer=signer))
    return bytes(out.getvalue())


@dataclass(frozen=True)
class SignatureCheck:
    signed: bool  # a signature is there
    valid: bool  # it is intact, by a trusted office key, and covers the whole file
    reason: str  # machine-readable: ok, unsigned, not_pdf, altered, untrusted, not_whole_file


def check_signature(pdf: bytes, trusted: list[OfficeSigningKey]) -> SignatureCheck:
    """Is `pdf` signed by one of the trusted office keys, unaltered since? Never raises."""
    roots = [
        asn1_x509.Certificate.load(k.certificate.public_bytes(serialization.Encoding.DER))
        for k in trusted
    ]
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        embedded = reader.embedded_signatures
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return SignatureCheck(False, False, "not_pdf")
    if not embedded:
        return SignatureCheck(False, False, "unsigned")
    if len(embedded) != 1:
        return SignatureCheck(True, False, "altered")  # ours carry exactly one signature
    context = ValidationContext(trust_roots=roots, allow_fetching=False)
    try:
        status = _outside_loop(lambda: validate_pdf_signature(embedded[0], context))
    except (SignatureValidationError, SigningError, PdfReadError, ValueError, KeyError) as exc:
        del exc
        return SignatureCheck(True, False, "altered")
    if not status.intact or not status.valid:
        return SignatureCheck(True, False, "altered")
    if not status.trusted:
        return SignatureCheck(True, False, "untrusted")
    if status.coverage is not SignatureCoverageLevel.ENTIRE_FILE:
        return SignatureCheck(True, False, "not_whole_file")
    return SignatureCheck(True, True, "ok")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
