"""A stored file as the browser gets it: the stored bytes and type, inline, never run, never
cached, its name percent-encoded (RFC 5987)."""

from __future__ import annotations

import urllib.parse

import pytest
from aiohttp.test_utils import TestClient

from signaling.appkeys import PLATFORM
from signaling.stored_files import INLINE_POLICY, inline_headers, stored_file


async def put(client: TestClient, key: str, data: bytes) -> str | None:
    """Store `data` under `key` in the materials bucket; its version id."""
    platform = client.app[PLATFORM]
    await platform.bootstrap_store()
    stored = platform.store.put_locked(
        platform.settings.materials_bucket, key, data, platform.retention_class("short")
    )
    return stored.version_id


async def test_the_stored_version_is_served_inline_with_its_name(client: TestClient) -> None:
    version = await put(client, "cases/c1/receipt.pdf", b"%PDF-1.7 first")
    response = await stored_file(
        client.app[PLATFORM],
        "cases/c1/receipt.pdf",
        version,
        content_type="application/pdf",
        file_name='出生 "证明"; a.pdf',
    )
    assert response.body == b"%PDF-1.7 first"
    assert response.content_type == "application/pdf"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Content-Security-Policy"] == INLINE_POLICY
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline; filename*=UTF-8''")
    encoded = disposition.removeprefix("inline; filename*=UTF-8''")
    assert not set(encoded) & set(' ";')  # nothing that could end or split the header value
    assert urllib.parse.unquote(encoded) == '出生 "证明"; a.pdf'


async def test_an_unknown_type_and_no_name(client: TestClient) -> None:
    version = await put(client, "cases/c2/blob", b"\x00\x01")
    response = await stored_file(client.app[PLATFORM], "cases/c2/blob", version, content_type=None)
    assert response.body == b"\x00\x01"
    assert response.content_type == "application/octet-stream"  # never a guess from the bytes
    assert "Content-Disposition" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name", [None, "a.png"])
def test_the_policy_forbids_scripts_forms_and_network(name: str | None) -> None:
    policy = inline_headers(name)["Content-Security-Policy"]
    assert "default-src 'none'" in policy  # scripts, frames, forms' targets: none
    assert "script-src" not in policy and "connect-src" not in policy
    assert "img-src 'self'" in policy  # an image material must still show
