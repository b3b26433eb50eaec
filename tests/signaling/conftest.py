"""Fixtures for the HTTP layer: accounts in the app's database and their session tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from aiortc import MediaStreamTrack

from notary.accounts import create_account, ensure_office
from notary.roles import Role
from signaling.appkeys import PLATFORM
from tests.media.harness import MEDIA_SECONDS
from tests.media.looping import LoopingPlayer
from tests.signaling.callclient import CallClient

PASSWORD = "notary passphrase 2026"

MakeAccount = Callable[[Role, str], Awaitable[str]]
Login = Callable[[Role, str], Awaitable[str]]


@pytest.fixture
def make_account(client: TestClient) -> MakeAccount:
    """Create an account (in office TEST) and return its login."""

    async def make(role: Role, login: str) -> str:
        async with client.app[PLATFORM].engine.begin() as conn:
            office = await ensure_office(
                conn, "TEST", "测试公证处", "Test Notary Office", "Asia/Shanghai"
            )
            await create_account(
                conn,
                role=role,
                display_name=login.split("@")[0],
                login=login,
                password=PASSWORD,
                office_id=office,
            )
        return login

    return make


@pytest.fixture
def login_token(
    client: TestClient, make_account: MakeAccount
) -> Callable[[Role, str], Awaitable[str]]:
    """Create an account and log it in through the API; returns the bearer token."""

    async def login(role: Role, name: str) -> str:
        await make_account(role, name)
        response = await client.post("/api/auth/login", json={"login": name, "password": PASSWORD})
        assert response.status == 200, await response.text()
        return str((await response.json())["token"])

    return login


@pytest.fixture
async def links(client: TestClient, login_token: Login) -> dict[str, dict[str, Any]]:
    token = await login_token(Role.NOTARY, "li@example.org")
    response = await client.post(
        "/api/rooms",
        json={
            "title": "视频询问",
            "case_ref": "C-1",
            "participants": [
                {"role": "applicant", "name": "张三"},
                {"role": "site_officer", "name": "领事 王"},
            ],
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 201
    return {link["role"]: link for link in (await response.json())["links"]}


@pytest.fixture
async def clients(
    client: TestClient, webm: Path, loopback_ice: None
) -> AsyncIterator[Callable[[str], CallClient]]:
    made: list[CallClient] = []
    players: list[LoopingPlayer] = []

    def tracks() -> list[MediaStreamTrack]:
        # Not MediaPlayer(loop=True): it stops pacing after the first pass (tests/media/looping.py).
        player = LoopingPlayer(webm, MEDIA_SECONDS)
        players.append(player)
        return [player.audio, player.video]

    def make(token: str) -> CallClient:
        call = CallClient(client, token, tracks(), fresh_tracks=tracks)
        made.append(call)
        return call

    yield make
    for call in made:
        await call.close()
    for player in players:
        player.stop()
