"""REST for certificates: public verification (rate-limited) and issuing by the case's notary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from notary import certificate
from notary.certificate import MAX_PDF_BYTES, CertificateError, verify_code, verify_pdf
from notary.certificate_keys import Keyring
from notary.roles import Role
from notary.tables import cases, certificates
from signaling.appkeys import PLATFORM
from signaling.auth import require
from signaling.bodies import read_json, take
from signaling.errors import ApiError
from signaling.http_limits import enforce
from signaling.openapi import Api
from signaling.ratelimit import RateLimiter


@dataclass
class CertificateService:
    keyring: Keyring
    # Verification is public: 10 checks at once, then one every 6 s per client address. Enough
    # for a clerk checking a pile of certificates; far too slow to guess a 60-bit code.
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(rate=1 / 6, burst=10))


CERTIFICATES = web.AppKey("certificates", CertificateService)


def _limit(request: web.Request) -> None:
    enforce(request.app[CERTIFICATES].limiter, f"ip:{request.remote}", "verifications")


async def _read_pdf(request: web.Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_PDF_BYTES:
            raise ApiError(413, "payload_too_large", f"a certificate is at most {MAX_PDF_BYTES} B")
        chunks.append(chunk)
    return b"".join(chunks)


async def verify_certificate(request: web.Request) -> web.Response:
    _limit(request)
    platform = request.app[PLATFORM]
    if request.content_type == "application/pdf":
        pdf = await _read_pdf(request)
        async with platform.engine.connect() as conn:
            verdict = await verify_pdf(conn, pdf, request.app[CERTIFICATES].keyring)
        return web.json_response(
            {
                "genuine": verdict.genuine,
                "reason": verdict.reason,
                "certificate": verdict.facts.as_dict() if verdict.facts else None,
            }
        )
    body = await read_json(request)
    number = take(body, "number", str, max_length=64)
    code = take(body, "code", str, max_length=64)
    async with platform.engine.connect() as conn:
        facts = await verify_code(conn, number, code)
    return web.json_response(
        {
            "genuine": facts is not None,
            # One answer for an unknown number and a wrong code: numbers are not an oracle.
            "reason": "genuine" if facts else "no_match",
            "certificate": facts.as_dict() if facts else None,
        }
    )


async def issue_certificate(request: web.Request) -> web.Response:
    claims = require(request, Role.NOTARY)
    body = await read_json(request)
    statement_zh = take(body, "statement_zh", str, max_length=certificate.MAX_STATEMENT_CHARS)
    statement_en = take(body, "statement_en", str, max_length=certificate.MAX_STATEMENT_CHARS)
    platform = request.app[PLATFORM]
    verify_url = f"{platform.settings.public_base_url}/static/verify.html"
    try:
        async with platform.engine.begin() as conn:
            issued = await certificate.issue(
                conn,
                case_id=request.match_info["case_id"],
                actor_id=claims.account_id,
                actor_role=claims.role,
                statement_zh=statement_zh,
                statement_en=statement_en,
                keyring=request.app[CERTIFICATES].keyring,
                verify_url=verify_url,
            )
    except CertificateError as exc:
        # Someone else's case answers like a missing one.
        status = {"not_found": 404, "forbidden": 404, "wrong_state": 409, "not_approved": 409}.get(
            exc.code, 400
        )
        code = "case_not_found" if status == 404 else exc.code
        message = "no such case" if status == 404 else exc.message
        raise ApiError(status, code, message) from None
    return web.json_response(
        {
            "number": issued.number,
            "verification_code": issued.verification_code,
            "pdf_sha256": issued.pdf_sha256,
            "issued_at": issued.issued_at.isoformat(),
            "journal_seq": issued.journal_seq,
            "pdf_url": f"/api/certificates/{issued.number}/pdf",
        },
        status=201,
    )


async def certificate_pdf(request: web.Request) -> web.Response:
    """The signed PDF, for the case's applicant and its notary only."""
    claims = require(request)
    number = certificate.normalize_number(request.match_info["number"])
    row = None
    if number is not None:
        async with request.app[PLATFORM].engine.connect() as conn:
            row = (
                await conn.execute(
                    certificates.join(cases, cases.c.id == certificates.c.case_id)
                    .select()
                    .with_only_columns(
                        certificates.c.pdf,
                        cases.c.applicant_account_id,
                        cases.c.assigned_notary_id,
                    )
                    .where(certificates.c.number == number)
                )
            ).first()
    allowed = row is not None and claims.account_id in (
        row.applicant_account_id,
        row.assigned_notary_id,
    )
    if row is None or not allowed:
        raise ApiError(404, "certificate_not_found", "no such certificate")
    return web.Response(
        body=row.pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{number}.pdf"',
            "Cache-Control": "no-store",
        },
    )


