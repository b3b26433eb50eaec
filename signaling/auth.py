"""Logging in, and who may call what: bearer session tokens checked per route, by role."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from notary.accounts import Account, authenticate
from notary.roles import Role
from signaling.appkeys import PLATFORM
from signaling.bodies import read_json, take
from signaling.errors import ApiError
from signaling.http_limits import enforce
from signaling.openapi import Api
from signaling.tokens import SessionClaims, TokenError

SESSION_TTL_SECONDS = 2 * 3600


def account_json(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "role": account.role.value,
        "display_name": account.display_name,
        "office_id": account.office_id,
    }


async def login(request: web.Request) -> web.Response:
    platform = request.app[PLATFORM]
    body = await read_json(request)
    login_name = take(body, "login", str, max_length=320)
    password = take(body, "password", str, max_length=1024)
    # Two limits: per client address (spraying many logins) and per login (guessing one).
    for key in (f"ip:{request.remote}", f"login:{login_name.strip().lower()}"):
        enforce(platform.login_limiter, key, "attempts")
    async with platform.engine.begin() as conn:
        account = await authenticate(conn, login_name, password)
    if account is None:
        raise ApiError(401, "invalid_credentials", "the login or the password is wrong")
    token = platform.tokens.issue_session(
        account.id, account.role.value, account.office_id, SESSION_TTL_SECONDS
    )
    return web.json_response(
        {
            "token": token,
            "expires_at": int(time.time()) + SESSION_TTL_SECONDS,
            "account": account_json(account),
        }
    )


def require(request: web.Request, *roles: Role) -> SessionClaims:
    """The caller's session when it holds one of `roles`; 401 or 403 otherwise."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "unauthorized", "log in first (Authorization: Bearer <token>)")
    try:
        claims = request.app[PLATFORM].tokens.verify_session(token.strip())
    except TokenError as exc:
        raise ApiError(401, exc.code, exc.message) from None
    if roles and claims.role not in {r.value for r in roles}:
        raise ApiError(403, "forbidden", "your role may not do this")
    return claims


LOGIN_SCHEMA = {
    "type": "object",
    "required": ["login", "password"],
    "properties": {
        "login": {"type": "string", "description": "e-mail address or phone number"},
        "password": {"type": "string"},
    },
}


def declare(api: Api) -> None:
    api.add(
        "POST",
        "/api/auth/login",
        login,
        summary="Log in with e-mail or phone and password; returns a short-lived bearer token",
        tags=("auth",),
        responses={
            200: "logged in",
            400: "malformed body",
            401: "wrong login or password",
            429: "too many attempts",
        },
        request_schema=LOGIN_SCHEMA,
        response_schema={
            "type": "object",
            "required": ["token", "expires_at", "account"],
            "properties": {
                "token": {"type": "string"},
                "expires_at": {"type": "integer"},
                "account": {"type": "object"},
            },
        },
    )
