"""REST API for the office side: the pre-review queue, one-notice returns, acceptance,
assignment with recusal checks, recusal, and supervisors' draws and statistics."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from aiohttp import web

from notary import checks, recusal, review
from notary.access import Sight
from notary.cases import CaseError, CaseState, list_cases
from notary.matters import get_matter
from notary.roles import Role
from notary.tables import accounts, cases
from signaling.appkeys import PLATFORM
from signaling.auth import require
from signaling.bodies import read_json, take
from signaling.cases_api import (
    CASE_ERRORS,
    CASE_ID,
    case_error,
    case_summary,
    lang_of,
    load_case,
)
from signaling.errors import ApiError
from signaling.openapi import Api

MAX_NOTICE_ITEMS = review.MAX_ITEMS


async def review_queue(request: web.Request) -> web.Response:
    """The notary's submitted cases: priority flags first, then the longest waiting."""
    claims = require(request, Role.NOTARY)
    lang = lang_of(request)
    async with request.app[PLATFORM].engine.connect() as conn:
        found = await list_cases(
            conn,
            sa.and_(
                cases.c.office_id == claims.office_id,
                cases.c.assigned_notary_id == claims.account_id,
                cases.c.state == CaseState.SUBMITTED.value,
            ),
        )
        items = []
        for case in found:
            matter = await get_matter(conn, case.matter_code)
            assert matter is not None
            items.append(case_summary(case, matter, lang))

    def order(item: dict[str, Any]) -> tuple[bool, float]:
        priority = item["fast_lane"] or item["elderly"] or item["disabled_applicant"]
        return (not priority, -(item["waiting_hours"] or 0.0))

    return web.json_response({"queue": sorted(items, key=order)})


async def send_notice(request: web.Request) -> web.Response:
    claims = require(request, Role.NOTARY)
    body = await read_json(request)
    items = take(body, "items", list, max_length=MAX_NOTICE_ITEMS)
    message = take(body, "message", str, required=False, max_length=review.MAX_MESSAGE)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, matter = await load_case(conn, request, claims)
        try:
            notice = await review.send_notice(
                conn, case, matter, notary_id=claims.account_id, items=items, message=message
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"notice": notice.as_dict()}, status=201)


async def accept_case(request: web.Request) -> web.Response:
    claims = require(request, Role.NOTARY)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, matter = await load_case(conn, request, claims)
        try:
            moved = await review.accept(conn, case, notary_id=claims.account_id)
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"case": case_summary(moved, matter, "zh-CN")})


async def assign_case(request: web.Request) -> web.Response:
    claims = require(request, Role.ADMIN)
    body = await read_json(request)
    notary_id = take(body, "notary_id", str, max_length=36)
    refused: recusal.RecusalConflict | None = None
    async with request.app[PLATFORM].engine.begin() as conn:
        case, matter = await load_case(conn, request, claims, need=Sight.SUMMARY)
        try:
            await recusal.assign(
                conn, case, notary_id=notary_id, actor_id=claims.account_id, actor_role=claims.role
            )
        except recusal.RecusalConflict as exc:
            refused = exc  # answered after the block, so that its journal entry commits
        except CaseError as exc:
            raise case_error(exc) from None
        case, matter = await load_case(conn, request, claims, need=Sight.SUMMARY)
    if refused is not None:
        raise case_error(refused)
    return web.json_response({"case": case_summary(case, matter, "zh-CN")})


async def assignment_candidates(request: web.Request) -> web.Response:
    """The office's notaries for this case, each with what stands in the way (admin)."""
    claims = require(request, Role.ADMIN)
    async with request.app[PLATFORM].engine.connect() as conn:
        case, _ = await load_case(conn, request, claims, need=Sight.SUMMARY)
        rows = await conn.execute(
            sa.select(accounts.c.id, accounts.c.display_name).where(
                accounts.c.office_id == case.office_id,
                accounts.c.role == Role.NOTARY.value,
                accounts.c.disabled.is_(False),
            )
        )
        found = [
            {
                "id": r.id,
                "display_name": r.display_name,
                "conflicts": await recusal.conflicts_of(conn, case, r.id),
            }
            for r in rows
        ]
    return web.json_response({"candidates": found})


async def recuse(request: web.Request) -> web.Response:
    claims = require(request, Role.NOTARY)
    body = await read_json(request)
    reason = take(body, "reason", str, max_length=recusal.MAX_REASON)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, _ = await load_case(conn, request, claims)
        try:
            conflict = await recusal.recuse(conn, case, notary_id=claims.account_id, reason=reason)
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"recusal": conflict.as_dict()}, status=201)


async def statistics(request: web.Request) -> web.Response:
    claims = require(request, Role.SUPERVISOR)
    async with request.app[PLATFORM].engine.connect() as conn:
        stats = await checks.statistics(conn, office_id=claims.office_id)
    return web.json_response({"statistics": stats})


