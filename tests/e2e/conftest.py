"""Real Chromium (Debian's /usr/bin/chromium) driven by Playwright; never a downloaded browser."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aioice.ice
import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, async_playwright

from notary.accounts import create_account, ensure_office
from notary.roles import Role
from signaling.appkeys import PLATFORM
from tests import support

CHROMIUM = Path("/usr/bin/chromium")

# From ../shared/SETUP-NOTES.md: no network beyond loopback here, so Chromium's background
# traffic is turned off, and loopback ICE candidates are allowed for WebRTC tests.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
]


def chromium_or_skip() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (make test installs Debian's chromium)")
    return CHROMIUM


async def launch(extra_args: list[str] | None = None) -> AsyncIterator[Browser]:
    executable = chromium_or_skip()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(executable),
            headless=True,
            args=[*CHROMIUM_ARGS, *(extra_args or [])],
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async for opened in launch():
        yield opened


def ffmpeg_or_skip() -> str:
    found = shutil.which("ffmpeg")
    if not found:
        pytest.skip("ffmpeg is missing (make test installs Debian's ffmpeg)")
    return found


@pytest.fixture(scope="module")
def fake_camera(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four seconds of a real person on camera, small, as Chromium's fake capture device."""
    clip = support.testdata_or_skip("video/lin-manuel-miranda-clip.mp4")
    ffmpeg = ffmpeg_or_skip()
    y4m = tmp_path_factory.mktemp("camera") / "clip.y4m"
    subprocess.run(
        [
            *(ffmpeg, "-loglevel", "error", "-y", "-i", str(clip), "-t", "4"),
            *("-vf", "scale=320:180", "-pix_fmt", "yuv420p", str(y4m)),
        ],
        check=True,
        timeout=60,
    )
    return y4m


@pytest.fixture
async def camera_browser(fake_camera: Path) -> AsyncIterator[Browser]:
    args = [
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={fake_camera}",
    ]
    async for opened in launch(args):
        yield opened


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's aiortc peers gather on loopback only: aioice skips 127.0.0.1 by default,
    and this machine has no other network (Chromium needs --allow-loopback-in-peer-connection,
    in CHROMIUM_ARGS)."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda **_: ["127.0.0.1"])


NOTARY_PASSWORD = "e2e notary passphrase 2026"


@pytest.fixture
async def notary_token(client: TestClient) -> str:
    """A notary account in the app's database, logged in through the API: its bearer token."""
    login = f"notary-{uuid.uuid4().hex[:8]}@example.org"
    async with client.app[PLATFORM].engine.begin() as conn:
        office = await ensure_office(
            conn, "E2E", "测试公证处", "Test Notary Office", "Asia/Shanghai"
        )
        await create_account(
            conn,
            role=Role.NOTARY,
            display_name="li",
            login=login,
            password=NOTARY_PASSWORD,
            office_id=office,
        )
    response = await client.post(
        "/api/auth/login", json={"login": login, "password": NOTARY_PASSWORD}
    )
    assert response.status == 200, await response.text()
    return str((await response.json())["token"])


@pytest.fixture
def create_room(client: TestClient, notary_token: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    """POST /api/rooms as the notary; returns the join links by role, pointing at this server."""

    async def create(
        participants: list[dict[str, str]], title: str = "委托书公证"
    ) -> dict[str, Any]:
        response = await client.post(
            "/api/rooms",
            json={
                "title": title,
                "case_ref": "(2026)京中信内经证字第00001号",
                "notary_name": "李公证员",
                "participants": participants,
            },
            headers={"Authorization": f"Bearer {notary_token}"},
        )
        assert response.status == 201, await response.text()
        body = await response.json()
        links: dict[str, Any] = {"room": body["room"]}
        for link in body["links"]:
            # The link's base is the configured public URL; the test server has its own port.
            path = link["url"].split("/static/", 1)[1]
            link["url"] = str(client.make_url("/static/")) + path
            links[link["role"]] = link
        return links

    return create
