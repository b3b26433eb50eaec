"""Certificates (公证书): issuing one for a decided case, and checking one for the public.

Issuing allocates the number OFFICE-YEAR-SEQUENCE in the same transaction as everything else
(no gaps, no duplicates), makes a random verification code (only its hash is kept), renders and
signs the PDF, moves the case to certificate_issued and journals the PDF's hash.

Checking tells a verifier (a court, a registry) whether a certificate is genuine from its
number and code, or from the PDF file itself, and shows only what the certificate prints about
the act: matter, date, office, number; never names or case details.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import decision, journal
from notary.cases import CaseError, CaseState, get_case, transition
from notary.certificate_keys import Keyring
from notary.certificate_pdf import CertificateContent, check_signature, render, sha256, sign
from notary.roles import Role
from notary.tables import (
    accounts,
    case_parties,
    certificate_counters,
    certificates,
    matters,
    offices,
)

# No 0/O, 1/I/L: read aloud or typed from paper without mistakes. 12 characters: 60 bits.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
NUMBER_PATTERN = re.compile(r"^[A-Z0-9_-]{1,32}-[0-9]{4}-[0-9]{6,}$")
MAX_STATEMENT_CHARS = 2000
MAX_PDF_BYTES = 5 * 1024 * 1024


class CertificateError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class IssuedCertificate:
    id: str
    number: str
    verification_code: str  # shown once, printed on the PDF; the database keeps its hash only
    case_id: str
    pdf: bytes
    pdf_sha256: str
    issued_at: dt.datetime
    journal_seq: int


@dataclass(frozen=True)
class PublicFacts:
    """What a verifier learns: the act, never the people."""

    number: str
    matter_code: str
    matter_name_zh: str
    matter_name_en: str
    issued_on: dt.date
    office_name_zh: str
    office_name_en: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "matter": {
                "code": self.matter_code,
                "name": {"zh-CN": self.matter_name_zh, "en": self.matter_name_en},
            },
            "issued_on": self.issued_on.isoformat(),
            "office": {"zh-CN": self.office_name_zh, "en": self.office_name_en},
        }


def new_verification_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(text: str) -> str | None:
    """The code as printed (XXXX-XXXX-XXXX) from what someone typed; None if it cannot be one."""
    raw = re.sub(r"[\s-]", "", text).upper()
    if len(raw) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in raw):
        return None
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_number(text: str) -> str | None:
    number = text.strip().upper()
    return number if NUMBER_PATTERN.match(number) else None


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def allocate_number(
    conn: AsyncConnection, office_id: int, office_code: str, year: int
) -> tuple[int, str]:
    """The next (seq, number) for the office and year, in the caller's transaction.

    One upsert that increments and returns in one statement: the row lock (PostgreSQL) or the
    writer lock (SQLite) holds concurrent issuers until this transaction ends, and a rollback
    gives the number back, so numbers have no gaps and no duplicates.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    insert = dialect.insert(certificate_counters).values(office_id=office_id, year=year, last_seq=1)
    upsert = insert.on_conflict_do_update(
        index_elements=[certificate_counters.c.office_id, certificate_counters.c.year],
        set_={"last_seq": certificate_counters.c.last_seq + 1},
    ).returning(certificate_counters.c.last_seq)
    seq = int((await conn.execute(upsert)).scalar_one())
    return seq, f"{office_code.upper()}-{year:04d}-{seq:06d}"


async def _write_lock(conn: AsyncConnection) -> None:
    """SQLite: take the writer lock before the first read. A transaction that reads, then
    writes after another writer committed, fails with "database is locked" at once (the busy
    timeout cannot help it); one that writes first just waits its turn. PostgreSQL locks the
    case row (get_case for_update) and the counter row instead."""
    if conn.dialect.name == "sqlite":
        await conn.execute(certificate_counters.update().where(sa.false()).values(last_seq=0))


