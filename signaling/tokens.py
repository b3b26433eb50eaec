"""Signed, short-lived tokens: staff sessions and per-participant join links.

HMAC-SHA256 JWTs with the algorithm pinned on verification (no `alg: none`, no key confusion),
an audience per token kind so a join token is never accepted as a session and vice versa, and an
expiry checked with a small leeway for clock skew.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"
ISSUER = "notarylink"
SESSION_AUDIENCE = "notarylink:session"
JOIN_AUDIENCE = "notarylink:join"
MEDIA_AUDIENCE = "notarylink:media"
LEEWAY_SECONDS = 30
MAX_TOKEN_BYTES = 4096


class TokenError(Exception):
    """`code` is what clients see: token_expired, token_invalid, wrong_room."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SessionClaims:
    account_id: str
    role: str
    office_id: int | None
    expires_at: int


@dataclass(frozen=True)
class MediaClaims:
    account_id: str
    session_id: str
    participant_id: str
    expires_at: int


@dataclass(frozen=True)
class JoinClaims:
    room_id: str
    participant_id: str
    role: str
    name: str
    expires_at: int
    token_id: str
    # Set on a link issued to a logged-in account (signaling/case_session_api.py): only that
    # account, proving itself when it joins, may use it.
    account_id: str | None = None


class TokenSigner:
    def __init__(self, secret: str) -> None:
        if len(secret.encode()) < 32:
            raise ValueError("the token secret needs at least 32 bytes")
        self._key = secret.encode()

    def _encode(self, audience: str, subject: str, ttl: int, claims: dict[str, Any]) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_urlsafe(12),
            **claims,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM)

    def _decode(self, token: str, audience: str, required: list[str]) -> dict[str, Any]:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
            raise TokenError("token_invalid", "the token is malformed")
        try:
            return jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "sub", "aud", "iss", "jti", *required]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token_expired", "the link or session has expired") from None
        except jwt.PyJWTError:
            raise TokenError("token_invalid", "the token is not valid") from None

    # --- staff and applicant sessions (REST) ---------------------------------------------------

    def issue_session(self, account_id: str, role: str, office_id: int | None, ttl: int) -> str:
        return self._encode(SESSION_AUDIENCE, account_id, ttl, {"role": role, "office": office_id})

    def verify_session(self, token: str) -> SessionClaims:
        claims = self._decode(token, SESSION_AUDIENCE, ["role"])
        return SessionClaims(
            account_id=str(claims["sub"]),
            role=str(claims["role"]),
            office_id=claims.get("office"),
            expires_at=int(claims["exp"]),
        )

    # --- join links (one per participant of one room) -----------------------------------------

    def issue_join(
        self,
        room_id: str,
        participant_id: str,
        role: str,
        name: str,
        ttl: int,
        account_id: str | None = None,
    ) -> str:
        claims = {"room": room_id, "role": role, "name": name}
        if account_id is not None:
            claims["acct"] = account_id
        return self._encode(JOIN_AUDIENCE, participant_id, ttl, claims)

    def verify_join(self, token: str, room_id: str | None = None) -> JoinClaims:
        claims = self._decode(token, JOIN_AUDIENCE, ["room", "role"])
        if room_id is not None and claims["room"] != room_id:
            raise TokenError("wrong_room", "this link belongs to another session")
        return JoinClaims(
            room_id=str(claims["room"]),
            participant_id=str(claims["sub"]),
            role=str(claims["role"]),
            name=str(claims.get("name", "")),
            expires_at=int(claims["exp"]),
            token_id=str(claims["jti"]),
            account_id=str(claims["acct"]) if "acct" in claims else None,
        )

    # --- media links (one recorded participant's playback, for a <video src>) ------------------

    def issue_media(self, account_id: str, session_id: str, participant_id: str, ttl: int) -> str:
        """A short-lived token for one participant's playback file of one recorded session:
        a video element cannot send an Authorization header, so it travels in the query."""
        return self._encode(
            MEDIA_AUDIENCE, account_id, ttl, {"rec": session_id, "part": participant_id}
        )

    def verify_media(self, token: str, session_id: str, participant_id: str) -> MediaClaims:
        claims = self._decode(token, MEDIA_AUDIENCE, ["rec", "part"])
        if claims["rec"] != session_id or claims["part"] != participant_id:
            raise TokenError("token_invalid", "this link belongs to another recording")
        return MediaClaims(
            account_id=str(claims["sub"]),
            session_id=str(claims["rec"]),
            participant_id=str(claims["part"]),
            expires_at=int(claims["exp"]),
        )
