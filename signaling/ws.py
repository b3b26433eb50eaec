"""The WebSocket endpoint `/ws`: authenticate with a join token, then talk protocol v1."""

from __future__ import annotations

import contextlib
import logging

from aiohttp import WSCloseCode, WSMsgType, web

from recorder.session import SessionRecorder
from signaling import case_link, protocol
from signaling.appkeys import HUBS, PLATFORM, ROOMS
from signaling.connection import CLOSE_ENDED, Connection
from signaling.hub import SessionHub
from signaling.ice import browser_ice_servers, server_configuration
from signaling.identity_desk import IdentityDesk
from signaling.logs import new_request_id, request_id_var
from signaling.platform import Platform
from signaling.ratelimit import RateLimiter
from signaling.tokens import TokenError

log = logging.getLogger(__name__)

JOIN_TIMEOUT = 10.0
HARD_FRAME_LIMIT = 256 * 1024  # aiohttp closes the socket above this; below it we answer
MESSAGES_PER_SECOND = 20
MESSAGE_BURST = 60
MAX_VIOLATIONS = 200  # a client that keeps hammering after its errors is disconnected


async def websocket(request: web.Request) -> web.WebSocketResponse:
    request_id_var.set(new_request_id(request.headers.get("X-Request-Id")))
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=HARD_FRAME_LIMIT)
    await ws.prepare(request)
    try:
        hub, connection = await _join(request, ws)
    except _Refused as refused:
        await ws.send_json(protocol.error(refused.code, refused.message))
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=refused.code.encode())
        return ws
    try:
        await hub.attach(connection)
        await _serve(hub, connection, ws)
    finally:
        await hub.detach(connection)
        await connection.close()
        if hub.ended:
            await hub.close()
            if hub.sealing is not None:
                request.app[PLATFORM].track_seal(hub.sealing)
            if request.app[HUBS].get(hub.room.id) is hub:
                del request.app[HUBS][hub.room.id]
    return ws


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message


def _check_account(platform: Platform, account_id: str, account_token: str | None) -> None:
    """A link bound to an account (signaling/case_session_api.py) joins only with its session."""
    if account_token is None:
        raise _Refused(
            "account_required", "this link is for the case's applicant: open it from the case page"
        )
    try:
        claims = platform.tokens.verify_session(account_token)
    except TokenError as exc:
        raise _Refused(exc.code, exc.message) from None
    if claims.account_id != account_id:
        raise _Refused("account_mismatch", "this link belongs to another account")


async def _join(request: web.Request, ws: web.WebSocketResponse) -> tuple[SessionHub, Connection]:
    """The first message must be `join` with a valid token, within JOIN_TIMEOUT."""
    try:
        first = await ws.receive(timeout=JOIN_TIMEOUT)
    except TimeoutError:
        raise _Refused("join_timeout", f"send 'join' within {JOIN_TIMEOUT:.0f} s") from None
    if first.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
        raise _Refused("malformed", "expected a 'join' message")
    try:
        message = protocol.parse(first.data)
    except protocol.ProtocolError as exc:
        raise _Refused(exc.code, exc.message) from None
    if message.type != "join":
        raise _Refused("out_of_order", "the first message must be 'join'")
    if message.data.get("v", protocol.VERSION) != protocol.VERSION:
        raise _Refused("unsupported_version", f"this server speaks version {protocol.VERSION}")
    platform = request.app[PLATFORM]
    try:
        claims = platform.tokens.verify_join(message.data["token"])
    except TokenError as exc:
        raise _Refused(exc.code, exc.message) from None
    if claims.account_id is not None:
        _check_account(platform, claims.account_id, message.data.get("account_token"))
    room = request.app[ROOMS].get(claims.room_id)
    if room is None:
        raise _Refused("room_not_found", "this session does not exist (any more)")
    participant = room.participants.get(claims.participant_id)
    if participant is None or participant.role.value != claims.role:
        raise _Refused("token_invalid", "this link does not belong to this session")
    hubs = request.app[HUBS]
    hub = hubs.get(room.id)
    if hub is None or hub.closed:
        settings = platform.settings
        recorder = platform.recorder
        hub = SessionHub(
            room,
            configuration=lambda: server_configuration(settings),
            ice_servers=lambda pid: browser_ice_servers(settings, pid),
            identity=lambda hub: IdentityDesk(
                room.case_ref,
                platform.face_worker,
                platform.templates,
                report=hub.report_identity,
                policy=platform.match_policy,
            ),
            on_record_confirmed=case_link.on_confirmed_by_all(platform.engine, room),
            recorder_factory=None
            if recorder is None
            else lambda room: SessionRecorder(
                recorder,
                room.id,
                room.case_ref,
                room.title,
                platform.retention_class(room.retention_class),
                office_id=room.office_id,
                created_by=room.created_by,
            ),
        )
        hubs[room.id] = hub
    log.info("joined", extra={"room": room.id, "participant": participant.id})
    return hub, Connection(ws, participant.id, token_id=claims.token_id)


async def _serve(hub: SessionHub, connection: Connection, ws: web.WebSocketResponse) -> None:
    limiter = RateLimiter(rate=MESSAGES_PER_SECOND, burst=MESSAGE_BURST, max_keys=1)
    violations = 0
    async for raw in ws:
        if raw.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            break
        if connection.closed:
            break
        if not limiter.allow("c"):
            violations += 1
            if violations > MAX_VIOLATIONS:
                await connection.close(CLOSE_ENDED, "rate limit")
                break
            if violations % 20 == 1:  # answer, but do not amplify a flood
                connection.send(protocol.error("rate_limited", "too many messages; slow down"))
            continue
        try:
            message = protocol.parse(raw.data)
        except protocol.ProtocolError as exc:
            violations += 1
            connection.send(protocol.error(exc.code, exc.message))
            continue
        await hub.handle(connection, message)
        if hub.closed:
            break


async def close_hubs(app: web.Application) -> None:
    """At shutdown: end every session and wait for their recordings to be sealed."""
    hubs = list(app[HUBS].values())
    app[HUBS].clear()
    platform = app[PLATFORM]
    for hub in hubs:
        with contextlib.suppress(Exception):
            await hub.close()
        if hub.sealing is not None:
            platform.track_seal(hub.sealing)
    await platform.wait_for_seals()
