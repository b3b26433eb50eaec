"""REST API for after the interview: decision and referrals, delivery, ratings, complaints, and
supervisors' findings on drawn cases.

Who may do what (least privilege, on top of notary.access deciding who sees a case at all):
- the assigned notary decides, refers, records a collective discussion; the second notary asked
  gives their opinion (they read the referral and, while it is open, the file);
- the assigned notary or an admin of the office archives a finished case (delivered, or refused);
- delivery: the applicant side chooses the method; the office (assigned notary or admin) moves
  it along and attaches the post receipt; whoever sees the case sees its delivery status;
- the applicant rates and complains; supervisors answer complaints of their office (any office
  when they belong to none), record findings on drawn cases and read the rating summary.
A case or complaint the caller may not see answers 404, like a missing one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import BodyPartReader, web
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import archive, decision, delivery, feedback, materials, supervision
from notary.access import Sight
from notary.cases import Case, CaseError, get_case
from notary.matters import get_matter
from notary.roles import Role
from recorder.store import ObjectExists
from signaling.appkeys import PLATFORM
from signaling.auth import require
from signaling.bodies import read_json, take
from signaling.cases_api import (
    APPLICANT_SIDE,
    CASE_ERRORS,
    CASE_ID,
    case_error,
    lang_of,
    load_case,
)
from signaling.errors import ApiError
from signaling.openapi import Api
from signaling.stored_files import stored_file
from signaling.uploads import check_multipart, read_file_part

OFFICE_SIDE = (Role.NOTARY, Role.ADMIN)


def _not_found(what: str = "case") -> ApiError:
    return ApiError(404, f"{what}_not_found", f"no such {what}")


async def _summary(conn: AsyncConnection, case: Case, lang: str) -> dict[str, Any]:
    """What a queue shows of a case: no parties, no materials."""
    matter = await get_matter(conn, case.matter_code)
    name = None if matter is None else matter.name_en if lang == "en" else matter.name_zh
    return {
        "id": case.id,
        "state": case.state.value,
        "matter_code": case.matter_code,
        "matter_name": name,
        "office_id": case.office_id,
    }


# --- decision and referrals ---------------------------------------------------------------------


async def get_decision(request: web.Request) -> web.Response:
    claims = require(request)
    async with request.app[PLATFORM].engine.connect() as conn:
        case, _ = await load_case(conn, request, claims, read_only=True)
        found = await decision.get_decision(conn, case.id)
        answer: dict[str, Any] = {"decision": found.as_dict() if found else None}
        # Referrals and minutes are the office's internal record: not for the applicant side.
        if claims.role in (Role.NOTARY.value, Role.SUPERVISOR.value):
            answer["referrals"] = [
                r.as_dict() for r in await decision.list_referrals(conn, case.id)
            ]
    return web.json_response(answer)


async def post_decision(request: web.Request) -> web.Response:
    claims = require(request, Role.NOTARY)
    body = await read_json(request)
    outcome = take(body, "outcome", str, max_length=16)
    reasons = take(body, "reasons", str, max_length=decision.MAX_REASONS + 100)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, _ = await load_case(conn, request, claims)
        try:
            made = await decision.decide(
                conn, case.id, notary_id=claims.account_id, outcome=outcome, reasons=reasons
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"decision": made.as_dict()}, status=201)


async def post_referral(request: web.Request) -> web.Response:
    claims = require(request, Role.NOTARY)
    body = await read_json(request)
    kind = take(body, "kind", str, max_length=16)
    question = take(body, "question", str, max_length=decision.MAX_QUESTION + 100)
    second = take(body, "second_notary_id", str, required=False, max_length=36)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, _ = await load_case(conn, request, claims)
        try:
            referral = await decision.refer(
                conn,
                case.id,
                notary_id=claims.account_id,
                kind=kind,
                question=question,
                second_notary_id=second,
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"referral": referral.as_dict()}, status=201)


async def referral_queue(request: web.Request) -> web.Response:
    """The open second-opinion requests addressed to the calling notary."""
    claims = require(request, Role.NOTARY)
    lang = lang_of(request)
    items = []
    async with request.app[PLATFORM].engine.connect() as conn:
        for referral in await decision.awaiting_opinion(conn, claims.account_id):
            case = await get_case(conn, referral.case_id)
            assert case is not None
            items.append({"referral": referral.as_dict(), "case": await _summary(conn, case, lang)})
    return web.json_response({"referrals": items})


async def post_conclusion(request: web.Request) -> web.Response:
    claims = require(request, Role.NOTARY)
    body = await read_json(request)
    recommendation = take(body, "recommendation", str, max_length=16)
    record = take(body, "record", str, max_length=decision.MAX_RECORD + 100)
    participants = take(body, "participants", list, required=False, max_length=100)
    referral_id = request.match_info["referral_id"]
    async with request.app[PLATFORM].engine.begin() as conn:
        referral = await decision.get_referral(conn, referral_id)
        case = await get_case(conn, referral.case_id) if referral else None
        # Only the two notaries concerned learn that the referral exists.
        if (
            referral is None
            or case is None
            or claims.account_id
            not in (
                referral.second_notary_id,
                case.assigned_notary_id,
            )
        ):
            raise _not_found("referral")
        try:
            done = await decision.conclude(
                conn,
                referral_id,
                actor_id=claims.account_id,
                recommendation=recommendation,
                record=record,
                participants=participants,
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"referral": done.as_dict()}, status=201)


# --- delivery ------------------------------------------------------------------------------------


async def get_delivery(request: web.Request) -> web.Response:
    claims = require(request)
    async with request.app[PLATFORM].engine.connect() as conn:
        case, _ = await load_case(conn, request, claims, Sight.SUMMARY)
        found = await delivery.get_delivery(conn, case.id)
        agreed = await delivery.agreed_method(conn, case.id)
    return web.json_response(
        {
            "delivery": found.as_dict() if found else None,
            "agreed_method": agreed.value if agreed else None,
        }
    )


async def put_delivery(request: web.Request) -> web.Response:
    claims = require(request, *APPLICANT_SIDE, *OFFICE_SIDE)
    body = await read_json(request)
    method = take(body, "method", str, max_length=16)
    address = take(body, "address", str, required=False, max_length=delivery.MAX_ADDRESS + 100)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, _ = await load_case(conn, request, claims, Sight.SUMMARY)
        try:
            chosen = await delivery.choose(
                conn,
                case.id,
                method=method,
                address=address,
                actor_id=claims.account_id,
                actor_role=claims.role,
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"delivery": chosen.as_dict()})


async def post_delivery_step(request: web.Request) -> web.Response:
    claims = require(request, *OFFICE_SIDE)
    body = await read_json(request)
    to = take(body, "state", str, max_length=16)
    carrier = take(body, "carrier", str, required=False, max_length=64)
    tracking = take(body, "tracking_number", str, required=False, max_length=64)
    note = take(body, "note", str, required=False, max_length=delivery.MAX_NOTE)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, _ = await load_case(conn, request, claims, Sight.SUMMARY)
        try:
            moved = await delivery.advance(
                conn,
                case.id,
                to=to,
                actor_id=claims.account_id,
                actor_role=claims.role,
                carrier=carrier,
                tracking_number=tracking,
                note=note,
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"delivery": moved.as_dict()})


async def post_archive(request: web.Request) -> web.Response:
    claims = require(request, *OFFICE_SIDE)
    body = await read_json(request)
    reason = take(body, "reason", str, required=False, max_length=archive.MAX_REASON + 100)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, _ = await load_case(conn, request, claims, Sight.SUMMARY)
        try:
            archived = await archive.archive(
                conn, case.id, actor_id=claims.account_id, actor_role=claims.role, reason=reason
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"case": {"id": archived.id, "state": archived.state.value}})


async def _read_file(request: web.Request) -> tuple[str, bytes]:
    """(file name, bytes) of the one `file` field of a multipart form, size-limited as read."""
    check_multipart(request)
    reader = await request.multipart()
    part = await reader.next()
    if not isinstance(part, BodyPartReader) or part.name != "file":
        raise ApiError(400, "malformed_upload", "the form has one field: file")
    file_name, data = await read_file_part(part)
    if await reader.next() is not None:
        raise ApiError(400, "malformed_upload", "the form has one field: file")
    return file_name, data


async def put_receipt(request: web.Request) -> web.Response:
    claims = require(request, *OFFICE_SIDE)
    platform = request.app[PLATFORM]
    async with platform.engine.connect() as conn:  # cheap checks before reading the file
        case, matter = await load_case(conn, request, claims, Sight.SUMMARY)
        try:
            await delivery.check_receipt_allowed(conn, case)
        except CaseError as exc:
            raise case_error(exc) from None
    file_name, data = await _read_file(request)
    try:
        sniffed = await asyncio.to_thread(materials.sniff, data, file_name)
    except materials.MaterialRejected as exc:
        status = 413 if exc.code == "too_large" else 422
        raise ApiError(status, exc.code, exc.message, {"field": "file"}) from None
    await platform.bootstrap_store()
    try:
        stored = await asyncio.to_thread(
            delivery.store_receipt,
            platform.store,
            platform.settings.materials_bucket,
            case.id,
            data,
            sniffed,
            platform.retention_class(matter.retention_class),
        )
    except ObjectExists:
        raise ApiError(409, "duplicate_receipt", "this receipt is already stored") from None
    async with platform.engine.begin() as conn:
        current = await get_case(conn, case.id, for_update=True)
        assert current is not None
        try:
            updated = await delivery.record_receipt(
                conn,
                current,
                sniffed=sniffed,
                stored=stored,
                actor_id=claims.account_id,
                actor_role=claims.role,
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"delivery": updated.as_dict()}, status=201)


async def get_receipt(request: web.Request) -> web.Response:
    claims = require(request)
    platform = request.app[PLATFORM]
    async with platform.engine.connect() as conn:
        case, _ = await load_case(conn, request, claims, Sight.SUMMARY)
        found = await delivery.get_delivery(conn, case.id)
    if found is None or found.receipt_key is None:
        raise ApiError(404, "receipt_not_found", "no receipt is attached")
    return await stored_file(
        platform,
        found.receipt_key,
        found.receipt_version_id,
        content_type=found.receipt_content_type,
    )


# --- ratings and complaints ----------------------------------------------------------------------


async def get_rating(request: web.Request) -> web.Response:
    claims = require(request)
    async with request.app[PLATFORM].engine.connect() as conn:
        case, _ = await load_case(conn, request, claims)
        found = await feedback.get_rating(conn, case.id)
    return web.json_response({"rating": found.as_dict() if found else None})


async def post_rating(request: web.Request) -> web.Response:
    claims = require(request, Role.APPLICANT)
    body = await read_json(request)
    score = take(body, "score", int, required=False)
    grade = take(body, "grade", str, required=False, max_length=8)
    comment = take(body, "comment", str, required=False, max_length=feedback.MAX_COMMENT + 100)
    try:
        async with request.app[PLATFORM].engine.begin() as conn:
            case, _ = await load_case(conn, request, claims)
            try:
                rating = await feedback.rate(
                    conn,
                    case,
                    applicant_id=claims.account_id,
                    score=score,
                    grade=grade,
                    comment=comment,
                )
            except CaseError as exc:
                raise case_error(exc) from None
    except IntegrityError:  # a second rating that raced the first: the unique case_id refused it
        raise ApiError(409, "already_rated", "this case is already rated") from None
    return web.json_response({"rating": rating.as_dict()}, status=201)


async def list_case_complaints(request: web.Request) -> web.Response:
    claims = require(request, Role.APPLICANT)
    async with request.app[PLATFORM].engine.connect() as conn:
        case, _ = await load_case(conn, request, claims)
        found = await feedback.complaints_of_case(conn, case.id)
    return web.json_response({"complaints": [c.as_dict() for c in found]})


async def post_complaint(request: web.Request) -> web.Response:
    claims = require(request, Role.APPLICANT)
    body = await read_json(request)
    text = take(body, "body", str, max_length=feedback.MAX_COMPLAINT + 100)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, _ = await load_case(conn, request, claims)
        try:
            complaint = await feedback.complain(
                conn, case, applicant_id=claims.account_id, body=text
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"complaint": complaint.as_dict()}, status=201)


async def complaint_queue(request: web.Request) -> web.Response:
    claims = require(request, Role.SUPERVISOR)
    lang = lang_of(request)
    state = request.query.get("state")
    items = []
    async with request.app[PLATFORM].engine.connect() as conn:
        try:
            found = await feedback.queue(conn, office_id=claims.office_id, state=state)
        except CaseError as exc:
            raise case_error(exc) from None
        for complaint in found:
            case = await get_case(conn, complaint.case_id)
            assert case is not None
            items.append({**complaint.as_dict(), "case": await _summary(conn, case, lang)})
    return web.json_response({"complaints": items})


async def post_answer(request: web.Request) -> web.Response:
    claims = require(request, Role.SUPERVISOR)
    body = await read_json(request)
    text = take(body, "answer", str, max_length=feedback.MAX_ANSWER + 100)
    async with request.app[PLATFORM].engine.begin() as conn:
        try:
            done = await feedback.answer(
                conn,
                request.match_info["complaint_id"],
                supervisor_id=claims.account_id,
                supervisor_office_id=claims.office_id,
                text=text,
            )
        except LookupError:
            raise _not_found("complaint") from None
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"complaint": done.as_dict()})


async def post_close(request: web.Request) -> web.Response:
    claims = require(request, Role.APPLICANT, Role.SUPERVISOR)
    async with request.app[PLATFORM].engine.begin() as conn:
        try:
            done = await feedback.close(
                conn,
                request.match_info["complaint_id"],
                actor_id=claims.account_id,
                actor_role=claims.role,
                supervisor_office_id=claims.office_id,
            )
        except LookupError:
            raise _not_found("complaint") from None
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"complaint": done.as_dict()})


# --- supervision --------------------------------------------------------------------------------


async def checks_queue(request: web.Request) -> web.Response:
    claims = require(request, Role.SUPERVISOR)
    async with request.app[PLATFORM].engine.connect() as conn:
        found = await supervision.checks_queue(conn, office_id=claims.office_id)
        ratings = await feedback.rating_summary(conn, claims.office_id)
    return web.json_response({"checks": found, "ratings": ratings})


async def list_findings(request: web.Request) -> web.Response:
    claims = require(request, Role.SUPERVISOR)
    async with request.app[PLATFORM].engine.connect() as conn:
        case, _ = await load_case(conn, request, claims)
        if claims.office_id not in (None, case.office_id):
            raise _not_found()
        found = await supervision.list_findings(conn, case.id)
    return web.json_response({"findings": [f.as_dict() for f in found]})


async def post_finding(request: web.Request) -> web.Response:
    claims = require(request, Role.SUPERVISOR)
    body = await read_json(request)
    severity = take(body, "severity", str, max_length=16)
    text = take(body, "text", str, max_length=supervision.MAX_FINDING + 100)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, _ = await load_case(conn, request, claims)
        try:
            finding = await supervision.record_finding(
                conn,
                case.id,
                supervisor_id=claims.account_id,
                supervisor_office_id=claims.office_id,
                severity=severity,
                text=text,
            )
        except LookupError:
            raise _not_found() from None
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"finding": finding.as_dict()}, status=201)


# --- declaration ---------------------------------------------------------------------------------

REFERRAL_ID = {"name": "referral_id", "in": "path", "required": True, "schema": {"type": "string"}}
COMPLAINT_ID = {
    "name": "complaint_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}


def _obj(*required: str, **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": list(required), "properties": properties}


STR = {"type": "string"}


def declare(api: Api) -> None:
    case_route: dict[str, Any] = {
        "tags": ("aftercare",),
        "security": True,
        "parameters": (CASE_ID,),
    }
    api.add(
        "GET",
        "/api/cases/{case_id}/decision",
        get_decision,
        summary="The decision (and, for the notary or a checking supervisor, the referrals)",
        responses={200: "the decision or null", **CASE_ERRORS},
        **case_route,
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/decision",
        post_decision,
        summary="Approve or refuse an interviewed case, with reasons (its assigned notary)",
        responses={201: "decided", 400: "invalid", **CASE_ERRORS, 409: "not awaiting decision"},
        request_schema=_obj(
            "outcome", "reasons", outcome={"enum": ["approved", "refused"]}, reasons=STR
        ),
        **case_route,
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/referrals",
        post_referral,
        summary="Refer a difficult case to a second notary (recusal-checked) or a collective "
        "discussion",
        responses={201: "referred", 400: "invalid", **CASE_ERRORS, 409: "refused"},
        request_schema=_obj(
            "kind",
            "question",
            kind={"enum": ["second_notary", "collective"]},
            question=STR,
            second_notary_id=STR,
        ),
        **case_route,
    )
    api.add(
        "GET",
        "/api/referrals",
        referral_queue,
        summary="Second-opinion requests waiting for the calling notary",
        tags=("aftercare",),
        security=True,
        responses={200: "the queue", 401: "not logged in", 403: "not a notary"},
    )
    api.add(
        "POST",
        "/api/referrals/{referral_id}/conclusion",
        post_conclusion,
        summary="Give the second opinion, or record the discussion's minutes and participants",
        tags=("aftercare",),
        security=True,
        parameters=(REFERRAL_ID,),
        responses={
            201: "concluded",
            400: "invalid",
            401: "not logged in",
            403: "not a notary",
            404: "no such referral",
            409: "already concluded",
        },
        request_schema=_obj(
            "recommendation",
            "record",
            recommendation={"enum": ["approved", "refused"]},
            record=STR,
            participants={"type": "array", "items": _obj("name", name=STR, role=STR)},
        ),
    )
    api.add(
        "GET",
        "/api/cases/{case_id}/delivery",
        get_delivery,
        summary="How the certificate is delivered, and each step with its time",
        responses={
            200: "the delivery or null, and the method agreed in the interview or null",
            **CASE_ERRORS,
        },
        **case_route,
    )
    api.add(
        "PUT",
        "/api/cases/{case_id}/delivery",
        put_delivery,
        summary="Choose the delivery method (post needs an address) until it is under way",
        responses={200: "chosen", 400: "invalid", **CASE_ERRORS, 409: "not deliverable"},
        request_schema=_obj(
            "method", method={"enum": ["post", "electronic", "pickup"]}, address=STR
        ),
        **case_route,
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/delivery/steps",
        post_delivery_step,
        summary="Move the delivery on (the office): dispatched (post: carrier and tracking "
        "number), ready, delivered, failed",
        responses={200: "moved", 400: "invalid", **CASE_ERRORS, 409: "not allowed now"},
        request_schema=_obj(
            "state",
            state={"enum": ["dispatched", "ready", "delivered", "failed"]},
            carrier=STR,
            tracking_number=STR,
            note=STR,
        ),
        **case_route,
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/archive",
        post_archive,
        summary="Archive a finished case (its notary or an office admin): delivered, or decided "
        "and refused",
        responses={200: "archived", 400: "invalid", **CASE_ERRORS, 409: "not finished"},
        request_schema=_obj(reason=STR),
        **case_route,
    )
    api.add(
        "PUT",
        "/api/cases/{case_id}/delivery/receipt",
        put_receipt,
        summary="Attach the signed post receipt (multipart: file; JPEG, PNG or PDF, checked "
        "like materials)",
        responses={
            201: "stored",
            400: "malformed",
            **CASE_ERRORS,
            409: "not a dispatched post delivery",
            413: "too large",
            415: "not multipart",
            422: "refused content",
        },
        **case_route,
    )
    api.add(
        "GET",
        "/api/cases/{case_id}/delivery/receipt",
        get_receipt,
        summary="The receipt image as stored",
        responses={200: "the file", **CASE_ERRORS},
        **case_route,
    )
    api.add(
        "GET",
        "/api/cases/{case_id}/rating",
        get_rating,
        summary="The applicant's rating of the case, if any",
        responses={200: "the rating or null", **CASE_ERRORS},
        **case_route,
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/rating",
        post_rating,
        summary="Rate a finished case once (score 1-5 or grade good/fair/poor, comment)",
        responses={201: "rated", 400: "invalid", **CASE_ERRORS, 409: "not over, or rated"},
        request_schema=_obj(
            score={"type": "integer", "minimum": 1, "maximum": 5},
            grade={"enum": ["good", "fair", "poor"]},
            comment=STR,
        ),
        **case_route,
    )
    api.add(
        "GET",
        "/api/cases/{case_id}/complaints",
        list_case_complaints,
        summary="The applicant's complaints on this case, with status and answer",
        responses={200: "the complaints", **CASE_ERRORS},
        **case_route,
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/complaints",
        post_complaint,
        summary="Complain to the supervisor about this case",
        responses={201: "queued", 400: "invalid", **CASE_ERRORS, 409: "refused"},
        request_schema=_obj("body", body=STR),
        **case_route,
    )
    complaint_route: dict[str, Any] = {
        "tags": ("aftercare",),
        "security": True,
        "parameters": (COMPLAINT_ID,),
    }
    complaint_errors = {401: "not logged in", 403: "role may not", 404: "no such complaint"}
    api.add(
        "GET",
        "/api/complaints",
        complaint_queue,
        summary="The supervisor's complaint queue (?state=open|answered|closed)",
        tags=("aftercare",),
        security=True,
        responses={200: "the queue", 400: "bad state", 401: "not logged in", 403: "role"},
    )
    api.add(
        "POST",
        "/api/complaints/{complaint_id}/answer",
        post_answer,
        summary="Answer an open complaint (supervisor)",
        responses={200: "answered", 400: "invalid", **complaint_errors, 409: "not open"},
        request_schema=_obj("answer", answer=STR),
        **complaint_route,
    )
    api.add(
        "POST",
        "/api/complaints/{complaint_id}/close",
        post_close,
        summary="Close an answered complaint (its applicant or a supervisor)",
        responses={200: "closed", **complaint_errors, 409: "not answered"},
        **complaint_route,
    )
    api.add(
        "GET",
        "/api/supervision/checks",
        checks_queue,
        summary="Cases drawn for a check with their findings count, and the rating summary",
        tags=("aftercare",),
        security=True,
        responses={200: "the work list", 401: "not logged in", 403: "not a supervisor"},
    )
    api.add(
        "GET",
        "/api/cases/{case_id}/findings",
        list_findings,
        summary="Findings recorded on a drawn case",
        responses={200: "the findings", **CASE_ERRORS},
        **case_route,
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/findings",
        post_finding,
        summary="Record a finding on a case drawn for a check",
        responses={201: "recorded", 400: "invalid", **CASE_ERRORS, 409: "not drawn"},
        request_schema=_obj(
            "severity", "text", severity={"enum": ["none", "minor", "serious"]}, text=STR
        ),
        **case_route,
    )
