"""Reading JSON request bodies: malformed or mistyped input becomes a 4xx with a clear message."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web

from signaling.errors import ApiError

T = TypeVar("T")


async def read_json(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    try:
        body = json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "malformed_json", "the body must be a JSON object")
    return body


def take(
    body: dict[str, Any],
    name: str,
    kind: type[T],
    *,
    required: bool = True,
    max_length: int = 1000,
    default: T | None = None,
) -> T:
    """body[name] as `kind`, or a 400 naming the field."""
    if name not in body or body[name] is None:
        if required:
            raise ApiError(400, "missing_field", f"'{name}' is required", {"field": name})
        return default  # type: ignore[return-value]
    value = body[name]
    # bool is an int in Python; a JSON true is never a number here.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ApiError(400, "invalid_field", f"'{name}' must be a {kind.__name__}", {"field": name})
    if isinstance(value, str | list) and len(value) > max_length:
        raise ApiError(
            400, "invalid_field", f"'{name}' is longer than {max_length}", {"field": name}
        )
    return value
