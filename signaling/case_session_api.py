"""The case's applicant joins its video session with their account, not with a link sent to them.

A notary opens a session for a case (`POST /api/rooms` with the case's id as `case_ref`) and may
send the join links out; an applicant who applied online has an account, and a link travelling
by message can be forwarded to anyone. Here the logged-in applicant of the case asks for their
own seat's link (short-lived) in the session the case's assigned notary opened. The link is
bound to the account: joining with it also needs that account's own session token
(signaling/ws.py), so a forwarded link puts nobody else in the seat. The links the notary was
given still work (consulate cases, applicants without an account).
"""

from __future__ import annotations

from aiohttp import web

from notary.cases import get_case
from notary.roles import Role
from signaling.appkeys import PLATFORM, ROOMS
from signaling.auth import require
from signaling.errors import ApiError
from signaling.openapi import Api
from signaling.rooms import ParticipantRole, SessionState
from signaling.rooms_api import join_link

LINK_TTL_S = 15 * 60  # enough to open the page; asked again for a later session


async def session_link(request: web.Request) -> web.Response:
    claims = require(request, Role.APPLICANT)
    case_id = request.match_info["case_id"]
    async with request.app[PLATFORM].engine.connect() as conn:
        case = await get_case(conn, case_id) if len(case_id) <= 64 else None
    # Someone else's case answers like a missing one: ids are not an oracle.
    if case is None or case.applicant_account_id != claims.account_id:
        raise ApiError(404, "case_not_found", "no such case")
    rooms = [
        room
        for room in request.app[ROOMS].for_case(case.id)
        if room.created_by == case.assigned_notary_id and room.state is not SessionState.ENDED
    ]
    if not rooms:
        raise ApiError(
            404, "no_session", "the notary has not opened the video session for this case yet"
        )
    room = rooms[0]
    seat = next(
        (p for p in room.participants.values() if p.role is ParticipantRole.APPLICANT), None
    )
    if seat is None:
        raise ApiError(409, "no_applicant_seat", "this session has no seat for the applicant")
    link = join_link(request, room, seat.id, LINK_TTL_S, account_id=claims.account_id)
    return web.json_response({"link": link})


def declare(api: Api) -> None:
    api.add(
        "POST",
        "/api/cases/{case_id}/session-link",
        session_link,
        summary="The case's applicant: a short-lived join link to the video session the case's "
        "notary opened, for their own seat",
        tags=("sessions",),
        security=True,
        responses={
            200: "the link",
            401: "not logged in",
            403: "not an applicant",
            404: "no such case, or no session open for it",
            409: "the session has no applicant seat",
        },
        parameters=(
            {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}},
        ),
    )
