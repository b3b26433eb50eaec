"""REST for fees: a quote with every reduction and its reason (or the refusal and why), and the
payments staff record for a case (no payment gateway)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from notary.access import Sight
from notary.fees import ActFacts, ApplicantFacts, MatterRefused, Service, assess
from notary.matters import get_matter
from notary.payments import ManualPaymentRecorder, Payment, PaymentError, list_payments
from notary.roles import Role
from notary.tables import PAYMENT_METHODS
from signaling.appkeys import PLATFORM
from signaling.auth import require
from signaling.bodies import read_json, take
from signaling.cases_api import load_case
from signaling.errors import ApiError
from signaling.openapi import Api

# The only recorder there is today; a gateway would be another notary.payments.PaymentRecorder.
RECORDER = ManualPaymentRecorder()
FACT_FLAGS = ("veteran", "disability", "low_income", "enterprise_fast_lane", "first_will")


def _date(body: dict[str, Any], name: str) -> dt.date | None:
    raw = take(body, name, str, required=False, max_length=10)
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400, "invalid_field", f"'{name}' must be a date (YYYY-MM-DD)", {"field": name}
        ) from None


async def quote(request: web.Request) -> web.Response:
    """What a matter costs this applicant. Public and stateless: nothing is stored."""
    body = await read_json(request)
    code = take(body, "matter_code", str, max_length=64)
    service_name = take(body, "service", str, required=False, default="notarization")
    try:
        service = Service(service_name)
    except ValueError:
        raise ApiError(
            400, "invalid_field", "'service' is notarization or will_custody", {"field": "service"}
        ) from None
    today = dt.datetime.now(dt.UTC).date()
    applicant = ApplicantFacts(
        birth_date=_date(body, "birth_date"),
        application_date=_date(body, "application_date") or today,
        **{flag: take(body, flag, bool, required=False, default=False) for flag in FACT_FLAGS},
    )
    if applicant.birth_date and applicant.birth_date > applicant.application_date:
        raise ApiError(400, "invalid_field", "born after applying?", {"field": "birth_date"})
    act = ActFacts(
        general_power=take(body, "general_power", bool, required=False, default=False),
        disposes_real_estate=take(
            body, "disposes_real_estate", bool, required=False, default=False
        ),
    )
    async with request.app[PLATFORM].engine.connect() as conn:
        matter = await get_matter(conn, code)
    if matter is None or not matter.active:
        raise ApiError(404, "matter_not_found", "no such matter")
    try:
        assessment = assess(matter.code, matter.base_fee_cents, applicant, service=service, act=act)
    except MatterRefused as refused:
        raise ApiError(
            422,
            "matter_refused",
            refused.reason_en,
            {"rule": refused.rule, "reason": {"zh-CN": refused.reason_zh, "en": refused.reason_en}},
        ) from None
    except ValueError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    result = assessment.as_dict()
    result["matter_name"] = {"zh-CN": matter.name_zh, "en": matter.name_en}
    return web.json_response(result)


def _payment_json(payment: Payment) -> dict[str, Any]:
    return {
        "id": payment.id,
        "amount_fen": payment.amount_fen,
        "method": payment.method,
        "reference": payment.reference,
        "recorded_at": payment.recorded_at.isoformat(),
    }


async def record_payment(request: web.Request) -> web.Response:
    """Staff record a payment: the case's notary, or an admin of its office."""
    claims = require(request, Role.NOTARY, Role.ADMIN)
    body = await read_json(request)
    amount = take(body, "amount_fen", int)
    method = take(body, "method", str, max_length=16)
    reference = take(body, "reference", str, required=False, max_length=128)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, _ = await load_case(conn, request, claims, need=Sight.SUMMARY)
        try:
            payment = await RECORDER.record(
                conn,
                case_id=case.id,
                amount_fen=amount,
                method=method,
                reference=reference,
                actor_id=claims.account_id,
                actor_role=claims.role,
            )
        except PaymentError as exc:
            raise ApiError(400, "invalid_payment", str(exc)) from None
        paid = await RECORDER.paid_fen(conn, case.id)
    return web.json_response({"payment": _payment_json(payment), "paid_fen": paid}, status=201)


async def case_payments(request: web.Request) -> web.Response:
    claims = require(request)
    async with request.app[PLATFORM].engine.connect() as conn:
        case, _ = await load_case(conn, request, claims, need=Sight.SUMMARY)
        found = await list_payments(conn, case.id)
    return web.json_response(
        {
            "payments": [_payment_json(p) for p in found],
            "paid_fen": sum(p.amount_fen for p in found),
        }
    )


REASON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"zh-CN": {"type": "string"}, "en": {"type": "string"}},
}
PAYMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "amount_fen": {"type": "integer"},
        "method": {"enum": PAYMENT_METHODS},
        "reference": {"type": ["string", "null"]},
        "recorded_at": {"type": "string", "format": "date-time"},
    },
}
CASE_ID = ({"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}},)


def declare(api: Api) -> None:
    api.add(
        "POST",
        "/api/fees/quote",
        quote,
        summary="The fee for a matter and an applicant: base fee, reductions with their reason, "
        "or the refusal (elderly safeguard) with its explanation",
        tags=("fees",),
        responses={
            200: "the fee",
            400: "invalid request",
            404: "no such matter",
            422: "the office refuses this matter (details.reason says why, in both languages)",
        },
        request_schema={
            "type": "object",
            "required": ["matter_code"],
            "properties": {
                "matter_code": {"type": "string"},
                "service": {"enum": [s.value for s in Service]},
                "birth_date": {"type": "string", "format": "date"},
                "application_date": {"type": "string", "format": "date"},
                **{flag: {"type": "boolean"} for flag in FACT_FLAGS},
                "general_power": {"type": "boolean", "description": "power of attorney"},
                "disposes_real_estate": {"type": "boolean", "description": "power of attorney"},
            },
        },
        response_schema={
            "type": "object",
            "properties": {
                "matter_code": {"type": "string"},
                "matter_name": REASON_SCHEMA,
                "service": {"type": "string"},
                "base_fen": {"type": "integer"},
                "amount_fen": {"type": "integer"},
                "reductions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "rule": {"type": "string"},
                            "percent": {"type": "integer"},
                            "saved_fen": {"type": "integer"},
                            "reason": REASON_SCHEMA,
                        },
                    },
                },
            },
        },
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/payments",
        record_payment,
        summary="Record a payment (method and reference; no gateway): the case's notary or an "
        "admin of its office",
        tags=("fees",),
        security=True,
        responses={
            201: "recorded and journaled",
            400: "invalid payment",
            401: "not logged in",
            403: "not staff",
            404: "no such case (or not yours)",
        },
        parameters=CASE_ID,
        request_schema={
            "type": "object",
            "required": ["amount_fen", "method"],
            "properties": {
                "amount_fen": {"type": "integer", "minimum": 0},
                "method": {"enum": PAYMENT_METHODS},
                "reference": {"type": "string", "maxLength": 128},
            },
        },
        response_schema={
            "type": "object",
            "properties": {"payment": PAYMENT_SCHEMA, "paid_fen": {"type": "integer"}},
        },
    )
    api.add(
        "GET",
        "/api/cases/{case_id}/payments",
        case_payments,
        summary="A case's recorded payments",
        tags=("fees",),
        security=True,
        responses={200: "the payments", 401: "not logged in", 404: "no such case"},
        parameters=CASE_ID,
        response_schema={
            "type": "object",
            "properties": {
                "payments": {"type": "array", "items": PAYMENT_SCHEMA},
                "paid_fen": {"type": "integer"},
            },
        },
    )
