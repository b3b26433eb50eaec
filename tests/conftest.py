"""Shared fixtures: a real local S3 server, settings pointing at it, PostgreSQL when present."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aioice.ice
import pytest
from aiohttp.test_utils import TestClient, TestServer

from recorder.local_s3 import LocalS3Server
from recorder.store import ObjectStore, connect
from signaling.app import create_app
from signaling.platform import Platform
from signaling.settings import (
    DEV_S3_ACCESS_KEY,
    DEV_S3_SECRET_KEY,
    Secret,
    Settings,
    prepare_secrets,
)
from tests.media.harness import make_webm
from tests.recorder.media_source import SECONDS
from tests.support import unique_bucket


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalS3Server]:
    """One real S3 server (SeaweedFS) for the whole run; tests use buckets of their own."""
    server = LocalS3Server(
        tmp_path_factory.mktemp("s3"), DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY
    ).start()
    yield server
    server.stop()


@pytest.fixture
def object_store(s3_server: LocalS3Server) -> ObjectStore:
    return ObjectStore(
        connect(s3_server.endpoint, DEV_S3_ACCESS_KEY, DEV_S3_SECRET_KEY, "us-east-1")
    )


@pytest.fixture
def settings(tmp_path: Path, s3_server: LocalS3Server) -> Settings:
    """Development settings on SQLite under tmp_path, against the session's S3 server; the
    signing key is generated there."""
    return prepare_secrets(
        Settings(
            data_dir=tmp_path,
            s3_endpoint=s3_server.endpoint,
            evidence_bucket=unique_bucket("nl-evidence"),
            materials_bucket=unique_bucket("nl-materials"),
            token_secret=Secret("test-token-secret-" + uuid.uuid4().hex),
        )
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient[object, object]]:
    """The real application on a real port, its startup (migrations, buckets) done."""
    app = create_app(Platform.from_settings(settings))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def webm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_webm(tmp_path_factory.mktemp("media") / "party.webm")


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """aioice skips 127.0.0.1 by default, and this machine has no other network."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda **_: ["127.0.0.1"])


@pytest.fixture
def source_webm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once per run (test_spool uses it too): encoding it is the slow part."""
    path = tmp_path_factory.getbasetemp() / "recorder-source.webm"
    if not path.exists():
        make_webm(path.with_suffix(".tmp.webm"), seconds=SECONDS).rename(path)
    return path
