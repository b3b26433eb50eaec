"""/api/fees/quote and /api/cases/{id}/payments: reductions with reasons, refusals, staff only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from notary.cases import CaseState
from signaling.appkeys import PLATFORM
from tests.notary.certificate_world import World, case_in_state, make_world

pytestmark = pytest.mark.integration


def _bearer(client: TestClient, account_id: str, role: str, office: int | None) -> dict[str, str]:
    token = client.app[PLATFORM].tokens.issue_session(account_id, role, office, 600)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def world(client: TestClient) -> World:
    async with client.app[PLATFORM].engine.begin() as conn:
        return await make_world(conn)


def _born(age: int) -> str:
    # 1 January of a year that makes the person at least `age` today, whatever today is.
    return dt.date(dt.datetime.now(dt.UTC).year - age - 1, 1, 1).isoformat()


async def test_a_quote_shows_the_reduction_and_its_reason(client: TestClient, world: World) -> None:
    plain = await client.post("/api/fees/quote", json={"matter_code": "will"})
    base = (await plain.json())["base_fen"]
    assert plain.status == 200 and base > 0

    free = await client.post(
        "/api/fees/quote",
        json={"matter_code": "will", "birth_date": _born(85), "first_will": True},
    )
    body = await free.json()
    assert body["amount_fen"] == 0 and body["base_fen"] == base
    (reduction,) = body["reductions"]
    assert reduction["rule"] == "first_will_free_elderly"
    assert set(reduction["reason"]) == {"zh-CN", "en"}
    assert body["matter_name"]["en"]


async def test_the_elderly_safeguard_refuses_with_an_explanation(
    client: TestClient, world: World
) -> None:
    response = await client.post(
        "/api/fees/quote",
        json={
            "matter_code": "power_of_attorney",
            "birth_date": _born(70),
            "general_power": True,
            "disposes_real_estate": True,
        },
    )
    error = (await response.json())["error"]
    assert response.status == 422 and error["code"] == "matter_refused"
    assert "不动产" in error["details"]["reason"]["zh-CN"]


@pytest.mark.parametrize(
    "body, status",
    [
        ({}, 400),
        ({"matter_code": "no_such_matter"}, 404),
        ({"matter_code": "will", "birth_date": "1950-13-01"}, 400),
        ({"matter_code": "will", "veteran": "yes"}, 400),
        ({"matter_code": "will", "service": "express"}, 400),
        ({"matter_code": "contract", "service": "will_custody"}, 400),
        ({"matter_code": "will", "birth_date": "2999-01-01"}, 400),
    ],
)
async def test_bad_quotes_are_4xx(
    client: TestClient, world: World, body: dict[str, Any], status: int
) -> None:
    response = await client.post("/api/fees/quote", json=body)
    assert response.status == status, await response.text()
    assert "code" in (await response.json())["error"]


async def test_staff_record_payments_others_cannot(client: TestClient, world: World) -> None:
    async with client.app[PLATFORM].engine.begin() as conn:
        case_id = await case_in_state(conn, world, CaseState.ACCEPTED)
    url = f"/api/cases/{case_id}/payments"
    notary = _bearer(client, world.notary, "notary", world.office)
    recorded = await client.post(
        url,
        json={"amount_fen": 20_000, "method": "alipay", "reference": "2026112222001"},
        headers=notary,
    )
    assert recorded.status == 201, await recorded.text()
    assert (await recorded.json())["paid_fen"] == 20_000

    refused = [
        (_bearer(client, world.applicant, "applicant", None), 403),
        (_bearer(client, world.other_notary, "notary", world.office), 404),
        ({}, 401),
    ]
    for headers, status in refused:
        response = await client.post(url, json={"amount_fen": 1, "method": "cash"}, headers=headers)
        assert response.status == status
    bad = await client.post(
        url, json={"amount_fen": 100, "method": "bank_transfer"}, headers=notary
    )
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_payment"

    listed = await client.get(url, headers=_bearer(client, world.applicant, "applicant", None))
    body = await listed.json()
    assert listed.status == 200 and body["paid_fen"] == 20_000
    assert [p["method"] for p in body["payments"]] == ["alipay"]
