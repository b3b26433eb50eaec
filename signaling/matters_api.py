"""The public matter catalog: the complete notice (一次性告知) per matter, in zh-CN or English.

Reading is public (no login): people must learn everything before they apply. Editing is for
an admin, journaled in notary.matters.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from aiohttp import web

from notary import matters
from notary.roles import Role
from notary.tables import offices
from signaling.appkeys import PLATFORM
from signaling.auth import require
from signaling.bodies import read_json, take
from signaling.errors import ApiError
from signaling.openapi import Api

log = logging.getLogger(__name__)

LANG_PARAMETER: dict[str, Any] = {
    "name": "lang",
    "in": "query",
    "required": False,
    "schema": {"enum": list(matters.LANGUAGES), "default": "zh-CN"},
}
CODE_PARAMETER: dict[str, Any] = {
    "name": "code",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
}
TEXTS = {"type": "array", "items": {"type": "string"}}
MATTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "name", "fee", "materials", "conditions", "steps"],
    "properties": {
        "code": {"type": "string"},
        "name": {"type": "string"},
        "category": {"type": "object"},
        "fee": {
            "type": "object",
            "properties": {"base_cents": {"type": "integer"}, "currency": {"const": "CNY"}},
        },
        "expected_days": {"type": "integer"},
        "remote_allowed": {"type": "boolean"},
        "secret": {
            "type": "boolean",
            "description": "the file is seen only by notary and applicant",
        },
        "retention_class": {"type": "string"},
        "materials": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "name": {"type": "string"},
                    "mode": {"enum": [m.value for m in matters.MaterialMode]},
                    "optional": {"type": "boolean"},
                },
            },
        },
        "conditions": TEXTS,
        "steps": TEXTS,
        "revision": {"type": "integer"},
    },
}


def _lang(request: web.Request) -> str:
    lang = request.query.get("lang", "zh-CN")
    if lang not in matters.LANGUAGES:
        raise ApiError(
            400,
            "invalid_parameter",
            f"lang is one of {', '.join(matters.LANGUAGES)}",
            {"field": "lang"},
        )
    return lang


async def catalog(app: web.Application) -> AsyncIterator[None]:
    """At start-up, after the migrations: add the data file's matters the database lacks."""
    platform = app[PLATFORM]
    classes = [c.name for c in platform.settings.retention_classes]
    catalog = matters.load_catalog(classes)
    async with platform.engine.begin() as conn:
        added = await matters.seed(conn, catalog)
    if added:
        log.info("matter catalog loaded", extra={"added": len(added)})
    yield


async def list_matters(request: web.Request) -> web.Response:
    lang = _lang(request)
    async with request.app[PLATFORM].engine.connect() as conn:
        found = await matters.list_matters(conn)
    return web.json_response({"lang": lang, "matters": [m.view(lang) for m in found]})


async def get_matter(request: web.Request) -> web.Response:
    lang = _lang(request)
    async with request.app[PLATFORM].engine.connect() as conn:
        matter = await matters.get_matter(conn, request.match_info["code"])
    if matter is None or not matter.active:
        raise ApiError(404, "matter_not_found", "no such matter")
    return web.json_response({"lang": lang, "matter": matter.view(lang)})


async def update_matter(request: web.Request) -> web.Response:
    claims = require(request, Role.ADMIN)
    body = await read_json(request)
    reason = take(body, "reason", str, max_length=500).strip()
    changes = take(body, "changes", dict)
    if not reason:
        raise ApiError(400, "invalid_field", "'reason' must not be blank", {"field": "reason"})
    async with request.app[PLATFORM].engine.begin() as conn:
        try:
            matter = await matters.update(
                conn,
                request.match_info["code"],
                changes,
                actor_id=claims.account_id,
                actor_role=claims.role,
                reason=reason,
            )
        except LookupError:
            raise ApiError(404, "matter_not_found", "no such matter") from None
        except matters.CatalogError as exc:
            raise ApiError(400, "invalid_matter", str(exc)) from None
    return web.json_response({"matter": matter.view("zh-CN"), "matter_en": matter.view("en")})


async def list_offices(request: web.Request) -> web.Response:
    async with request.app[PLATFORM].engine.connect() as conn:
        rows = await conn.execute(sa.select(offices).order_by(offices.c.code))
        found = [
            {
                "code": r.code,
                "name_zh": r.name_zh,
                "name_en": r.name_en,
                "timezone": r.timezone,
            }
            for r in rows
        ]
    return web.json_response({"offices": found})


def declare(api: Api) -> None:
    api.add(
        "GET",
        "/api/matters",
        list_matters,
        summary="The matter catalog: every matter's complete notice (一次性告知), public",
        tags=("matters",),
        responses={200: "the catalog", 400: "unknown language"},
        parameters=(LANG_PARAMETER,),
        response_schema={
            "type": "object",
            "properties": {
                "lang": {"type": "string"},
                "matters": {"type": "array", "items": MATTER_SCHEMA},
            },
        },
    )
    api.add(
        "GET",
        "/api/matters/{code}",
        get_matter,
        summary="One matter's complete notice: materials, conditions, steps, time and fee",
        tags=("matters",),
        responses={200: "the notice", 400: "unknown language", 404: "no such matter"},
        parameters=(CODE_PARAMETER, LANG_PARAMETER),
        response_schema={
            "type": "object",
            "properties": {"lang": {"type": "string"}, "matter": MATTER_SCHEMA},
        },
    )
    api.add(
        "PATCH",
        "/api/matters/{code}",
        update_matter,
        summary="Edit a matter (admin): fee, time, remote, materials, conditions; journaled",
        tags=("matters",),
        security=True,
        responses={
            200: "updated",
            400: "invalid change",
            401: "not logged in",
            403: "not an admin",
            404: "no such matter",
        },
        parameters=(CODE_PARAMETER,),
        request_schema={
            "type": "object",
            "required": ["changes", "reason"],
            "properties": {
                "reason": {"type": "string", "maxLength": 500},
                "changes": {
                    "type": "object",
                    "properties": {
                        "base_fee_cents": {"type": "integer", "minimum": 0},
                        "expected_days": {"type": "integer", "minimum": 0},
                        "remote_allowed": {"type": "boolean"},
                        "active": {"type": "boolean"},
                        "materials": {"type": "array"},
                        "conditions": {"type": "array"},
                    },
                },
            },
        },
        response_schema={"type": "object", "properties": {"matter": MATTER_SCHEMA}},
    )
    api.add(
        "GET",
        "/api/offices",
        list_offices,
        summary="The notary offices on this platform (to choose where to apply), public",
        tags=("matters",),
        responses={200: "the offices"},
        response_schema={"type": "object", "properties": {"offices": {"type": "array"}}},
    )
