"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO.parent / "shared" / "testdata"
ARTIFACTS = REPO / "test-artifacts"


def unique_bucket(prefix: str = "nl-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def testdata_or_skip(relative: str) -> Path:
    """A file from ../shared/testdata, or a visible skip where that folder is absent."""
    import pytest

    path = TESTDATA / relative
    if not path.exists():
        pytest.skip(f"test data missing: {path} (../shared/testdata lies beside the repo)")
    return path
