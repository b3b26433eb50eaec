"""Creating sessions and join links through the real application."""

from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from notary.roles import Role
from signaling.appkeys import PLATFORM

pytestmark = pytest.mark.integration

Login = Callable[[Role, str], Awaitable[str]]

BODY = {
    "title": "委托书公证 视频询问",
    "case_ref": "2026-GZ-0001",
    "notary_name": "李公证员",
    "scheduled_at": "2026-11-23T09:30:00+08:00",
    "participants": [
        {"role": "applicant", "name": "张三"},
        {"role": "site_officer", "name": "驻外领事 王"},
    ],
}


async def test_notary_creates_a_room_with_one_link_per_participant(
    client: TestClient, login_token: Login
) -> None:
    token = await login_token(Role.NOTARY, "li@example.org")
    response = await client.post(
        "/api/rooms", json=BODY, headers={"Authorization": f"Bearer {token}"}
    )
    body = await response.json()
    assert response.status == 201, body
    links = body["links"]
    assert [link["role"] for link in links] == ["notary", "applicant", "site_officer"]
    signer = client.app[PLATFORM].tokens
    for link in links:
        claims = signer.verify_join(link["token"], room_id=body["room"]["id"])
        assert (claims.participant_id, claims.role) == (link["participant_id"], link["role"])
        assert link["url"].endswith("#token=" + link["token"])  # fragment: never sent to servers
    assert links[0]["url"].split("#")[0].endswith("/static/console.html")
    assert links[1]["url"].split("#")[0].endswith("/static/session.html")

    response = await client.get(
        f"/api/rooms/{body['room']['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    room = (await response.json())["room"]
    assert room["state"] == "scheduled"
    assert {p["presence"] for p in room["participants"]} == {"invited"}


async def test_only_notaries_create_rooms(client: TestClient, login_token: Login) -> None:
    response = await client.post("/api/rooms", json=BODY)
    assert response.status == 401
    applicant = await login_token(Role.APPLICANT, "zhang@example.org")
    response = await client.post(
        "/api/rooms", json=BODY, headers={"Authorization": f"Bearer {applicant}"}
    )
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"
    response = await client.post("/api/rooms", json=BODY, headers={"Authorization": "Bearer junk"})
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "token_invalid"


async def test_another_notarys_room_is_not_found(client: TestClient, login_token: Login) -> None:
    first = await login_token(Role.NOTARY, "li@example.org")
    second = await login_token(Role.NOTARY, "zhao@example.org")
    created = await client.post(
        "/api/rooms", json=BODY, headers={"Authorization": f"Bearer {first}"}
    )
    room_id = (await created.json())["room"]["id"]
    response = await client.get(
        f"/api/rooms/{room_id}", headers={"Authorization": f"Bearer {second}"}
    )
    assert response.status == 404


@pytest.mark.parametrize(
    "change, field",
    [
        ({"title": ""}, "title"),
        ({"participants": [{"role": "notary", "name": "second notary"}]}, "participants[0]"),
        ({"participants": [{"role": "applicant", "name": ""}]}, "participants[0]"),
        ({"participants": [{"role": "observer", "name": "x"}] * 4}, "participants"),
        ({"scheduled_at": "tomorrow"}, "scheduled_at"),
        ({"scheduled_at": "2026-11-23T09:30:00"}, "scheduled_at"),
        ({"link_ttl_minutes": 0}, "link_ttl_minutes"),
        ({"link_ttl_minutes": True}, "link_ttl_minutes"),
    ],
)
async def test_bad_room_requests_are_400_naming_the_problem(
    client: TestClient, login_token: Login, change: dict, field: str
) -> None:
    token = await login_token(Role.NOTARY, "li@example.org")
    response = await client.post(
        "/api/rooms", json={**BODY, **change}, headers={"Authorization": f"Bearer {token}"}
    )
    body = await response.json()
    assert response.status == 400, body
    assert (
        field in body["error"]["message"] or body["error"].get("details", {}).get("field") == field
    )
