"""Fixtures for the recorder tests: a real RFC 3161 TSA on a free 127.0.0.1 port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

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
