"""REST for identity: the applicant's ID photo during a live session, and the face found on it.

The photo comes from the notary (an upload), or from the applicant's or the site officer's
camera when the notary asked that participant for it (`id_capture_request`, one photo within
two minutes: docs/protocol.md). The crop is biometric data: the room's notary only, never
cached, gone with the session's template."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from identity.consent import ConsentError
from identity.id_document import DocumentKind, IntakeRefused
from identity.mrz import MrzError, parse_td3
from identity.resident_id import ResidentIdError, parse_resident_id
from notary.roles import Role
from signaling.appkeys import HUBS, PLATFORM, ROOMS
from signaling.auth import require
from signaling.bodies import read_json, take
from signaling.errors import ApiError
from signaling.openapi import Api
from signaling.rooms import ParticipantRole, Room
from signaling.tokens import JoinClaims, TokenError

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


def _caller(request: web.Request) -> tuple[Room, JoinClaims | None]:
    """The room and, for a join link of this room, its claims; else the staff session of the
    notary who created the room (claims None)."""
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
            if room is None:
                raise ApiError(404, "room_not_found", "no such session")
            return room, joined
    claims = require(request, Role.NOTARY)
    if room is None or room.created_by != claims.account_id:
        raise ApiError(404, "room_not_found", "no such session")
    return room, None


def _notary_room(request: web.Request) -> Room:
    """The room, for its notary: the staff session of the notary who created it, or the
    notary's own join link for this room (what the console holds; good for this room only)."""
    room, joined = _caller(request)
    if joined is not None and joined.role != ParticipantRole.NOTARY.value:
        raise ApiError(403, "forbidden", "only the room's notary")
    return room


CAPTURERS = (ParticipantRole.APPLICANT.value, ParticipantRole.SITE_OFFICER.value)


async def id_photo(request: web.Request) -> web.Response:
    room, joined = _caller(request)
    by = joined.participant_id if joined is not None else None
    source = "upload"
    if joined is not None and joined.role not in (ParticipantRole.NOTARY.value, *CAPTURERS):
        raise ApiError(403, "forbidden", "only the notary hands in the ID photo")
    hub = request.app[HUBS].get(room.id)
    if hub is None or hub.closed or hub.identity is None:
        raise ApiError(409, "session_not_active", "the session is not running")
    kind_name = request.query.get("kind", DocumentKind.PASSPORT.value)
    if joined is not None and joined.role in CAPTURERS:
        # A camera still, asked for by the notary: of the kind the notary chose, until one
        # is accepted (a refused photo may be taken again) or the request expires.
        asked = hub.capture_request(joined.participant_id)
        if asked is None:
            raise ApiError(
                403, "forbidden", "the notary has not asked you for a photo of the ID document"
            )
        kind_name, source = asked, "camera"
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
        details = {"reason": exc.reason.value, "advice_zh": exc.advice_zh}
        hub.report_id_photo(applicant.id, by=by, source=source, refused=exc.advice_en, **details)
        raise ApiError(422, "id_photo_refused", exc.advice_en, details) from None
    summary: dict[str, Any] = hub.identity.face_summary(applicant.id) or {}
    if hub.recorder is not None:
        # `face`, not **summary: the summary's "kind" would collide with event()'s own.
        hub.recorder.event("id_photo", participant=applicant.id, source=source, by=by, face=summary)
    hub.report_id_photo(applicant.id, by=by, source=source, face=summary)
    if by is not None:
        hub.capture_done(by)
    await hub.identify(applicant.id, restart=True)  # a second photo replaces the first
    return web.json_response({"participant": applicant.id, "face": summary}, status=201)


