"""REST API for video sessions: a notary creates a room and gets one join link per participant."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from aiohttp import web

from notary.roles import Role
from signaling.appkeys import PLATFORM, ROOMS
from signaling.auth import require
from signaling.bodies import read_json, take
from signaling.errors import ApiError
from signaling.openapi import Api
from signaling.rooms import MAX_PARTICIPANTS, ParticipantRole, Room, RoomError

DEFAULT_LINK_TTL_MINUTES = 24 * 60
MAX_LINK_TTL_MINUTES = 7 * 24 * 60
GUEST_ROLES = (ParticipantRole.APPLICANT, ParticipantRole.SITE_OFFICER, ParticipantRole.OBSERVER)


def _room_for_caller(request: web.Request) -> Room:
    claims = require(request, Role.NOTARY)
    room = request.app[ROOMS].get(request.match_info["room_id"])
    # Another notary's room answers like a missing one: ids are not an oracle.
    if room is None or room.created_by != claims.account_id:
        raise ApiError(404, "room_not_found", "no such session")
    return room


def _scheduled_at(body: dict[str, Any]) -> float:
    raw = take(body, "scheduled_at", str, required=False, max_length=40)
    if raw is None:
        return time.time()
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            400,
            "invalid_field",
            "'scheduled_at' must be an ISO 8601 time",
            {"field": "scheduled_at"},
        ) from None
    if moment.tzinfo is None:
        raise ApiError(
            400, "invalid_field", "'scheduled_at' needs a UTC offset", {"field": "scheduled_at"}
        )
    return moment.timestamp()


def join_link(
    request: web.Request,
    room: Room,
    participant_id: str,
    ttl: int,
    account_id: str | None = None,
) -> dict[str, Any]:
    """A participant's signed link; `account_id`: only that account may use it."""
    platform = request.app[PLATFORM]
    participant = room.participant(participant_id)
    token = platform.tokens.issue_join(
        room.id, participant.id, participant.role.value, participant.name, ttl, account_id
    )
    page = "console.html" if participant.role is ParticipantRole.NOTARY else "session.html"
    return {
        "participant_id": participant.id,
        "role": participant.role.value,
        "name": participant.name,
        # In the fragment: browsers never send it to a server, so no access log holds it.
        "url": f"{platform.settings.public_base_url}/static/{page}#token={token}",
        "token": token,
        "expires_at": int(time.time()) + ttl,
    }


async def create_room(request: web.Request) -> web.Response:
    claims = require(request, Role.NOTARY)
    body = await read_json(request)
    title = take(body, "title", str, max_length=200).strip()
    case_ref = take(body, "case_ref", str, max_length=64).strip()
    notary_name = take(body, "notary_name", str, max_length=100, required=False) or "公证员"
    ttl_minutes = take(
        body, "link_ttl_minutes", int, required=False, default=DEFAULT_LINK_TTL_MINUTES
    )
    if not 1 <= ttl_minutes <= MAX_LINK_TTL_MINUTES:
        raise ApiError(
            400,
            "invalid_field",
            f"'link_ttl_minutes' must be between 1 and {MAX_LINK_TTL_MINUTES}",
            {"field": "link_ttl_minutes"},
        )
    guests = take(body, "participants", list, max_length=MAX_PARTICIPANTS - 1)
    classes = request.app[PLATFORM].settings.retention_classes
    default_class = "long" if any(c.name == "long" for c in classes) else classes[0].name
    retention = take(body, "retention_class", str, required=False, max_length=32) or default_class
    if not any(c.name == retention for c in classes):
        raise ApiError(
            400,
            "invalid_field",
            f"'retention_class' is one of {', '.join(c.name for c in classes)}",
            {"field": "retention_class"},
        )
    if not title or not case_ref:
        raise ApiError(400, "invalid_field", "'title' and 'case_ref' must not be blank")
    invited: list[tuple[ParticipantRole, str]] = []
    for index, guest in enumerate(guests):
        if not isinstance(guest, dict):
            raise ApiError(400, "invalid_field", f"participants[{index}] must be an object")
        role_name = take(guest, "role", str, max_length=20)
        name = take(guest, "name", str, max_length=100).strip()
        role = next((r for r in GUEST_ROLES if r.value == role_name), None)
        if role is None or not name:
            raise ApiError(
                400,
                "invalid_field",
                f"participants[{index}]: role is one of "
                f"{', '.join(r.value for r in GUEST_ROLES)} and name is not blank",
            )
        invited.append((role, name))
    try:
        room = request.app[ROOMS].create(
            title=title,
            case_ref=case_ref,
            office_id=claims.office_id,
            created_by=claims.account_id,
            scheduled_at=_scheduled_at(body),
            grace_seconds=request.app[PLATFORM].settings.reconnect_grace_seconds,
            retention_class=retention,
        )
        notary = room.invite(ParticipantRole.NOTARY, notary_name.strip() or "公证员")
        ids = [notary.id] + [room.invite(role, name).id for role, name in invited]
    except RoomError as exc:
        raise ApiError(409, exc.code, exc.message) from None
    ttl = ttl_minutes * 60
    return web.json_response(
        {
            "room": room.snapshot()["room"],
            "links": [join_link(request, room, pid, ttl) for pid in ids],
        },
        status=201,
    )


async def get_room(request: web.Request) -> web.Response:
    room = _room_for_caller(request)
    return web.json_response({"room": room.snapshot()["room"]})


ROOM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "state": {"enum": ["scheduled", "live", "ended"]},
        "participants": {"type": "array", "items": {"type": "object"}},
    },
}


def declare(api: Api) -> None:
    api.add(
        "POST",
        "/api/rooms",
        create_room,
        summary="Create a video session for an interview; one signed join link per participant",
        tags=("sessions",),
        security=True,
        responses={
            201: "created, with join links",
            400: "invalid request",
            401: "not logged in",
            403: "not a notary",
            409: "too many sessions on this node",
        },
        request_schema={
            "type": "object",
            "required": ["title", "case_ref", "participants"],
            "properties": {
                "title": {"type": "string", "maxLength": 200},
                "case_ref": {"type": "string", "maxLength": 64},
                "notary_name": {"type": "string", "maxLength": 100},
                "scheduled_at": {"type": "string", "format": "date-time"},
                "link_ttl_minutes": {"type": "integer", "minimum": 1},
                "retention_class": {
                    "type": "string",
                    "description": "how long the recording is kept (a configured class)",
                },
                "participants": {
                    "type": "array",
                    "maxItems": MAX_PARTICIPANTS - 1,
                    "items": {
                        "type": "object",
                        "required": ["role", "name"],
                        "properties": {
                            "role": {"enum": [r.value for r in GUEST_ROLES]},
                            "name": {"type": "string"},
                        },
                    },
                },
            },
        },
        response_schema={
            "type": "object",
            "properties": {"room": ROOM_SCHEMA, "links": {"type": "array"}},
        },
    )
    api.add(
        "GET",
        "/api/rooms/{room_id}",
        get_room,
        summary="A session's state: participants, lobby, presence",
        tags=("sessions",),
        security=True,
        responses={
            200: "the session",
            401: "not logged in",
            403: "not a notary",
            404: "no such session",
        },
        parameters=(
            {"name": "room_id", "in": "path", "required": True, "schema": {"type": "string"}},
        ),
        response_schema={"type": "object", "properties": {"room": ROOM_SCHEMA}},
    )
