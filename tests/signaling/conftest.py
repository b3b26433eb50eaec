"""Fixtures for the HTTP layer: accounts in the app's database and their session tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from notary.accounts import create_account, ensure_office
from notary.roles import Role
from signaling.appkeys import PLATFORM

PASSWORD = "notary passphrase 2026"

MakeAccount = Callable[[Role, str], Awaitable[str]]


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


# Media fixtures shared with tests/media: a generated VP8/Opus WebM and loopback-only ICE.
from tests.media.conftest import loopback_ice, webm  # noqa: E402, F401
