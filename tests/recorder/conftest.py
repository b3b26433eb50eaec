"""Fixtures for the recorder tests: a real RFC 3161 TSA on a free 127.0.0.1 port, and real
encoded media (a VP8/Opus WebM) to record."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.media.harness import make_webm
from tests.recorder.media_source import SECONDS
from tests.recorder.tsa import TestPKI, TSAServer


@pytest.fixture(scope="session")
def tsa_pki() -> TestPKI:
    """A test root CA and a TSA certificate it issued, made fresh for this run."""
    return TestPKI.create()


@pytest.fixture
async def tsa_server(tsa_pki: TestPKI) -> AsyncIterator[TSAServer]:
    """The running TSA; set `.behaviour` to make it answer wrongly."""
    server = await TSAServer(tsa_pki).start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def tsa(tsa_server: TSAServer) -> tuple[str, bytes]:
    """(URL of the TSA, PEM of its root certificate)."""
    return tsa_server.url, tsa_server.pki.root.cert_pem


@pytest.fixture
def source_webm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once per run (test_spool uses it too): encoding it is the slow part."""
    path = tmp_path_factory.getbasetemp() / "recorder-source.webm"
    if not path.exists():
        make_webm(path.with_suffix(".tmp.webm"), seconds=SECONDS).rename(path)
    return path