PUBLIC_FACTS_SCHEMA: dict[str, Any] = {
    "type": ["object", "null"],
    "description": "what the certificate prints about the act; no personal data",
    "properties": {
        "number": {"type": "string", "example": "SH01-2026-000001"},
        "matter": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "name": {"type": "object"}},
        },
        "issued_on": {"type": "string", "format": "date"},
        "office": {"type": "object", "description": "office name, zh-CN and en"},
    },
}


def declare(api: Api) -> None:
    api.add(
        "POST",
        "/api/certificates/verify",
        verify_certificate,
        summary="Check a certificate: its number and verification code (JSON), or the PDF "
        "file itself (application/pdf: unaltered, and signed by the office)",
        tags=("certificates",),
        responses={
            200: "the verdict (genuine or not, and why)",
            400: "invalid request",
            413: "the PDF is too large",
            415: "send JSON or a PDF",
            429: "too many verifications from this address",
        },
        request_schema={
            "type": "object",
            "required": ["number", "code"],
            "properties": {
                "number": {"type": "string", "maxLength": 64, "example": "SH01-2026-000001"},
                "code": {"type": "string", "maxLength": 64, "example": "ABCD-EFGH-JKMN"},
            },
        },
        request_content={
            "application/pdf": {
                "schema": {"type": "string", "format": "binary", "maxLength": MAX_PDF_BYTES}
            }
        },
        response_schema={
            "type": "object",
            "required": ["genuine", "reason", "certificate"],
            "properties": {
                "genuine": {"type": "boolean"},
                "reason": {
                    "enum": ["genuine", "no_match", "altered", "unknown", "unsigned", "not_pdf"]
                },
                "certificate": PUBLIC_FACTS_SCHEMA,
            },
        },
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/certificate",
        issue_certificate,
        summary="Issue the certificate of a decided case (its notary): numbered, signed PDF",
        tags=("certificates",),
        security=True,
        responses={
            201: "issued; the verification code is shown this once",
            400: "invalid request",
            401: "not logged in",
            403: "not a notary",
            404: "no such case (or not yours)",
            409: "the case is not decided, or was refused",
        },
        parameters=(
            {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}},
        ),
        request_schema={
            "type": "object",
            "required": ["statement_zh", "statement_en"],
            "properties": {
                "statement_zh": {"type": "string", "maxLength": certificate.MAX_STATEMENT_CHARS},
                "statement_en": {"type": "string", "maxLength": certificate.MAX_STATEMENT_CHARS},
            },
        },
        response_schema={
            "type": "object",
            "properties": {
                "number": {"type": "string"},
                "verification_code": {"type": "string"},
                "pdf_sha256": {"type": "string"},
                "issued_at": {"type": "string", "format": "date-time"},
                "journal_seq": {"type": "integer"},
                "pdf_url": {"type": "string"},
            },
        },
    )
    api.add(
        "GET",
        "/api/certificates/{number}/pdf",
        certificate_pdf,
        summary="Download the signed certificate (the case's applicant or notary)",
        tags=("certificates",),
        security=True,
        responses={200: "the PDF", 401: "not logged in", 404: "no such certificate"},
        parameters=(
            {"name": "number", "in": "path", "required": True, "schema": {"type": "string"}},
        ),
        response_content_type="application/pdf",
        response_schema={"type": "string", "format": "binary"},
    )
