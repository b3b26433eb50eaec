"""The case's applicant joins the video session of their case with their account: a link for
their own seat in the session the case's notary opened, and nobody else's."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from notary.accounts import ensure_office
from notary.cases import create_case, set_assigned_notary
from notary.matters import list_matters
from notary.roles import Role
from signaling.appkeys import PLATFORM
from tests.media.harness import wait_for
from tests.signaling.callclient import CallClient
from tests.signaling.test_ws import expect_refusal, receive

pytestmark = pytest.mark.integration


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _account(client: TestClient, token: str) -> str:
    return client.app[PLATFORM].tokens.verify_session(token).account_id


async def _case(client: TestClient, applicant: str, notary: str) -> str:
    async with client.app[PLATFORM].engine.begin() as conn:
        office = await ensure_office(
            conn, "TEST", "测试公证处", "Test Notary Office", "Asia/Shanghai"
        )
        matter = (await list_matters(conn))[0]
        case = await create_case(
            conn,
            matter=matter,
            office_id=office,
            applicant_account_id=applicant,
            applicant_name="张三",
            actor_id=applicant,
            actor_role="applicant",
        )
        await set_assigned_notary(conn, case.id, notary)
    return case.id


async def _open(client: TestClient, notary_token: str, case_id: str) -> dict[str, Any]:
    response = await client.post(
        "/api/rooms",
        json={
            "title": "视频询问",
            "case_ref": case_id,
            "participants": [{"role": "applicant", "name": "张三"}],
        },
        headers=_auth(notary_token),
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def test_the_applicant_joins_their_cases_session_with_their_account(
    client: TestClient, login_token
) -> None:
    notary = await login_token(Role.NOTARY, "li@example.org")
    other_notary = await login_token(Role.NOTARY, "zhou@example.org")
    applicant = await login_token(Role.APPLICANT, "zhang@example.org")
    stranger = await login_token(Role.APPLICANT, "wang@example.org")
    case_id = await _case(client, await _account(client, applicant), await _account(client, notary))
    url = f"/api/cases/{case_id}/session-link"

    early = await client.post(url, headers=_auth(applicant))
    assert early.status == 404 and (await early.json())["error"]["code"] == "no_session"
    await _open(client, other_notary, case_id)  # not the case's notary: not its session
    assert (await client.post(url, headers=_auth(applicant))).status == 404

    opened = await _open(client, notary, case_id)
    seat = next(link for link in opened["links"] if link["role"] == "applicant")
    response = await client.post(url, headers=_auth(applicant))
    assert response.status == 200, await response.text()
    link = (await response.json())["link"]
    assert link["participant_id"] == seat["participant_id"] and link["token"] != seat["token"]
    assert "#token=" in link["url"] and "/static/session.html" in link["url"]

    # Nobody else gets it: another applicant, the notary (not an applicant), an unknown case.
    hidden = await client.post(url, headers=_auth(stranger))
    assert hidden.status == 404 and (await hidden.json())["error"]["code"] == "case_not_found"
    assert (await client.post(url, headers=_auth(notary))).status == 403
    assert (await client.post(url)).status == 401
    missing = await client.post("/api/cases/no-such-case/session-link", headers=_auth(applicant))
    assert missing.status == 404

    # The link is the applicant account's: it joins only with that account's own session.
    join = {"type": "join", "token": link["token"], "v": 1}
    assert (await expect_refusal(client, join))[0] == "account_required"
    assert (await expect_refusal(client, join | {"account_token": stranger}))[0] == (
        "account_mismatch"
    )
    assert (await expect_refusal(client, join | {"account_token": "x"}))[0] == "token_invalid"
    seat_ws = await client.ws_connect("/ws")
    host_link = next(link for link in opened["links"] if link["role"] == "notary")
    host = CallClient(client, host_link["token"], [])
    try:
        await seat_ws.send_json(join | {"account_token": applicant})
        welcome = await receive(seat_ws, "welcome")
        assert welcome["participant"]["id"] == seat["participant_id"]
        assert welcome["room"]["id"] == opened["room"]["id"]
        # Once the notary ends the session there is nothing to join.
        await host.connect()
        await host.send({"type": "end"})
        await wait_for(
            lambda: any(
                e["type"] == "session_state" and e.get("state") == "ended" for e in host.events
            ),
            10,
            "the session ended",
        )
        ended = await client.post(url, headers=_auth(applicant))
        assert ended.status == 404 and (await ended.json())["error"]["code"] == "no_session"
    finally:
        await seat_ws.close()
        await host.close()
