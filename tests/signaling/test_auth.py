"""Logging in through the real application, and role checks on a bearer token."""

import pytest
from aiohttp.test_utils import TestClient

from notary.roles import Role
from signaling.appkeys import PLATFORM
from tests.signaling.conftest import PASSWORD, MakeAccount

pytestmark = pytest.mark.integration


@pytest.fixture
async def notary_login(make_account: MakeAccount) -> str:
    return await make_account(Role.NOTARY, "li@example.org")


async def test_login_returns_a_session_token(client: TestClient, notary_login: str) -> None:
    response = await client.post(
        "/api/auth/login", json={"login": notary_login, "password": PASSWORD}
    )
    body = await response.json()
    assert response.status == 200, body
    assert body["account"]["role"] == "notary"
    claims = client.app[PLATFORM].tokens.verify_session(body["token"])
    assert claims.role == "notary" and claims.office_id is not None


async def test_wrong_password_and_unknown_login_answer_alike(
    client: TestClient, notary_login: str
) -> None:
    answers = []
    for login, password in ((notary_login, "wrong passphrase 2026"), ("x@example.org", PASSWORD)):
        response = await client.post("/api/auth/login", json={"login": login, "password": password})
        answers.append((response.status, (await response.json())["error"]))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401


@pytest.mark.parametrize(
    "body, status, code",
    [
        (b"{not json", 400, "malformed_json"),
        (b"[1, 2]", 400, "malformed_json"),
        (b'{"login": "a@b.cn"}', 400, "missing_field"),
        (b'{"login": 5, "password": "x"}', 400, "invalid_field"),
    ],
)
async def test_malformed_login_bodies(
    client: TestClient, body: bytes, status: int, code: str
) -> None:
    response = await client.post(
        "/api/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


async def test_non_json_body_is_415(client: TestClient) -> None:
    response = await client.post("/api/auth/login", data="login=a&password=b")
    assert response.status == 415


async def test_login_is_rate_limited_per_login(client: TestClient, notary_login: str) -> None:
    statuses = []
    for _ in range(7):
        response = await client.post(
            "/api/auth/login", json={"login": notary_login, "password": "guess guess guess"}
        )
        statuses.append(response.status)
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429]
    limited = await response.json()
    assert limited["error"]["details"]["retry_after"] >= 1
    # The right password is refused too while limited: guessing gains nothing by waiting less.
    response = await client.post(
        "/api/auth/login", json={"login": notary_login, "password": PASSWORD}
    )
    assert response.status == 429
