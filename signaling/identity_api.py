"""REST for identity: the notary hands in the applicant's ID photo during a live session."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from identity.consent import ConsentError
from identity.id_document import DocumentKind, IntakeRefused
from notary.roles import Role
from signaling.appkeys import HUBS, PLATFORM, ROOMS
from signaling.auth import require
from signaling.errors import ApiError
from signaling.openapi import Api
from signaling.rooms import ParticipantRole, Room
from signaling.tokens import TokenError

MAX_PHOTO_BYTES = 12 * 1024 * 1024  # a phone photo of a passport page


async def _read_bounded(request: web.Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "payload_too_large", f"an ID photo is at most {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _notary_room(request: web.Request) -> Room:
    """The room, for its notary: the staff session of the notary who created it, or the
    notary's own join link for this room (what the console holds; it is good for this room
    only)."""
    room = request.app[ROOMS].get(request.match_info["room_id"])
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token:
        try:
            joined = request.app[PLATFORM].tokens.verify_join(
                token.strip(), room_id=room.id if room else None
            )
        except TokenError:
            joined = None
        if joined is not None:
            if joined.role != ParticipantRole.NOTARY.value:
                raise ApiError(403, "forbidden", "only the notary hands in the ID photo")
            if room is None:
                raise ApiError(404, "room_not_found", "no such session")
            return room
    claims = require(request, Role.NOTARY)
    if room is None or room.created_by != claims.account_id:
        raise ApiError(404, "room_not_found", "no such session")
    return room


async def id_photo(request: web.Request) -> web.Response:
    room = _notary_room(request)
    hub = request.app[HUBS].get(room.id)
    if hub is None or hub.closed or hub.identity is None:
        raise ApiError(409, "session_not_active", "the session is not running")
    kind_name = request.query.get("kind", DocumentKind.PASSPORT.value)
    try:
        kind = DocumentKind(kind_name)
    except ValueError:
        kinds = ", ".join(k.value for k in DocumentKind)
        raise ApiError(400, "invalid_field", f"'kind' is one of {kinds}") from None
    applicant = next(
        (p for p in room.participants.values() if p.role is ParticipantRole.APPLICANT), None
    )
    if applicant is None:
        raise ApiError(409, "no_applicant", "this session has no applicant")
    data = await _read_bounded(request, MAX_PHOTO_BYTES)
    try:
        await hub.identity.id_photo(applicant.id, data, kind)
    except ConsentError as exc:
        raise ApiError(409, "consent_missing", str(exc)) from None
    except IntakeRefused as exc:
        raise ApiError(
            422,
            "id_photo_refused",
            exc.advice_en,
            {"reason": exc.reason.value, "advice_zh": exc.advice_zh},
        ) from None
    summary: dict[str, Any] = hub.identity.face_summary(applicant.id) or {}
    if hub.recorder is not None:
        hub.recorder.event("id_photo", participant=applicant.id, **summary)
    await hub.identify(applicant.id)
    return web.json_response({"participant": applicant.id, "face": summary}, status=201)


def declare(api: Api) -> None:
    api.add(
        "POST",
        "/api/rooms/{room_id}/id-photo",
        id_photo,
        summary="The applicant's ID photo (passport data page or resident ID card), as image "
        "bytes; its face becomes the reference of the live match",
        tags=("identity",),
        security=True,
        responses={
            201: "the face was found and encoded",
            400: "bad kind",
            401: "not logged in",
            403: "not a notary",
            404: "no such session",
            409: "session not running, no applicant, or no consent yet",
            413: "too large",
            422: "no usable face: the reason and advice in both languages",
        },
        parameters=(
            {"name": "room_id", "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "kind",
                "in": "query",
                "required": False,
                "schema": {"enum": [k.value for k in DocumentKind]},
            },
        ),
        response_schema={"type": "object"},
    )