async def draw_checks(request: web.Request) -> web.Response:
    claims = require(request, Role.SUPERVISOR)
    body = await read_json(request)
    count = take(body, "count", int)
    if not 1 <= count <= checks.MAX_DRAW:
        raise ApiError(
            400, "invalid_field", f"'count' is 1 to {checks.MAX_DRAW}", {"field": "count"}
        )
    try:
        async with request.app[PLATFORM].engine.begin() as conn:
            drawn = await checks.draw(
                conn, supervisor_id=claims.account_id, count=count, office_id=claims.office_id
            )
    except checks.DrawConflict as exc:  # raised inside: the transaction is rolled back
        raise ApiError(409, exc.code, exc.message) from None
    return web.json_response({"drawn": drawn}, status=201)


def declare(api: Api) -> None:
    api.add(
        "GET",
        "/api/review/queue",
        review_queue,
        summary="The notary's pre-review queue: submitted cases, flags, waiting time",
        tags=("review",),
        security=True,
        responses={200: "the queue", 401: "not logged in", 403: "not a notary"},
        response_schema={"type": "object", "properties": {"queue": {"type": "array"}}},
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/notices",
        send_notice,
        summary="Return the case with ONE notice listing everything missing or wrong; a later "
        "notice may only name materials added since the last",
        tags=("review",),
        security=True,
        responses={
            201: "returned",
            400: "invalid notice",
            **CASE_ERRORS,
            409: "not reviewable, or names items that are not new",
        },
        parameters=(CASE_ID,),
        request_schema={
            "type": "object",
            "required": ["items"],
            "properties": {
                "message": {"type": "string"},
                "items": {
                    "type": "array",
                    "maxItems": MAX_NOTICE_ITEMS,
                    "items": {
                        "type": "object",
                        "required": ["requirement", "problem"],
                        "properties": {
                            "requirement": {"type": "string"},
                            "material_id": {"type": "string"},
                            "problem": {"type": "string"},
                        },
                    },
                },
            },
        },
        response_schema={"type": "object", "properties": {"notice": {"type": "object"}}},
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/accept",
        accept_case,
        summary="Accept a submitted case after pre-review",
        tags=("review",),
        security=True,
        responses={200: "accepted", **CASE_ERRORS, 409: "not reviewable"},
        parameters=(CASE_ID,),
        response_schema={"type": "object", "properties": {"case": {"type": "object"}}},
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/assign",
        assign_case,
        summary="Assign a case to a notary of its office (admin); refused on recusal conflicts",
        tags=("review",),
        security=True,
        responses={
            200: "assigned",
            400: "invalid",
            **CASE_ERRORS,
            409: "recusal conflict or not assignable",
        },
        parameters=(CASE_ID,),
        request_schema={
            "type": "object",
            "required": ["notary_id"],
            "properties": {"notary_id": {"type": "string"}},
        },
        response_schema={"type": "object", "properties": {"case": {"type": "object"}}},
    )
    api.add(
        "GET",
        "/api/cases/{case_id}/candidates",
        assignment_candidates,
        summary="The office's notaries for a case, each with their recusal conflicts (admin)",
        tags=("review",),
        security=True,
        responses={200: "the candidates", **CASE_ERRORS},
        parameters=(CASE_ID,),
        response_schema={"type": "object", "properties": {"candidates": {"type": "array"}}},
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/recuse",
        recuse,
        summary="The assigned notary recuses themselves, with a reason",
        tags=("review",),
        security=True,
        responses={201: "recorded", 400: "invalid", **CASE_ERRORS},
        parameters=(CASE_ID,),
        request_schema={
            "type": "object",
            "required": ["reason"],
            "properties": {"reason": {"type": "string"}},
        },
        response_schema={"type": "object", "properties": {"recusal": {"type": "object"}}},
    )
    api.add(
        "GET",
        "/api/supervision/statistics",
        statistics,
        summary="Case statistics for supervisors (no personal data)",
        tags=("supervision",),
        security=True,
        responses={200: "statistics", 401: "not logged in", 403: "not a supervisor"},
        response_schema={"type": "object", "properties": {"statistics": {"type": "object"}}},
    )
    api.add(
        "POST",
        "/api/supervision/draws",
        draw_checks,
        summary="Draw cases at random for a check (双随机); secret files are never drawn",
        tags=("supervision",),
        security=True,
        responses={
            201: "drawn",
            400: "invalid count",
            401: "not logged in",
            403: "not a supervisor",
            409: "a concurrent draw took the same case (draw_conflict); draw again",
        },
        request_schema={
            "type": "object",
            "required": ["count"],
            "properties": {"count": {"type": "integer", "minimum": 1, "maximum": checks.MAX_DRAW}},
        },
        response_schema={
            "type": "object",
            "properties": {"drawn": {"type": "array", "items": {"type": "string"}}},
        },
    )
