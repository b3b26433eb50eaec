"""`kill -9` of the server mid-recording: after a restart everything up to the last closed segment
is in the store and verifies, and the interruption is a gap event in the chain."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.media.harness import MEDIA_SECONDS, wait_for
from tests.media.looping import LoopingPlayer
from tests.signaling.callclient import CallClient, admit
from tests.signaling.test_cli import _clean_env, _stable_s3_port, _wait_ready
from tests.support import REPO, free_port

pytestmark = pytest.mark.integration

PASSWORD = "crash test passphrase"


class Http:
    """What CallClient needs from a test client, over a real server's URL."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    def ws_connect(self, path: str) -> Any:
        return self.session.ws_connect(self.base + path)


def _server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[str]:
    """The real `notarylink serve`, with only ICE restricted to loopback (tests/bench/loopback.py).
    Its output goes to a file: an undrained pipe would block a chatty server."""
    command = ["-m", "tests.bench.serve_loopback", "serve", "--local-s3", "--port", str(port)]
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, *command],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )


def _kill_9(process: subprocess.Popen[str], data_dir: Path) -> None:
    """The machine dies: the server and the S3 server it started (its own process group)."""
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    subprocess.run(["pkill", "-9", "-f", str(data_dir / "s3")], check=False)
    time.sleep(0.5)


def _verify(env: dict[str, str], session_id: str) -> dict[str, Any] | None:
    result = subprocess.run(
        [sys.executable, "-m", "signaling.cli", "verify", session_id, "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return json.loads(result.stdout) if result.stdout.strip().startswith("{") else None


async def test_kill_9_then_restart_seals_the_evidence(
    tmp_path: Path, webm: Path, loopback_ice: None
) -> None:
    port, s3_port = free_port(), _stable_s3_port()
    env = _clean_env(
        NOTARYLINK_DATA_DIR=str(tmp_path / "var"),
        NOTARYLINK_S3_ENDPOINT=f"http://127.0.0.1:{s3_port}",
        PYTHONPATH=str(REPO),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "signaling.cli",
            "accounts",
            "add",
            "--password-stdin",
            "--role",
            "notary",
            "--login",
            "li@example.org",
            "--name",
            "李",
            "--office",
            "GZ",
        ],
        input=PASSWORD + "\n",
        env=env,
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    server = _server(env, port, tmp_path / "server.log")
    calls: list[CallClient] = []
    players: list[LoopingPlayer] = []
    try:
        _wait_ready(f"{base}/readyz", server)
        async with aiohttp.ClientSession() as http:
            login = await http.post(
                f"{base}/api/auth/login", json={"login": "li@example.org", "password": PASSWORD}
            )
            token = (await login.json())["token"]
            created = await http.post(
                f"{base}/api/rooms",
                json={
                    "title": "t",
                    "case_ref": "(2026)京证字第9号",
                    "participants": [{"role": "applicant", "name": "张三"}],
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            room = await created.json()
            session_id = room["room"]["id"]
            links = {link["role"]: link for link in room["links"]}

            def make(role: str) -> CallClient:
                player = LoopingPlayer(webm, MEDIA_SECONDS)
                players.append(player)
                call = CallClient(
                    Http(http, base),
                    links[role]["token"],  # type: ignore[arg-type]
                    [player.audio, player.video],
                )
                calls.append(call)
                return call

            notary, applicant = make("notary"), make("applicant")
            await notary.connect()
            await applicant.connect()
            await admit(notary, applicant)
            await notary.send({"type": "start"})
            await applicant.wait_for("session_state")
            spool = tmp_path / "var" / "spool" / session_id
            await wait_for(_two_receipts(spool), 30, "a confirmed segment for each participant")
            await asyncio.sleep(1)
            _kill_9(server, tmp_path / "var")  # mid-way through the next segment
            for call in calls:
                await call.close()
    finally:
        if server.poll() is None:
            _kill_9(server, tmp_path / "var")
        for player in players:
            player.stop()

    server = _server(env, port, tmp_path / "server.log")  # the next start recovers, seals
    try:
        _wait_ready(f"{base}/readyz", server)
        deadline = time.monotonic() + 60
        report = None
        while time.monotonic() < deadline:
            report = _verify(env, session_id)
            if report is not None and report["ok"]:
                break
            await asyncio.sleep(1)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
        # Whatever happened above, no S3 server of this test outlives it.
        subprocess.run(["pkill", "-9", "-f", str(tmp_path / "var" / "s3")], check=False)
    assert report is not None and report["ok"], report
    manifest = json.loads(
        (tmp_path / "var" / "spool" / session_id / "sealed" / "manifest.json").read_text()
    )
    segments = [e["body"] for e in manifest["entries"] if e["kind"] == "segment"]
    assert len({s["participant"] for s in segments}) == 2
    gaps = [e["body"] for e in manifest["entries"] if e["body"].get("type") == "gap"]
    assert any("stopped during the session" in g.get("reason", "") for g in gaps), gaps


def _two_receipts(spool: Path) -> Callable[[], bool]:
    def check() -> bool:
        folders = [p for p in spool.glob("p-*") if p.is_dir()] if spool.exists() else []
        return len(folders) == 2 and all(list((f / "confirmed").glob("*.json")) for f in folders)

    return check
