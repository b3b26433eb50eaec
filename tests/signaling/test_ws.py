"""The WebSocket protocol through the real application: tokens, lobby, roles, abuse, reconnect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType
from aiohttp.test_utils import TestClient

from notary.roles import Role
from signaling import ws as ws_module
from signaling.appkeys import PLATFORM
from signaling.tokens import TokenSigner

pytestmark = pytest.mark.integration

Login = Callable[[Role, str], Awaitable[str]]


@pytest.fixture
async def session(client: TestClient, login_token: Login) -> dict[str, Any]:
    """A room with a notary, an applicant and an observer; their join tokens by role."""
    token = await login_token(Role.NOTARY, "li@example.org")
    response = await client.post(
        "/api/rooms",
        json={
            "title": "t",
            "case_ref": "c",
            "participants": [
                {"role": "applicant", "name": "张三"},
                {"role": "observer", "name": "督导"},
            ],
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    body = await response.json()
    return {
        "room": body["room"]["id"],
        **{link["role"]: link for link in body["links"]},
    }


async def receive(
    ws: ClientWebSocketResponse, kind: str, about: str | None = None, timeout: float = 5
) -> dict[str, Any]:
    """The next message of `kind` (about participant `about`), skipping others."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.receive()
            if message.type != WSMsgType.TEXT:
                raise AssertionError(f"socket closed while waiting for {kind}: {message}")
            event = json.loads(message.data)
            if event["type"] == kind and (
                about is None or event.get("participant", {}).get("id") == about
            ):
                return event


async def join(
    client: TestClient, token: str, consent: bool = False
) -> tuple[ClientWebSocketResponse, dict[str, Any]]:
    """Join; with `consent`, also consent to the recording (into the lobby)."""
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "join", "token": token, "v": 1})
    welcome = await receive(ws, "welcome")
    if consent:
        await ws.send_json({"type": "consent", "recording": True, "face": False})
        await receive(ws, "consent_recorded")
    return ws, welcome


async def expect_refusal(client: TestClient, first: Any) -> tuple[str, int | None]:
    ws = await client.ws_connect("/ws")
    if isinstance(first, str):
        await ws.send_str(first)
    else:
        await ws.send_json(first)
    error = json.loads((await ws.receive(timeout=5)).data)
    closing = await ws.receive(timeout=5)
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    return error["code"], ws.close_code


async def test_lobby_after_consent_then_admission_by_the_notary(
    client: TestClient, session: dict
) -> None:
    applicant, welcome = await join(client, session["applicant"]["token"])
    # Connected, but not in the lobby until the recording is consented to.
    assert welcome["participant"]["presence"] == "preparing"
    assert welcome["v"] == 1 and isinstance(welcome["ice_servers"], list)

    notary, welcome = await join(client, session["notary"]["token"])
    assert welcome["participant"]["presence"] == "admitted"
    assert not [p for p in welcome["room"]["participants"] if p["presence"] == "waiting"]
    assert (await receive(notary, "admitted"))["receive"] == []
    await notary.send_json({"type": "admit", "participant": session["applicant"]["participant_id"]})
    assert (await receive(notary, "error"))["code"] == "not_waiting"

    await applicant.send_json({"type": "consent", "recording": False, "face": False})
    assert (await receive(applicant, "error"))["code"] == "consent_required"
    await applicant.send_json({"type": "consent", "recording": True, "face": False})
    await receive(applicant, "consent_recorded")
    lobby = await receive(notary, "lobby", about=session["applicant"]["participant_id"])
    assert lobby["participant"]["name"] == "张三"

    await notary.send_json({"type": "admit", "participant": session["applicant"]["participant_id"]})
    await receive(applicant, "participant_joined", about=session["applicant"]["participant_id"])
    await receive(applicant, "admitted")
    await notary.close()
    await applicant.close()


async def test_roles_limit_what_participants_may_do(client: TestClient, session: dict) -> None:
    notary, _ = await join(client, session["notary"]["token"])
    applicant, _ = await join(client, session["applicant"]["token"])
    observer, _ = await join(client, session["observer"]["token"])
    for kind, data in (
        ("admit", {"participant": session["observer"]["participant_id"]}),
        ("remove", {"participant": session["notary"]["participant_id"]}),
        ("start", {}),
        ("end", {}),
    ):
        await applicant.send_json({"type": kind, "ref": kind, **data})
        error = await receive(applicant, "error")
        assert (error["code"], error["ref"]) == ("forbidden", kind)
    await applicant.send_json({"type": "offer", "sdp": "v=0"})
    assert (await receive(applicant, "error"))["code"] == "not_admitted"  # still in the lobby

    await notary.send_json({"type": "remove", "participant": session["observer"]["participant_id"]})
    assert (await receive(observer, "bye"))["reason"] == "removed"
    code, _ = await expect_refusal(client, {"type": "join", "token": session["observer"]["token"]})
    assert code == "removed"
    for ws in (notary, applicant):
        await ws.close()


