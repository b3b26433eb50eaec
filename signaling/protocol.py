"""The WebSocket protocol, version 1: message shapes and their validation (docs/protocol.md).

Every client message is one JSON object with a `type`. Anything malformed, oversized, unknown
or of the wrong shape becomes a ProtocolError that the connection answers with an `error`
message; the connection and the room go on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024  # an SDP offer with four m-lines is ~10 KB
MAX_SDP_BYTES = 48 * 1024

# type -> {field: (python type, required)}
CLIENT_MESSAGES: dict[str, dict[str, tuple[type, bool]]] = {
    "join": {"token": (str, True), "v": (int, False), "account_token": (str, False)},
    "offer": {"sdp": (str, True)},
    "candidate": {"candidate": (str, True), "sdpMid": (str, False), "sdpMLineIndex": (int, False)},
    "mute": {"audio": (bool, False), "video": (bool, False), "participant": (str, False)},
    "consent": {"recording": (bool, True), "face": (bool, True), "text_version": (str, False)},
    "identity_decision": {"decision": (str, True), "note": (str, False)},
    "liveness_start": {},
    "id_capture_request": {"participant": (str, False), "kind": (str, False)},
    "record_entry": {"question": (str, True), "answer": (str, False), "entry": (int, False)},
    "record_delivery": {"method": (str, True)},
    "record_paper_original": {"mission": (str, True), "expected_posting": (str, True)},
    "record_close": {},
    "record_reopen": {},
    "record_confirm": {
        "text_sha256": (str, True),
        "signature": (str, True),
        "passport_checked": (bool, False),
        "note": (str, False),
    },
    "admit": {"participant": (str, True)},
    "remove": {"participant": (str, True)},
    "start": {},
    "end": {},
    "leave": {},
    "ping": {},
}


class ProtocolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Message:
    type: str
    data: dict[str, Any]
    ref: str | None  # echoed in the answer or error, so a client can match them


def parse(raw: str | bytes) -> Message:
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"messages are at most {MAX_MESSAGE_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ProtocolError("malformed", "a message is one JSON object") from None
    if not isinstance(data, dict):
        raise ProtocolError("malformed", "a message is one JSON object")
    kind = data.get("type")
    ref = data.get("ref")
    ref = ref if isinstance(ref, str) and len(ref) <= 64 else None
    if not isinstance(kind, str) or kind not in CLIENT_MESSAGES:
        raise ProtocolError("unknown_type", f"unknown message type {str(kind)[:40]!r}")
    for name, (expected, required) in CLIENT_MESSAGES[kind].items():
        if name not in data:
            if required:
                raise ProtocolError("invalid", f"'{kind}' needs '{name}'")
            continue
        value = data[name]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ProtocolError("invalid", f"'{name}' must be a {expected.__name__}")
    if kind == "offer" and len(data["sdp"]) > MAX_SDP_BYTES:
        raise ProtocolError("too_large", "the SDP is too large")
    return Message(type=kind, data=data, ref=ref)


def error(code: str, message: str, ref: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if ref is not None:
        event["ref"] = ref
    return event
