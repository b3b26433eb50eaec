"""ICE servers for browsers and for the server's own peers, with short-lived TURN credentials.

TURN uses coturn's shared-secret scheme (`use-auth-secret`): the username is the expiry time and
a label, the password an HMAC of it. A leaked credential dies within the hour; no TURN password
is ever stored or handed out for longer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from aiortc import RTCConfiguration, RTCIceServer

from signaling.settings import Settings

TURN_CREDENTIAL_TTL = 3600


def turn_credentials(secret: str, label: str, now: float | None = None) -> tuple[str, str]:
    expires = int((now if now is not None else time.time()) + TURN_CREDENTIAL_TTL)
    username = f"{expires}:{label}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def browser_ice_servers(settings: Settings, label: str) -> list[dict[str, Any]]:
    """The `iceServers` list for RTCPeerConnection in the browser (JSON-ready)."""
    servers: list[dict[str, Any]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_urls and settings.turn_secret is not None:
        username, credential = turn_credentials(settings.turn_secret.value, label)
        servers.append(
            {"urls": list(settings.turn_urls), "username": username, "credential": credential}
        )
    return servers


def server_configuration(settings: Settings) -> RTCConfiguration:
    """The server's peers: the same servers, never aiortc's default public STUN server."""
    servers = [
        RTCIceServer(
            urls=entry["urls"], username=entry.get("username"), credential=entry.get("credential")
        )
        for entry in browser_ice_servers(settings, "server")
    ]
    return RTCConfiguration(iceServers=servers)
