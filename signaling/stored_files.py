"""A file from the object store shown in the browser: inline, never run, never cached.

Applicants upload materials and the office uploads post receipts; either may be a crafted file,
so what the browser gets is fixed here once: the stored content type (no sniffing), a policy
that allows no script, form or network, and no copy left in a shared cache.
"""

from __future__ import annotations

import asyncio
import urllib.parse

from aiohttp import web

from signaling.platform import Platform

# Shown inline, never run: no script, no form, no network from the file's origin.
INLINE_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
UNKNOWN_TYPE = "application/octet-stream"


def inline_headers(file_name: str | None = None) -> dict[str, str]:
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
        "Content-Security-Policy": INLINE_POLICY,
    }
    if file_name is not None:
        # RFC 5987: any name (Chinese, quotes, semicolons) travels percent-encoded, never raw.
        quoted = urllib.parse.quote(file_name)
        headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quoted}"
    return headers


async def stored_file(
    platform: Platform,
    key: str,
    version_id: str | None,
    *,
    content_type: str | None,
    file_name: str | None = None,
) -> web.Response:
    """The object `key` (at `version_id`) of the materials bucket as an inline response."""
    # The minio SDK blocks: the read runs off the event loop.
    data = await asyncio.to_thread(
        platform.store.read, platform.settings.materials_bucket, key, version_id
    )
    return web.Response(
        body=data,
        content_type=content_type or UNKNOWN_TYPE,
        headers=inline_headers(file_name),
    )
