"""Health, readiness and metrics of the real application, on SQLite and a real S3 server."""

from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from recorder.local_s3 import LocalS3Server
from signaling.app import create_app
from signaling.appkeys import PLATFORM
from signaling.platform import Platform
from signaling.settings import DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY, Settings

pytestmark = pytest.mark.integration


async def test_healthz(client: TestClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_all_green(client: TestClient, settings: Settings) -> None:
    response = await client.get("/readyz")
    body = await response.json()
    assert response.status == 200, body
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["object_store"]["status"] == "ok"
    # Startup created the buckets with object lock.
    platform = client.app[PLATFORM]
    for bucket in (settings.evidence_bucket, settings.materials_bucket):
        platform.store.client.get_object_lock_config(bucket)


async def test_readyz_reports_a_stopped_store_with_its_reason_then_recovers(
    tmp_path: Path, settings: Settings
) -> None:
    own = LocalS3Server(tmp_path / "own-s3", DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY).start()
    try:
        app = create_app(Platform.from_settings(replace(settings, s3_endpoint=own.endpoint)))
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/readyz")).status == 200
            own.stop()
            response = await client.get("/readyz")
            body = await response.json()
            assert response.status == 503
            assert body["status"] == "error"
            assert body["checks"]["database"]["status"] == "ok"
            assert body["checks"]["object_store"]["status"] == "error"
            assert body["checks"]["object_store"]["reason"]
            metrics = await (await client.get("/metrics")).text()
            assert 'notarylink_dependency_ready{dependency="object_store"} 0.0' in metrics
            own.start()
            response = await client.get("/readyz")
            assert response.status == 200, await response.text()
    finally:
        own.stop()


async def test_readyz_reports_a_broken_database(settings: Settings) -> None:
    app = create_app(Platform.from_settings(settings))
    async with TestClient(TestServer(app)) as client:
        db_file = Path(settings.effective_database_url.split("///", 1)[1])
        assert db_file.exists()
        await client.app[PLATFORM].engine.dispose()
        db_file.unlink()
        db_file.mkdir()  # a directory where the database file was: every connection fails
        response = await client.get("/readyz")
        body = await response.json()
        assert response.status == 503
        assert body["checks"]["database"]["status"] == "error"
        assert body["checks"]["object_store"]["status"] == "ok"


async def test_metrics_count_requests_by_route_pattern(client: TestClient) -> None:
    await client.get("/healthz")
    await client.get("/no/such/page")
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    text = await response.text()
    assert 'notarylink_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert "notarylink_http_request_duration_seconds_bucket" in text


def _redis_or_skip() -> None:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            pass
    except OSError as exc:
        pytest.skip(f"Redis not reachable at 127.0.0.1:6379 ({exc})")


async def test_readyz_checks_redis_when_configured(settings: Settings) -> None:
    _redis_or_skip()
    for url, expected in (("redis://127.0.0.1:6379/15", "ok"), ("redis://127.0.0.1:1/0", "error")):
        app = create_app(Platform.from_settings(replace(settings, redis_url=url)))
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/readyz")
            body = await response.json()
            assert body["checks"]["redis"]["status"] == expected, body
            assert response.status == (200 if expected == "ok" else 503)


async def test_readyz_has_no_redis_check_on_one_node(client: TestClient) -> None:
    body = await (await client.get("/readyz")).json()
    assert "redis" not in body["checks"]