async def _one(conn: AsyncConnection, query: sa.Select[Any]) -> sa.Row[Any]:
    row = (await conn.execute(query)).first()
    if row is None:
        raise CertificateError("not_found", "the case's records are incomplete")
    return row


async def issue(
    conn: AsyncConnection,
    *,
    case_id: str,
    actor_id: str,
    actor_role: str,
    statement_zh: str,
    statement_en: str,
    keyring: Keyring,
    verify_url: str,
    now: dt.datetime | None = None,
) -> IssuedCertificate:
    """Issue the certificate of a decided case, as its assigned notary, in one transaction."""
    if str(actor_role) != Role.NOTARY.value:
        raise CertificateError("forbidden", "only the case's notary issues its certificate")
    statement_zh, statement_en = statement_zh.strip(), statement_en.strip()
    if not statement_zh or not statement_en:
        raise CertificateError("invalid_statement", "the statement is needed in both languages")
    if max(len(statement_zh), len(statement_en)) > MAX_STATEMENT_CHARS:
        raise CertificateError("invalid_statement", f"at most {MAX_STATEMENT_CHARS} characters")
    await _write_lock(conn)
    case = await get_case(conn, case_id, for_update=True)
    if case is None:
        raise CertificateError("not_found", "no such case")
    if case.assigned_notary_id != actor_id:
        raise CertificateError("forbidden", "only the case's notary issues its certificate")
    if case.state is not CaseState.DECIDED:
        raise CertificateError("wrong_state", f"a {case.state.value} case gets no certificate")
    try:  # a refused case is decided too, and must never get one
        await decision.require_approved(conn, case_id)
    except CaseError as exc:
        raise CertificateError(exc.code, exc.message) from None

    office = await _one(conn, sa.select(offices).where(offices.c.id == case.office_id))
    matter = await _one(conn, sa.select(matters).where(matters.c.code == case.matter_code))
    notary = await _one(conn, sa.select(accounts).where(accounts.c.id == actor_id))
    holder = await _one(
        conn,
        sa.select(case_parties.c.name)
        .where(case_parties.c.case_id == case_id, case_parties.c.kind == "applicant")
        .order_by(case_parties.c.created_at)
        .limit(1),
    )
    issued_at = now or dt.datetime.now(dt.UTC)
    issued_on = issued_at.astimezone(ZoneInfo(office.timezone)).date()
    seq, number = await allocate_number(conn, office.id, office.code, issued_on.year)
    code = new_verification_code()
    content = CertificateContent(
        number=number,
        verification_code=code,
        office_name_zh=office.name_zh,
        office_name_en=office.name_en,
        matter_name_zh=matter.name_zh,
        matter_name_en=matter.name_en,
        holder_name=holder.name,
        statement_zh=statement_zh,
        statement_en=statement_en,
        notary_name=notary.display_name,
        issued_on=issued_on,
        verify_url=verify_url,
    )
    key = keyring.get(office.code, office.name_en)

    def make_pdf() -> bytes:
        return sign(render(content), key, reason=f"公证书 {number}", location=office.name_en[:100])

    # Rendering and signing take a few hundred milliseconds of CPU: off the event loop.
    pdf = await asyncio.to_thread(make_pdf)
    digest = sha256(pdf)
    certificate_id = str(uuid.uuid4())
    await conn.execute(
        certificates.insert().values(
            id=certificate_id,
            number=number,
            case_id=case_id,
            office_id=office.id,
            year=issued_on.year,
            seq=seq,
            matter_code=case.matter_code,
            code_sha256=_code_hash(code),
            issued_at=issued_at,
            issued_by=actor_id,
            pdf_sha256=digest,
            pdf=pdf,
        )
    )
    await transition(
        conn, case_id, CaseState.CERTIFICATE_ISSUED, actor_id=actor_id, actor_role=actor_role
    )
    entry = await journal.append(
        conn,
        action="certificate.issued",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=case_id,
        after={
            "certificate_id": certificate_id,
            "number": number,
            "pdf_sha256": digest,
            "pdf_bytes": len(pdf),
        },
    )
    return IssuedCertificate(
        id=certificate_id,
        number=number,
        verification_code=code,
        case_id=case_id,
        pdf=pdf,
        pdf_sha256=digest,
        issued_at=issued_at,
        journal_seq=entry.seq,
    )


