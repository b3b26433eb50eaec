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


@pytest.mark.integration
async def test_export_and_verify_a_session_from_the_store(
    tmp_path: Path,
    object_store,
    s3_server,
    source_webm: Path,  # type: ignore[no-untyped-def]
) -> None:
    import time

    from recorder.retention import parse_retention_classes
    from recorder.session import RecorderConfig, SessionRecorder
    from tests.recorder.media_source import demux_frames
    from tests.support import unique_bucket

    bucket = unique_bucket("nl-evidence")
    object_store.bootstrap([bucket])
    key = Ed25519PrivateKey.generate()
    (short,) = parse_retention_classes("short=20y")
    config = RecorderConfig(object_store, bucket, tmp_path / "spool", key)
    recorder = SessionRecorder(config, "r-cli", "(2026)京证字第7号", "cli", short)
    await recorder.start()

    async def frames():  # type: ignore[no-untyped-def]
        for frame in demux_frames(source_webm, time.time()):
            yield frame

    await recorder.add_participant("p-app", "applicant", "张三", frames())
    await recorder.finish()

    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTARYLINK_")}
    env |= {"NOTARYLINK_S3_ENDPOINT": s3_server.endpoint, "NOTARYLINK_EVIDENCE_BUCKET": bucket}
    package = tmp_path / "out.zip"
    run = [sys.executable, "-m", "signaling.cli"]
    exported = subprocess.run(
        [*run, "export", "r-cli", "-o", str(package)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    assert "joining playback [" in exported.stderr and package.exists()
    for target in ("r-cli", str(package)):
        checked = subprocess.run(
            [*run, "verify", target, "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert json.loads(checked.stdout)["ok"] is True
    missing = subprocess.run(
        [*run, "verify", "r-nothing"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert missing.returncode == 2 and "no recorded session" in missing.stderr
