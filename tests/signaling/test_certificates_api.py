"""/api/certificates: issue as the case's notary, download, and verify publicly (rate-limited)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from notary.cases import CaseState
from signaling.appkeys import PLATFORM
from signaling.certificates_api import CERTIFICATES
from signaling.ratelimit import RateLimiter
from tests.notary.certificate_world import World, case_in_state, make_world

pytestmark = pytest.mark.integration

STATEMENT = {
    "statement_zh": "兹证明张三于一九九〇年一月一日出生于上海市。",
    "statement_en": "This is to certify that Zhang San was born in Shanghai on 1 January 1990.",
}


def _bearer(client: TestClient, account_id: str, role: str, office: int | None) -> dict[str, str]:
    token = client.app[PLATFORM].tokens.issue_session(account_id, role, office, 600)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def world(client: TestClient) -> World:
    async with client.app[PLATFORM].engine.begin() as conn:
        return await make_world(conn)


async def _issued(client: TestClient, world: World) -> dict[str, Any]:
    async with client.app[PLATFORM].engine.begin() as conn:
        case_id = await case_in_state(conn, world, CaseState.DECIDED)
    response = await client.post(
        f"/api/cases/{case_id}/certificate",
        json=STATEMENT,
        headers=_bearer(client, world.notary, "notary", world.office),
    )
    assert response.status == 201, await response.text()
    issued: dict[str, Any] = await response.json()
    issued["case_id"] = case_id
    return issued


async def test_issue_download_and_verify_by_code_and_by_file(
    client: TestClient, world: World
) -> None:
    issued = await _issued(client, world)
    assert issued["number"].startswith("SH01-") and issued["journal_seq"] > 0

    pdf = await client.get(
        issued["pdf_url"], headers=_bearer(client, world.applicant, "applicant", None)
    )
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    body = await pdf.read()
    # Someone else's certificate answers like a missing one.
    other = await client.get(
        issued["pdf_url"], headers=_bearer(client, world.other_notary, "notary", world.office)
    )
    assert other.status == 404

    by_code = await client.post(
        "/api/certificates/verify",
        json={"number": issued["number"], "code": issued["verification_code"]},
    )
    verdict = await by_code.json()
    assert by_code.status == 200 and verdict["genuine"] is True
    assert verdict["certificate"]["number"] == issued["number"]
    assert verdict["certificate"]["office"]["zh-CN"] == "上海市东方公证处"
    assert "张三" not in str(verdict)

    by_file = await client.post(
        "/api/certificates/verify", data=body, headers={"Content-Type": "application/pdf"}
    )
    assert (await by_file.json())["genuine"] is True

    tampered = bytearray(body)
    tampered[len(tampered) // 3] ^= 0x01
    altered = await client.post(
        "/api/certificates/verify",
        data=bytes(tampered),
        headers={"Content-Type": "application/pdf"},
    )
    assert await altered.json() == {"genuine": False, "reason": "altered", "certificate": None}


async def test_a_wrong_code_and_an_unknown_number_answer_alike(
    client: TestClient, world: World
) -> None:
    issued = await _issued(client, world)
    answers = []
    for number, code in ((issued["number"], "AAAA-BBBB-CCCC"), ("SH01-1999-000001", "x")):
        response = await client.post(
            "/api/certificates/verify", json={"number": number, "code": code}
        )
        answers.append((response.status, await response.json()))
    assert answers == [(200, {"genuine": False, "reason": "no_match", "certificate": None})] * 2


async def test_issuing_is_for_the_cases_notary_only(client: TestClient, world: World) -> None:
    async with client.app[PLATFORM].engine.begin() as conn:
        decided = await case_in_state(conn, world, CaseState.DECIDED)
        interviewed = await case_in_state(conn, world, CaseState.INTERVIEWED)
        refused = await case_in_state(conn, world, CaseState.DECIDED, outcome="refused")
    url = f"/api/cases/{decided}/certificate"
    notary = _bearer(client, world.notary, "notary", world.office)
    cases = [
        (url, _bearer(client, world.other_notary, "notary", world.office), STATEMENT, 404),
        (url, _bearer(client, world.applicant, "applicant", None), STATEMENT, 403),
        (url, {}, STATEMENT, 401),
        (url, notary, {"statement_zh": "兹证明"}, 400),
        (f"/api/cases/{interviewed}/certificate", notary, STATEMENT, 409),
    ]
    for path, headers, body, status in cases:
        response = await client.post(path, json=body, headers=headers)
        assert response.status == status, (path, status, await response.text())
        assert "code" in (await response.json())["error"]
    response = await client.post(
        f"/api/cases/{refused}/certificate", json=STATEMENT, headers=notary
    )
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "not_approved"


async def test_verification_is_rate_limited(client: TestClient) -> None:
    client.app[CERTIFICATES].limiter = RateLimiter(rate=0.001, burst=3)
    statuses = []
    for _ in range(5):
        response = await client.post(
            "/api/certificates/verify", json={"number": "SH01-2026-000001", "code": "x"}
        )
        statuses.append(response.status)
    assert statuses == [200, 200, 200, 429, 429]
    body = await response.json()
    assert body["error"]["code"] == "rate_limited" and body["error"]["details"]["retry_after"] > 0


async def test_bad_requests_are_4xx(client: TestClient) -> None:
    cases: list[tuple[dict[str, Any], int]] = [
        ({"data": b"x", "headers": {"Content-Type": "text/plain"}}, 415),
        ({"json": {"number": "SH01-2026-000001"}}, 400),
        ({"json": {"number": 5, "code": "x"}}, 400),
        (
            {
                "data": b"%PDF-" + b"0" * (5 * 1024 * 1024),
                "headers": {"Content-Type": "application/pdf"},
            },
            413,
        ),
    ]
    for kwargs, status in cases:
        response = await client.post("/api/certificates/verify", **kwargs)
        assert response.status == status, await response.text()
    not_pdf = await client.post(
        "/api/certificates/verify", data=b"hello", headers={"Content-Type": "application/pdf"}
    )
    assert (await not_pdf.json())["reason"] == "not_pdf"