async def id_face(request: web.Request) -> web.Response:
    room = _notary_room(request)
    hub = request.app[HUBS].get(room.id)
    applicant = next(
        (p for p in room.participants.values() if p.role is ParticipantRole.APPLICANT), None
    )
    crop = None
    if hub is not None and not hub.closed and hub.identity is not None and applicant is not None:
        crop = hub.identity.face_crop(applicant.id)
    if crop is None:
        raise ApiError(404, "no_id_face", "no ID face is held for this session")
    return web.Response(
        body=crop,
        content_type="image/jpeg",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


NUMBER_KINDS = ("passport_mrz", "cn_resident_id")


async def id_number(request: web.Request) -> web.Response:
    """Check digits of the passport MRZ or the resident ID number the notary typed in.

    They catch typing and reading errors, not forgeries (anyone can compute a check digit):
    the answer says so. The evidence chain records that a check was made and its outcome,
    not the number.
    """
    room = _notary_room(request)
    body = await read_json(request)
    kind = take(body, "kind", str, max_length=20)
    if kind not in NUMBER_KINDS:
        raise ApiError(400, "invalid_field", f"'kind' is one of {', '.join(NUMBER_KINDS)}")
    text = take(body, "text", str, max_length=200)
    note = "check digits catch typing and reading errors, not forgeries"
    fields: dict[str, Any]
    try:
        if kind == "passport_mrz":
            mrz = parse_td3(text)
            fields = {
                "document_number": mrz.document_number,
                "issuing_state": mrz.issuing_state,
                "nationality": mrz.nationality,
                "surname": mrz.surname,
                "given_names": mrz.given_names,
                "birth_date": mrz.birth_date.isoformat(),
                "sex": mrz.sex,
                "expiry_date": mrz.expiry_date.isoformat(),
            }
        else:
            resident = parse_resident_id(text)
            fields = {
                "number": resident.number,
                "region_code": resident.region_code,
                "birth_date": resident.birth_date.isoformat(),
                "sex": resident.sex,
            }
    except (MrzError, ResidentIdError) as exc:
        part = exc.field if isinstance(exc, MrzError) else exc.reason.value
        _chain_number_check(request, room, kind, valid=False, failed=part)
        raise ApiError(
            422, "id_number_invalid", exc.message, {"field": part, "note": note}
        ) from None
    _chain_number_check(request, room, kind, valid=True, failed=None)
    return web.json_response({"kind": kind, "valid": True, "fields": fields, "note": note})


def _chain_number_check(
    request: web.Request, room: Room, kind: str, *, valid: bool, failed: str | None
) -> None:
    hub = request.app[HUBS].get(room.id)
    if hub is not None and not hub.closed and hub.recorder is not None:
        hub.recorder.event("id_number_checked", document=kind, valid=valid, failed_field=failed)


def declare(api: Api) -> None:
    api.add(
        "POST",
        "/api/rooms/{room_id}/id-photo",
        id_photo,
        summary="The applicant's ID photo (passport data page or resident ID card), as image "
        "bytes; its face becomes the reference of the live match. The room's notary uploads "
        "it; the applicant or the site officer sends a camera still when the notary asked "
        "them to (one photo, the kind the notary chose)",
        tags=("identity",),
        security=True,
        responses={
            201: "the face was found and encoded",
            400: "bad kind",
            401: "not logged in",
            403: "not the room's notary, nor a participant the notary asked for a photo",
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
    api.add(
        "POST",
        "/api/rooms/{room_id}/id-number",
        id_number,
        summary="Check the check digits of a passport MRZ (TD3, two lines) or a Chinese resident "
        "ID number the notary typed in; they catch typos and reading errors, not forgeries",
        tags=("identity",),
        security=True,
        responses={
            200: "the check digits agree: the fields read from the text",
            400: "bad kind or text",
            401: "not logged in",
            403: "not the room's notary",
            404: "no such session",
            422: "a check digit, a date or the format is wrong: the field named",
        },
        parameters=(
            {"name": "room_id", "in": "path", "required": True, "schema": {"type": "string"}},
        ),
        request_schema={
            "type": "object",
            "required": ["kind", "text"],
            "properties": {
                "kind": {"enum": list(NUMBER_KINDS)},
                "text": {"type": "string", "maxLength": 200},
            },
        },
        response_schema={"type": "object"},
    )
    api.add(
        "GET",
        "/api/rooms/{room_id}/id-face",
        id_face,
        summary="The face found on the applicant's ID photo (JPEG crop), for the room's notary "
        "to see beside the live video; held only while the session's template is",
        tags=("identity",),
        security=True,
        responses={
            200: "the crop (image/jpeg, not cacheable)",
            401: "not logged in",
            403: "not the room's notary",
            404: "no such session, or no ID face held (none yet, consent withdrawn, ended)",
        },
        parameters=(
            {"name": "room_id", "in": "path", "required": True, "schema": {"type": "string"}},
        ),
    )