async def test_forged_expired_and_wrong_room_tokens_are_refused(
    client: TestClient, session: dict, login_token: Login
) -> None:
    signer = client.app[PLATFORM].tokens
    pid = session["applicant"]["participant_id"]
    cases = {
        "forged": TokenSigner("another-secret-that-is-long-enough!!").issue_join(
            session["room"], pid, "applicant", "x", 600
        ),
        "expired": signer.issue_join(session["room"], pid, "applicant", "x", -600),
        "wrong room": signer.issue_join("r-0000", pid, "applicant", "x", 600),
        "wrong role": signer.issue_join(session["room"], pid, "notary", "x", 600),
        "session token": signer.issue_session("acc", "notary", 1, 600),
    }
    codes = {}
    for name, token in cases.items():
        codes[name], close_code = await expect_refusal(client, {"type": "join", "token": token})
        assert close_code == 1008
    assert codes == {
        "forged": "token_invalid",
        "expired": "token_expired",
        "wrong room": "room_not_found",
        "wrong role": "token_invalid",
        "session token": "token_invalid",
    }
    assert (await expect_refusal(client, {"type": "offer", "sdp": "x"}))[0] == "out_of_order"
    assert (await expect_refusal(client, "garbage"))[0] == "malformed"
    assert (await expect_refusal(client, {"type": "join", "token": "x", "v": 2}))[0] == (
        "unsupported_version"
    )


async def test_join_must_come_quickly(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws_module, "JOIN_TIMEOUT", 0.3)
    ws = await client.ws_connect("/ws")
    error = json.loads((await ws.receive(timeout=5)).data)
    assert error["code"] == "join_timeout"


async def test_a_storm_of_bad_messages_leaves_the_room_working(
    client: TestClient, session: dict
) -> None:
    notary, _ = await join(client, session["notary"]["token"])
    applicant, _ = await join(client, session["applicant"]["token"], consent=True)
    junk: list[Any] = [
        "{",
        "[]",
        "null",
        '"x"',
        {"type": "nope"},
        {"type": "offer"},
        {"type": "offer", "sdp": 5},
        {"type": "admit"},
        {"type": "mute", "audio": "loud"},
        {"type": "join", "token": "x"},
        {"type": "candidate", "candidate": "candidate:garbage"},
        {"type": "offer", "sdp": "v=0\r\no=- garbage\r\n"},
        {"type": "admit", "participant": "p-nobody"},
        {"type": "ping", "pad": "x" * 70_000},
    ]
    errors = 0
    for item in junk * 3:
        if isinstance(item, str):
            await applicant.send_str(item)
        else:
            await applicant.send_json(item)
    while errors < len(junk) * 3:
        await receive(applicant, "error")
        errors += 1
    # The same socket, the notary's and the room all still work.
    await applicant.send_json({"type": "ping", "ref": "alive"})
    assert (await receive(applicant, "pong"))["ref"] == "alive"
    await notary.send_json({"type": "admit", "participant": session["applicant"]["participant_id"]})
    await receive(applicant, "admitted")
    # A frame beyond the hard limit closes that one connection only.
    await applicant.send_str("x" * (ws_module.HARD_FRAME_LIMIT + 10))
    closing = await applicant.receive(timeout=5)
    assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR)
    reconnecting = await receive(notary, "participant_reconnecting")
    assert reconnecting["participant"]["id"] == session["applicant"]["participant_id"]
    await notary.send_json({"type": "ping", "ref": "still"})
    assert (await receive(notary, "pong"))["ref"] == "still"
    await notary.close()


async def test_flooding_is_rate_limited(client: TestClient, session: dict) -> None:
    notary, _ = await join(client, session["notary"]["token"])
    for i in range(ws_module.MESSAGE_BURST + 50):
        await notary.send_json({"type": "ping", "ref": str(i)})
    error = await receive(notary, "error")
    assert error["code"] == "rate_limited"
    await notary.close()


async def test_reconnect_within_grace_and_a_second_tab(client: TestClient, session: dict) -> None:
    notary, _ = await join(client, session["notary"]["token"])
    applicant, _ = await join(client, session["applicant"]["token"], consent=True)
    pid = session["applicant"]["participant_id"]
    await notary.send_json({"type": "admit", "participant": pid})
    await receive(applicant, "admitted")
    await applicant.close()  # the page reloads
    assert (await receive(notary, "participant_reconnecting"))["participant"]["id"] == pid
    applicant, welcome = await join(client, session["applicant"]["token"])
    assert welcome["participant"]["presence"] == "admitted"
    assert (await receive(notary, "participant_back"))["participant"]["id"] == pid
    await receive(applicant, "admitted")  # straight back into the call, no lobby

    second_tab, _ = await join(client, session["applicant"]["token"])
    closing = await applicant.receive(timeout=5)
    while closing.type == WSMsgType.TEXT:
        closing = await applicant.receive(timeout=5)
    assert (closing.type, closing.data) == (WSMsgType.CLOSE, 4000)  # replaced by the newer tab
    await second_tab.send_json({"type": "ping", "ref": "tab2"})
    assert (await receive(second_tab, "pong"))["ref"] == "tab2"
    for ws in (notary, second_tab):
        await ws.close()


async def test_notary_ends_the_session_for_everyone(client: TestClient, session: dict) -> None:
    notary, _ = await join(client, session["notary"]["token"])
    applicant, _ = await join(client, session["applicant"]["token"])
    await notary.send_json({"type": "start"})
    assert (await receive(applicant, "session_state"))["state"] == "live"
    await notary.send_json({"type": "end"})
    assert (await receive(applicant, "session_state"))["state"] == "ended"
    code, _ = await expect_refusal(client, {"type": "join", "token": session["applicant"]["token"]})
    assert code in ("session_ended", "room_not_found")