def _facts_query() -> sa.Select[Any]:
    return sa.select(
        certificates.c.number,
        certificates.c.matter_code,
        certificates.c.code_sha256,
        certificates.c.issued_at,
        certificates.c.pdf_sha256,
        matters.c.name_zh.label("matter_name_zh"),
        matters.c.name_en.label("matter_name_en"),
        offices.c.code.label("office_code"),
        offices.c.name_zh.label("office_name_zh"),
        offices.c.name_en.label("office_name_en"),
        offices.c.timezone,
    ).select_from(
        certificates.join(matters, matters.c.code == certificates.c.matter_code).join(
            offices, offices.c.id == certificates.c.office_id
        )
    )


def _facts(row: sa.Row[Any]) -> PublicFacts:
    return PublicFacts(
        number=row.number,
        matter_code=row.matter_code,
        matter_name_zh=row.matter_name_zh,
        matter_name_en=row.matter_name_en,
        issued_on=row.issued_at.astimezone(ZoneInfo(row.timezone)).date(),
        office_name_zh=row.office_name_zh,
        office_name_en=row.office_name_en,
    )


# A fixed hash to compare against when the number is unknown, so both paths cost the same.
_NO_CODE = _code_hash("no certificate has this code")


async def verify_code(conn: AsyncConnection, number: str, code: str) -> PublicFacts | None:
    """The certificate's public facts if number and code belong together; else None (without
    telling whether the number exists)."""
    normalized_number, normalized_code = normalize_number(number), normalize_code(code)
    if normalized_number is None or normalized_code is None:
        return None
    row = (
        await conn.execute(_facts_query().where(certificates.c.number == normalized_number))
    ).first()
    expected = row.code_sha256 if row is not None else _NO_CODE
    matches = hmac.compare_digest(expected, _code_hash(normalized_code))
    return _facts(row) if row is not None and matches else None


@dataclass(frozen=True)
class PdfVerdict:
    genuine: bool
    # genuine | altered (signature broken, or not the file issued) | unknown (not issued here)
    # | unsigned | not_pdf
    reason: str
    facts: PublicFacts | None = None


async def verify_pdf(conn: AsyncConnection, pdf: bytes, keyring: Keyring) -> PdfVerdict:
    """Is this file a certificate issued here, byte for byte, with the office's signature intact?"""
    if len(pdf) > MAX_PDF_BYTES:
        raise CertificateError("too_large", f"a certificate PDF is at most {MAX_PDF_BYTES} bytes")
    if not pdf.startswith(b"%PDF-"):
        return PdfVerdict(False, "not_pdf")
    row = (
        await conn.execute(_facts_query().where(certificates.c.pdf_sha256 == sha256(pdf)))
    ).first()
    if row is not None:
        key = keyring.existing(row.office_code)
        check = await asyncio.to_thread(check_signature, pdf, [key] if key else [])
        if check.valid:
            return PdfVerdict(True, "genuine", _facts(row))
        return PdfVerdict(False, "altered")
    # Not a file we issued. Say "altered" when it carries a signature of one of our offices
    # (a certificate changed after signing), otherwise that it is not known here.
    codes = [str(c) for c in (await conn.execute(sa.select(offices.c.code))).scalars()]
    keys = [k for k in (keyring.existing(c) for c in codes) if k is not None]
    check = await asyncio.to_thread(check_signature, pdf, keys)
    if check.reason == "not_pdf":
        return PdfVerdict(False, "not_pdf")
    if not check.signed:
        return PdfVerdict(False, "unsigned")
    return PdfVerdict(False, "altered" if check.reason != "untrusted" else "unknown")
