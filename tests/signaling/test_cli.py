"""The `notarylink` command as `make run` uses it: a real process, a real local S3 server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from recorder.local_s3 import LocalS3Ports
from tests.support import free_port

NOTARYLINK = [sys.executable, "-m", "signaling.cli"]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NOTARYLINK, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTARYLINK_")}
    env.update(extra)
    return env


@pytest.mark.unit
def test_help_lists_the_commands() -> None:
    result = _run(["--help"], _clean_env())
    assert result.returncode == 0
    assert "serve" in result.stdout and "settings" in result.stdout


@pytest.mark.unit
def test_invalid_setting_stops_the_start_naming_the_variable(tmp_path: Path) -> None:
    result = _run(["serve"], _clean_env(NOTARYLINK_PORT="http", NOTARYLINK_DATA_DIR=str(tmp_path)))
    assert result.returncode == 2
    assert "NOTARYLINK_PORT" in result.stderr


@pytest.mark.unit
def test_settings_prints_masked_values(tmp_path: Path) -> None:
    env = _clean_env(NOTARYLINK_TOKEN_SECRET="a-very-secret-token-secret-value-123456")
    result = _run(["settings"], env)
    assert result.returncode == 0
    shown = json.loads(result.stdout)
    assert shown["token_secret"] == "********"
    assert "a-very-secret" not in result.stdout


@pytest.mark.unit
def test_production_refuses_local_s3(tmp_path: Path) -> None:
    env = _clean_env(
        NOTARYLINK_ENVIRONMENT="production",
        NOTARYLINK_TOKEN_SECRET="p" * 40,
        NOTARYLINK_SIGNING_KEY_PATH=str(tmp_path / "k.pem"),
        NOTARYLINK_S3_ACCESS_KEY="prod",
        NOTARYLINK_S3_SECRET_KEY="prod-secret",
        NOTARYLINK_DATA_DIR=str(tmp_path),
    )
    result = _run(["serve", "--local-s3"], env)
    assert result.returncode == 2
    assert "development only" in result.stderr


def _stable_s3_port() -> int:
    """An S3 port whose neighbours (see LocalS3Ports.for_s3_port) and gRPC ports are free."""
    for _ in range(200):
        port = free_port()
        if port > 50000:
            continue
        ports = LocalS3Ports.for_s3_port(port).all()
        if all(_free(p) and _free(p + 10000) for p in ports):
            return port
    raise RuntimeError("no free port range")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_ready(url: str, process: subprocess.Popen[str], timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited early: {process.stdout.read() if process.stdout else ''}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            last = exc.read().decode()
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise AssertionError(f"/readyz not green within {timeout}s: {last}")


def _serve(tmp_path: Path, port: int, s3_port: int) -> subprocess.Popen[str]:
    env = _clean_env(
        NOTARYLINK_DATA_DIR=str(tmp_path / "var"),
        NOTARYLINK_S3_ENDPOINT=f"http://127.0.0.1:{s3_port}",
        NOTARYLINK_LOG_FORMAT="json",
    )
    return subprocess.Popen(
        [*NOTARYLINK, "serve", "--local-s3", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)  # what Ctrl-C sends
    output, _ = process.communicate(timeout=30)
    return output


@pytest.mark.integration
def test_serve_with_local_s3_is_ready_stops_on_ctrl_c_and_reuses_data(tmp_path: Path) -> None:
    port, s3_port = free_port(), _stable_s3_port()
    process = _serve(tmp_path, port, s3_port)
    try:
        body = _wait_ready(f"http://127.0.0.1:{port}/readyz", process)
    finally:
        output = _stop(process)
    assert body["status"] == "ok", body
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}/" in output
    demo_password = (tmp_path / "var" / "secrets" / "demo-notary-password").read_text().strip()
    assert "demo-notary-password" in output and demo_password not in output
    # Ctrl-C ended the S3 server it started too.
    assert _free(s3_port), "the local S3 server outlived `serve`"
    var = tmp_path / "var"
    database = (var / "notarylink.db").stat().st_ino
    secret = (var / "secrets" / "token-secret").read_text()
    key = (var / "keys" / "platform-ed25519.pem").read_bytes()
    assert "token-secret" not in output and secret not in output

    process = _serve(tmp_path, port, s3_port)  # the second `make run`
    try:
        body = _wait_ready(f"http://127.0.0.1:{port}/readyz", process)
    finally:
        _stop(process)
    assert body["status"] == "ok", body
    assert (var / "notarylink.db").stat().st_ino == database
    assert (var / "secrets" / "token-secret").read_text() == secret
    assert (var / "keys" / "platform-ed25519.pem").read_bytes() == key


@pytest.mark.unit
def test_identity_calibrate_reports_distributions(tmp_path: Path) -> None:
    """Two people (photos installed packages ship), each photo and a JPEG copy of it."""
    import numpy as np
    from matplotlib import cbook
    from PIL import Image
    from skimage import data

    hopper = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    astronaut = data.astronaut()[:300, 100:400]  # her face; not the mission patch
    for person, image in (("hopper", hopper), ("astronaut", astronaut)):
        folder = tmp_path / person
        folder.mkdir()
        picture = Image.fromarray(image)
        picture.save(folder / "a.png")
        picture.save(folder / "b.jpg", quality=60)
    result = _run(["identity", "calibrate", str(tmp_path), "--json"], _clean_env())
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    calibration = report["calibration"]
    assert (calibration["genuine"]["count"], calibration["impostor"]["count"]) == (2, 4)
    assert calibration["genuine"]["maximum"] < calibration["impostor"]["minimum"]
    assert _run(["identity", "calibrate", str(tmp_path / "nope")], _clean_env()).returncode == 2
