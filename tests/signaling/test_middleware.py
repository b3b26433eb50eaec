"""Every answer carries a request id; every error is JSON with a code and a message."""

import json
import logging

import pytest
from aiohttp.test_utils import TestClient

pytestmark = pytest.mark.integration


async def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    offered = "trace-0123456789"
    response = await client.get("/healthz", headers={"X-Request-Id": offered})
    assert response.headers["X-Request-Id"] == offered
    response = await client.get("/healthz", headers={"X-Request-Id": "bad id"})
    assert len(response.headers["X-Request-Id"]) == 32


async def test_unknown_path_is_a_json_404(client: TestClient) -> None:
    response = await client.get("/api/nothing-here")
    assert response.status == 404
    body = await response.json()
    assert body["error"]["code"] == "not_found"
    assert body["error"]["message"]


async def test_wrong_method_is_a_json_405_with_allow(client: TestClient) -> None:
    response = await client.post("/healthz")
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


async def test_static_path_traversal_is_refused(client: TestClient) -> None:
    for path in (
        "/static/../settings.py",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static/..%2fapp.py",
    ):
        response = await client.get(path)
        assert response.status in (403, 404), path
        assert "def " not in await response.text()


async def test_access_log_has_no_query_string(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="notarylink.access"):
        await client.get("/healthz?token=eyJsecret-join-token")
    lines = [r.getMessage() for r in caplog.records if r.name == "notarylink.access"]
    assert lines and all("eyJsecret" not in line for line in lines)
    assert any("/healthz" in line for line in lines)
    assert all("eyJsecret" not in json.dumps(vars(r), default=str) for r in caplog.records)
