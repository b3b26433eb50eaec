"""REST for a case's history from the journal: who did what, when, and why (read-only)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from notary import journal
from notary.access import Sight
from signaling.appkeys import PLATFORM
from signaling.auth import require
from signaling.cases_api import load_case
from signaling.openapi import Api


async def case_journal(request: web.Request) -> web.Response:
    """Those who see the case's file see its history: the applicant, its notary, a supervisor
    checking it. The journal has no route that writes, edits or deletes."""
    claims = require(request)
    async with request.app[PLATFORM].engine.connect() as conn:
        case, _ = await load_case(conn, request, claims, need=Sight.FILE)
        entries = await journal.entries_for_case(conn, case.id)
    return web.json_response({"entries": [e.as_dict() for e in entries]})


ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "seq": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "action": {"type": "string"},
        "actor_id": {"type": ["string", "null"]},
        "actor_role": {"type": "string"},
        "case_id": {"type": ["string", "null"]},
        "reason": {"type": ["string", "null"]},
        "before": {"type": ["object", "null"]},
        "after": {"type": ["object", "null"]},
        "prev_hash": {"type": "string"},
        "hash": {"type": "string"},
    },
}


def declare(api: Api) -> None:
    api.add(
        "GET",
        "/api/cases/{case_id}/journal",
        case_journal,
        summary="A case's history from the hash-chained journal, oldest first",
        tags=("journal",),
        security=True,
        responses={200: "the entries", 401: "not logged in", 404: "no such case (or not yours)"},
        parameters=(
            {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}},
        ),
        response_schema={
            "type": "object",
            "properties": {"entries": {"type": "array", "items": ENTRY_SCHEMA}},
        },
    )
