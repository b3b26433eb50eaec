"""REST API for applying: open a case, add parties, upload materials, commit, submit, declare.

Every case route answers 404 for a case the caller may not see (ids are not an oracle), and the
applicant side may change a case only while it is a draft or returned (notary.cases).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiohttp import BodyPartReader, web
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import materials, parties, recusal, review
from notary.access import Sight, Viewer, sight, visible
from notary.accounts import AccountError, create_account, find_by_login, get_account
from notary.cases import Case, CaseError, create_case, get_case, list_cases
from notary.checks import is_drawn
from notary.decision import is_second_notary
from notary.matters import Matter, get_matter
from notary.passwords import WeakPassword
from notary.roles import Role
from notary.tables import accounts, offices
from recorder.store import ObjectExists
from signaling.appkeys import PLATFORM
from signaling.auth import account_json, require
from signaling.bodies import read_json, take
from signaling.errors import ApiError
from signaling.http_limits import AppLimiters, enforce
from signaling.openapi import Api
from signaling.stored_files import stored_file
from signaling.tokens import SessionClaims
from signaling.uploads import check_multipart, read_file_part

APPLICANT_SIDE = (Role.APPLICANT, Role.SITE_OFFICER)
# Client errors from the domain that are about the request's content, not the case's state.
_BAD_INPUT_PREFIXES = ("invalid_", "unknown_", "too_many_")


# Per caller: a family's paperwork goes through at once, a script filling the store does not.
LIMITS = {"upload": (1 / 3, 40), "open_case": (1 / 10, 10)}  # (tokens a second, burst)
_limiters = AppLimiters(LIMITS)


def rate_limit(request: web.Request, kind: str, account_id: str) -> None:
    enforce(_limiters.of(request.app, kind), account_id, "requests")


def viewer_of(claims: SessionClaims) -> Viewer:
    return Viewer(claims.account_id, Role(claims.role), claims.office_id)


def case_error(exc: CaseError) -> ApiError:
    status = 400 if exc.code.startswith(_BAD_INPUT_PREFIXES) else 409
    details: dict[str, Any] = {}
    for name in ("requirements", "reasons", "items"):
        if getattr(exc, name, None):
            details[name] = getattr(exc, name)
    return ApiError(status, exc.code, exc.message, details or None)


async def sight_of(
    conn: AsyncConnection, claims: SessionClaims, case: Case, *, read_only: bool = False
) -> Sight:
    """notary.access.sight with what it needs from the database. `read_only`: the route changes
    nothing, so a second notary asked for an opinion may read the file too."""
    drawn = claims.role == Role.SUPERVISOR.value and await is_drawn(conn, case.id)
    second = (
        read_only
        and claims.role == Role.NOTARY.value
        and case.assigned_notary_id != claims.account_id
        and await is_second_notary(conn, case.id, claims.account_id)
    )
    return sight(viewer_of(claims), case, drawn_for_check=drawn, second_opinion=second)


async def load_case(
    conn: AsyncConnection,
    request: web.Request,
    claims: SessionClaims,
    need: Sight = Sight.FILE,
    *,
    read_only: bool = False,
) -> tuple[Case, Matter]:
    """The case in the URL if the caller may see it at `need`; 404 otherwise. Pass `read_only`
    only from routes that change nothing (see sight_of)."""
    case = await get_case(conn, request.match_info["case_id"])
    if case is not None:
        seen = await sight_of(conn, claims, case, read_only=read_only)
        if seen.value >= need.value:
            matter = await get_matter(conn, case.matter_code)
            assert matter is not None
            return case, matter
    raise ApiError(404, "case_not_found", "no such case")


def waiting_hours(case: Case, now: datetime | None = None) -> float | None:
    if case.submitted_at is None or case.state.value != "submitted":
        return None
    return round(((now or datetime.now(UTC)) - case.submitted_at).total_seconds() / 3600, 2)


def case_summary(case: Case, matter: Matter, lang: str) -> dict[str, Any]:
    data = case.as_dict()
    data["matter_name"] = matter.name_en if lang == "en" else matter.name_zh
    data["waiting_hours"] = waiting_hours(case)
    return data


async def case_file(conn: AsyncConnection, case: Case, matter: Matter, lang: str) -> dict[str, Any]:
    found = await materials.list_materials(conn, case.id)
    return {
        "case": case_summary(case, matter, lang),
        "matter": matter.view(lang),
        "parties": [p.as_dict() for p in await parties.list_parties(conn, case.id)],
        "materials": [m.as_dict() for m in found],
        "missing": materials.missing_requirements(matter, found),
        "notices": [n.as_dict() for n in await review.list_notices(conn, case.id)],
        "conflicts": [c.as_dict() for c in await recusal.list_conflicts(conn, case.id)],
    }


def lang_of(request: web.Request) -> str:
    """The language of texts in the answer: ?lang=en, else Chinese."""
    return "en" if request.query.get("lang") == "en" else "zh-CN"


# --- registration --------------------------------------------------------------------------------


async def register_applicant(request: web.Request) -> web.Response:
    platform = request.app[PLATFORM]
    # A taken login answers 409 (people need to know to log in instead), which tells whether a
    # login exists: limited per client address like logins, so nobody can list accounts by it.
    enforce(platform.login_limiter, f"register:{request.remote}", "attempts")
    body = await read_json(request)
    login = take(body, "login", str, max_length=320)
    password = take(body, "password", str, max_length=1024)
    name = take(body, "display_name", str, max_length=100)
    try:
        async with platform.engine.begin() as conn:
            account = await create_account(
                conn, role=Role.APPLICANT, display_name=name, login=login, password=password
            )
    except WeakPassword as exc:
        raise ApiError(400, "weak_password", str(exc), {"field": "password"}) from None
    except AccountError as exc:
        status = 409 if "exists" in str(exc) else 400
        raise ApiError(status, "account_refused", str(exc)) from None
    return web.json_response({"account": account_json(account)}, status=201)


# --- cases -------------------------------------------------------------------------------------


async def _office_for(conn: AsyncConnection, claims: SessionClaims, body: dict[str, Any]) -> int:
    code = take(body, "office", str, required=False, max_length=32)
    if code is None and claims.role == Role.SITE_OFFICER.value and claims.office_id is not None:
        # A service point of the office itself; a consulate names the notary office instead.
        return claims.office_id
    if code is None:
        ids = (await conn.scalars(sa.select(offices.c.id).limit(2))).all()
        if len(ids) == 1:  # one office on this platform: nothing to choose
            return int(ids[0])
        raise ApiError(400, "missing_field", "'office' is required", {"field": "office"})
    found = await conn.scalar(sa.select(offices.c.id).where(offices.c.code == code))
    if found is None:
        raise ApiError(400, "invalid_field", "no such office", {"field": "office"})
    return int(found)


async def _applicant_for(
    conn: AsyncConnection, claims: SessionClaims, body: dict[str, Any]
) -> tuple[str, str]:
    """(account id, name) of the applicant: the caller, or whom a site officer acts for."""
    if claims.role == Role.APPLICANT.value:
        account = await get_account(conn, claims.account_id)
        assert account is not None
        return account.id, account.display_name
    applicant = take(body, "applicant", dict)
    login = take(applicant, "login", str, max_length=320)
    name = take(applicant, "display_name", str, max_length=100)
    try:
        found = await find_by_login(conn, login)
        if found is None:
            # No password: the applicant can use join links now and set a password later.
            found = await create_account(
                conn, role=Role.APPLICANT, display_name=name, login=login, password=None
            )
    except AccountError as exc:
        raise ApiError(400, "invalid_field", str(exc), {"field": "applicant"}) from None
    if found.role is not Role.APPLICANT:
        raise ApiError(409, "not_an_applicant", "that login belongs to a staff account")
    return found.id, found.display_name


async def open_case(request: web.Request) -> web.Response:
    claims = require(request, *APPLICANT_SIDE)
    rate_limit(request, "open_case", claims.account_id)
    body = await read_json(request)
    code = take(body, "matter", str, max_length=64)
    flags = {
        name: take(body, name, bool, required=False, default=False)
        for name in ("fast_lane", "elderly", "disabled_applicant")
    }
    async with request.app[PLATFORM].engine.begin() as conn:
        matter = await get_matter(conn, code)
        if matter is None or not matter.active:
            raise ApiError(400, "invalid_field", "no such matter", {"field": "matter"})
        office_id = await _office_for(conn, claims, body)
        applicant_id, applicant_name = await _applicant_for(conn, claims, body)
        try:
            case = await create_case(
                conn,
                matter=matter,
                office_id=office_id,
                applicant_account_id=applicant_id,
                applicant_name=applicant_name,
                actor_id=claims.account_id,
                actor_role=claims.role,
                **flags,
            )
        except CaseError as exc:
            raise case_error(exc) from None
        if sight(viewer_of(claims), case) is Sight.FILE:
            answer = await case_file(conn, case, matter, lang_of(request))
        else:  # a site officer opening a secret case (a will) does not see its file
            answer = {"case": case_summary(case, matter, lang_of(request))}
    return web.json_response(answer, status=201)


async def list_my_cases(request: web.Request) -> web.Response:
    claims = require(request)
    lang = lang_of(request)
    async with request.app[PLATFORM].engine.connect() as conn:
        found = await list_cases(conn, visible(viewer_of(claims)))
        known: dict[str, Matter] = {}
        for code in {c.matter_code for c in found}:
            matter = await get_matter(conn, code)
            assert matter is not None
            known[code] = matter
    return web.json_response(
        {"cases": [case_summary(c, known[c.matter_code], lang) for c in found]}
    )


async def get_case_view(request: web.Request) -> web.Response:
    claims = require(request)
    async with request.app[PLATFORM].engine.connect() as conn:
        case, matter = await load_case(conn, request, claims, Sight.SUMMARY, read_only=True)
        if await sight_of(conn, claims, case, read_only=True) is Sight.FILE:
            answer = await case_file(conn, case, matter, lang_of(request))
        else:
            answer = {"case": case_summary(case, matter, lang_of(request))}
    return web.json_response(answer)


async def add_party(request: web.Request) -> web.Response:
    claims = require(request, *APPLICANT_SIDE)
    body = await read_json(request)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, _ = await load_case(conn, request, claims)
        try:
            party = await parties.add_party(
                conn,
                case,
                kind=take(body, "kind", str, max_length=16),
                name=take(body, "name", str, max_length=200),
                id_number=take(body, "id_number", str, required=False, max_length=64),
                relationship=take(body, "relationship", str, required=False, max_length=32),
                actor_id=claims.account_id,
                actor_role=claims.role,
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"party": party.as_dict()}, status=201)


async def _read_upload(request: web.Request) -> tuple[str, str, bytes]:
    """(requirement, file name, bytes) from a multipart form, refusing oversize while reading."""
    check_multipart(request)
    reader = await request.multipart()
    requirement: str | None = None
    file_name: str | None = None
    data: bytes | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise ApiError(400, "malformed_upload", "nested multipart is not accepted")
        if part.name == "requirement" and requirement is None:
            raw = await part.read_chunk(200)
            requirement = raw.decode("utf-8", "replace").strip()
        elif part.name == "file" and data is None:
            file_name, data = await read_file_part(part)
        else:
            raise ApiError(400, "malformed_upload", "the form has the fields requirement and file")
    if not requirement or data is None or file_name is None:
        raise ApiError(400, "malformed_upload", "the form needs a requirement and a file")
    return requirement, file_name, data


def _rejected(exc: materials.MaterialRejected) -> ApiError:
    status = 413 if exc.code == "too_large" else 400 if exc.code == "invalid_file_name" else 422
    return ApiError(status, exc.code, exc.message, {"field": "file"})


async def upload_material(request: web.Request) -> web.Response:
    claims = require(request, *APPLICANT_SIDE)
    platform = request.app[PLATFORM]
    async with platform.engine.connect() as conn:  # cheap checks before reading megabytes
        case, matter = await load_case(conn, request, claims)
        if not case.editable:
            raise ApiError(409, "case_locked", "materials can be added only before submission")
    rate_limit(request, "upload", claims.account_id)
    requirement, file_name, data = await _read_upload(request)
    try:
        async with platform.engine.connect() as conn:
            await materials.check_upload_allowed(conn, case, matter, requirement)
        # Decoding an image to prove it whole is CPU work: off the event loop.
        sniffed = await asyncio.to_thread(materials.sniff, data, file_name)
    except materials.MaterialRejected as exc:
        raise _rejected(exc) from None
    except CaseError as exc:
        raise case_error(exc) from None
    await platform.bootstrap_store()
    try:
        stored = await asyncio.to_thread(
            materials.store_upload,
            platform.store,
            platform.settings.materials_bucket,
            case.id,
            requirement,
            data,
            sniffed,
            platform.retention_class(matter.retention_class),
        )
    except ObjectExists:
        raise ApiError(409, "duplicate_material", "this file is already uploaded here") from None
    async with platform.engine.begin() as conn:
        current = await get_case(conn, case.id, for_update=True)
        assert current is not None
        try:
            material = await materials.record_upload(
                conn,
                current,
                matter,
                requirement=requirement,
                file_name=file_name,
                sniffed=sniffed,
                stored=stored,
                actor_id=claims.account_id,
                actor_role=claims.role,
            )
        except CaseError as exc:  # submitted meanwhile: the object stays, unreferenced
            raise case_error(exc) from None
    return web.json_response({"material": material.as_dict()}, status=201)


async def add_commitment(request: web.Request) -> web.Response:
    claims = require(request, *APPLICANT_SIDE)
    body = await read_json(request)
    requirement = take(body, "requirement", str, max_length=64)
    statement = take(body, "statement", str, max_length=materials.MAX_STATEMENT)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, matter = await load_case(conn, request, claims)
        try:
            material = await materials.sign_commitment(
                conn,
                case,
                matter,
                requirement=requirement,
                statement=statement,
                actor_id=claims.account_id,
                actor_role=claims.role,
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"material": material.as_dict()}, status=201)


async def add_shared_data(request: web.Request) -> web.Response:
    claims = require(request, *APPLICANT_SIDE)
    body = await read_json(request)
    requirement = take(body, "requirement", str, max_length=64)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, matter = await load_case(conn, request, claims)
        try:
            material = await materials.request_shared_data(
                conn,
                case,
                matter,
                requirement=requirement,
                actor_id=claims.account_id,
                actor_role=claims.role,
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"material": material.as_dict()}, status=201)


async def material_content(request: web.Request) -> web.Response:
    claims = require(request)
    platform = request.app[PLATFORM]
    async with platform.engine.connect() as conn:
        case, _ = await load_case(conn, request, claims, read_only=True)
        material = await materials.get_material(conn, case.id, request.match_info["material_id"])
    if material is None or material.object_key is None:
        raise ApiError(404, "material_not_found", "no such file")
    return await stored_file(
        platform,
        material.object_key,
        material.version_id,
        content_type=material.content_type,
        file_name=material.file_name or f"material.{material.object_key[-3:]}",
    )


async def submit_case(request: web.Request) -> web.Response:
    claims = require(request, *APPLICANT_SIDE)
    async with request.app[PLATFORM].engine.begin() as conn:
        case, matter = await load_case(conn, request, claims)
        try:
            await review.submit(
                conn, case, matter, actor_id=claims.account_id, actor_role=claims.role
            )
        except CaseError as exc:
            raise case_error(exc) from None
        moved, _ = await load_case(conn, request, claims)
        answer = await case_file(conn, moved, matter, lang_of(request))
    return web.json_response(answer)


async def declare_conflict(request: web.Request) -> web.Response:
    """A party declares a relationship to a notary; a notary declares their own interest."""
    claims = require(request, Role.APPLICANT, Role.SITE_OFFICER, Role.NOTARY)
    body = await read_json(request)
    reason = take(body, "reason", str, max_length=recusal.MAX_REASON)
    async with request.app[PLATFORM].engine.begin() as conn:
        if claims.role == Role.NOTARY.value:
            # A notary may declare about a case of their office they are not (yet) assigned to.
            case = await get_case(conn, request.match_info["case_id"])
            if case is None or case.office_id != claims.office_id:
                raise ApiError(404, "case_not_found", "no such case")
            notary_id, kind, relationship = claims.account_id, "interest", None
        else:
            case, _ = await load_case(conn, request, claims)
            notary_id = take(body, "notary_id", str, max_length=36)
            kind = "relative"
            relationship = take(body, "relationship", str, max_length=32)
        try:
            conflict = await recusal.declare(
                conn,
                case,
                notary_id=notary_id,
                kind=kind,
                relationship=relationship,
                reason=reason,
                actor_id=claims.account_id,
                actor_role=claims.role,
            )
        except CaseError as exc:
            raise case_error(exc) from None
    return web.json_response({"declaration": conflict.as_dict()}, status=201)


async def office_notaries(request: web.Request) -> web.Response:
    """The notaries of an office (public officials: names appear on every certificate)."""
    async with request.app[PLATFORM].engine.connect() as conn:
        rows = await conn.execute(
            sa.select(accounts.c.id, accounts.c.display_name)
            .join(offices, offices.c.id == accounts.c.office_id)
            .where(
                offices.c.code == request.match_info["code"],
                accounts.c.role == Role.NOTARY.value,
                accounts.c.disabled.is_(False),
            )
            .order_by(accounts.c.display_name)
        )
        found = [{"id": r.id, "display_name": r.display_name} for r in rows]
    return web.json_response({"notaries": found})


# --- OpenAPI -----------------------------------------------------------------------------------

CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}
LANG = {"name": "lang", "in": "query", "required": False, "schema": {"enum": ["zh-CN", "en"]}}
CASE_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "case": {"type": "object"},
        "matter": {"type": "object"},
        "parties": {"type": "array"},
        "materials": {"type": "array"},
        "missing": {"type": "array", "items": {"type": "string"}},
        "notices": {"type": "array"},
        "conflicts": {"type": "array"},
    },
}
CASE_ERRORS = {401: "not logged in", 403: "role may not do this", 404: "no such case"}


def declare(api: Api) -> None:
    api.add(
        "POST",
        "/api/applicants",
        register_applicant,
        summary="Register an applicant account (e-mail or phone and password)",
        tags=("cases",),
        responses={
            201: "registered",
            400: "invalid login, name or weak password",
            409: "an account with this login exists",
            429: "too many attempts",
        },
        request_schema={
            "type": "object",
            "required": ["login", "password", "display_name"],
            "properties": {
                "login": {"type": "string", "description": "e-mail address or phone number"},
                "password": {"type": "string", "minLength": 10},
                "display_name": {"type": "string", "maxLength": 100},
            },
        },
        response_schema={"type": "object", "properties": {"account": {"type": "object"}}},
    )
    api.add(
        "GET",
        "/api/offices/{code}/notaries",
        office_notaries,
        summary="The notaries of an office, to declare a relationship with one",
        tags=("cases",),
        responses={200: "the notaries"},
        parameters=(
            {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}},
        ),
        response_schema={"type": "object", "properties": {"notaries": {"type": "array"}}},
    )
    api.add(
        "POST",
        "/api/cases",
        open_case,
        summary="Open a case for a matter (applicant, or a site officer on an applicant's behalf)",
        tags=("cases",),
        security=True,
        responses={
            201: "the new draft case",
            400: "invalid request",
            401: "not logged in",
            403: "role may not apply",
            409: "refused",
            429: "too many new cases",
        },
        parameters=(LANG,),
        request_schema={
            "type": "object",
            "required": ["matter"],
            "properties": {
                "matter": {"type": "string"},
                "office": {"type": "string", "description": "office code (applicants)"},
                "fast_lane": {"type": "boolean", "description": "enterprise fast lane 绿色通道"},
                "elderly": {"type": "boolean"},
                "disabled_applicant": {"type": "boolean"},
                "applicant": {
                    "type": "object",
                    "description": "site officers: whom the case is for",
                    "properties": {"login": {"type": "string"}, "display_name": {"type": "string"}},
                },
            },
        },
        response_schema=CASE_FILE_SCHEMA,
    )
    api.add(
        "GET",
        "/api/cases",
        list_my_cases,
        summary="The cases the caller may see (own, assigned, opened, drawn for a check)",
        tags=("cases",),
        security=True,
        responses={200: "the cases", 401: "not logged in"},
        parameters=(LANG,),
        response_schema={"type": "object", "properties": {"cases": {"type": "array"}}},
    )
    api.add(
        "GET",
        "/api/cases/{case_id}",
        get_case_view,
        summary="A case: its file (parties, materials, notices) or, for an admin, a summary",
        tags=("cases",),
        security=True,
        responses={200: "the case", **CASE_ERRORS},
        parameters=(CASE_ID, LANG),
        response_schema=CASE_FILE_SCHEMA,
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/parties",
        add_party,
        summary="Add an agent, relative (with relationship) or other party",
        tags=("cases",),
        security=True,
        responses={201: "added", 400: "invalid party", **CASE_ERRORS, 409: "case not editable"},
        parameters=(CASE_ID,),
        request_schema={
            "type": "object",
            "required": ["kind", "name"],
            "properties": {
                "kind": {"enum": ["agent", "relative", "other"]},
                "name": {"type": "string", "maxLength": 100},
                "id_number": {"type": "string"},
                "relationship": {"enum": [r.value for r in parties.Relationship]},
            },
        },
        response_schema={"type": "object", "properties": {"party": {"type": "object"}}},
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/materials",
        upload_material,
        summary="Upload a material (multipart: requirement, file): JPEG, PNG or PDF, checked by "
        "content, stored under object lock",
        tags=("cases",),
        security=True,
        responses={
            201: "stored",
            400: "malformed form or file name",
            **CASE_ERRORS,
            409: "case not editable, or the same file uploaded already",
            413: "too large",
            415: "not multipart",
            422: "refused content (type, disguise, bomb, active content)",
            429: "too many uploads",
        },
        parameters=(CASE_ID,),
        response_schema={"type": "object", "properties": {"material": {"type": "object"}}},
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/commitments",
        add_commitment,
        summary="Sign a commitment (告知承诺) instead of uploading a material that allows it",
        tags=("cases",),
        security=True,
        responses={201: "signed", 400: "invalid", **CASE_ERRORS, 409: "not allowed now"},
        parameters=(CASE_ID,),
        request_schema={
            "type": "object",
            "required": ["requirement", "statement"],
            "properties": {"requirement": {"type": "string"}, "statement": {"type": "string"}},
        },
        response_schema={"type": "object", "properties": {"material": {"type": "object"}}},
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/shared-data",
        add_shared_data,
        summary="Consent that the notary checks a material through shared government data",
        tags=("cases",),
        security=True,
        responses={201: "recorded", 400: "invalid", **CASE_ERRORS, 409: "not allowed now"},
        parameters=(CASE_ID,),
        request_schema={
            "type": "object",
            "required": ["requirement"],
            "properties": {"requirement": {"type": "string"}},
        },
        response_schema={"type": "object", "properties": {"material": {"type": "object"}}},
    )
    api.add(
        "GET",
        "/api/cases/{case_id}/materials/{material_id}/content",
        material_content,
        summary="A material's bytes, to open in the browser",
        tags=("cases",),
        security=True,
        responses={200: "the file", **CASE_ERRORS},
        parameters=(
            CASE_ID,
            {"name": "material_id", "in": "path", "required": True, "schema": {"type": "string"}},
        ),
        response_content_type="application/octet-stream",
        response_schema={"type": "string", "format": "binary"},
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/submit",
        submit_case,
        summary="Submit (or resubmit after a notice) for pre-review",
        tags=("cases",),
        security=True,
        responses={200: "submitted", **CASE_ERRORS, 409: "materials missing or notice open"},
        parameters=(CASE_ID, LANG),
        response_schema=CASE_FILE_SCHEMA,
    )
    api.add(
        "POST",
        "/api/cases/{case_id}/declarations",
        declare_conflict,
        summary="Declare a relationship to a notary (party) or an interest (notary)",
        tags=("cases",),
        security=True,
        responses={201: "recorded", 400: "invalid", **CASE_ERRORS},
        parameters=(CASE_ID,),
        request_schema={
            "type": "object",
            "required": ["reason"],
            "properties": {
                "notary_id": {"type": "string", "description": "parties: the notary concerned"},
                "relationship": {"enum": [r.value for r in parties.Relationship]},
                "reason": {"type": "string"},
            },
        },
        response_schema={"type": "object", "properties": {"declaration": {"type": "object"}}},
    )
