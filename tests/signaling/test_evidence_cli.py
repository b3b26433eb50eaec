"""`notarylink verify PACKAGE.zip`: offline, readable, --json, exit codes, progress."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from recorder.keys import public_key_pem
from recorder.package import write_package
from signaling.evidence_cli import Progress
from tests.recorder.evidence import build_session

pytestmark = pytest.mark.unit


def _verify(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTARYLINK_")}
    # Offline: no S3 server, no database; the store settings point nowhere.
    env["NOTARYLINK_S3_ENDPOINT"] = "http://127.0.0.1:9"
    return subprocess.run(
        [sys.executable, "-m", "signaling.cli", "verify", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _package(tmp_path: Path, key: Ed25519PrivateKey, flip: str | None = None) -> Path:
    source, _ = build_session(key)
    if flip:
        data = bytearray(source.files[flip])
        data[0] ^= 0xFF
        source.files[flip] = bytes(data)
    path = tmp_path / "evidence.zip"
    write_package(path, sorted(source.files.items()))
    return path


def test_good_package_verifies_offline(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    pem = tmp_path / "platform.pem"
    pem.write_bytes(public_key_pem(key))
    result = _verify(str(_package(tmp_path, key)), "--key", str(pem))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout and "[FAILED]" not in result.stdout
    assert "checking segments [" in result.stderr and "6/6" in result.stderr


def test_tampered_package_fails_with_the_reason_as_json(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    result = _verify(str(_package(tmp_path, key, flip="p-app/000002.webm")), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    failed = [c for c in report["checks"] if not c["ok"]]
    assert failed == [
        {
            "name": "segments",
            "ok": False,
            "message": "p-app/000002.webm: content differs from its sealed hash (altered)",
        }
    ]


def test_pinned_key_refuses_a_package_signed_by_another(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    pem = tmp_path / "platform.pem"
    pem.write_bytes(public_key_pem(Ed25519PrivateKey.generate()))
    result = _verify(str(_package(tmp_path, key)), "--key", str(pem))
    assert result.returncode == 1
    assert "signer key" in result.stdout


def test_unreadable_package_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"nope")
    result = _verify(str(bad))
    assert result.returncode == 2
    assert "not a readable zip" in result.stderr


def test_progress_bar_draws_to_completion() -> None:
    out = io.StringIO()
    progress = Progress(out, width=10)
    for done in range(1, 5):
        progress(done, 4)
    assert out.getvalue().endswith("[##########] 4/4\n")
