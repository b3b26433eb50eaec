"""The office side of the case API over HTTP, on SQLite and on PostgreSQL: assignment and
recusal, and who sees what (notaries, site officers, admins, supervisors)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from notary import checks, journal
from notary.cases import CaseState, transition
from signaling.appkeys import PLATFORM
from tests.notary import material_files as files
from tests.notary.conftest import postgres_admin_url, postgres_url  # noqa: F401 (fixtures)
from tests.signaling import case_office
from tests.signaling.case_office import Office, json_of, open_case, upload

pytestmark = pytest.mark.integration

# The shared fixtures, under the names the tests ask for.
api = case_office.api
office = case_office.office


async def test_recusal_conflicts(api: TestClient[Any, Any], office: Office) -> None:
    h, ids = office.headers, office.ids
    case_id = await open_case(api, office, "declaration")

    async def assign(notary: str, status: int) -> dict[str, Any]:
        response = await api.post(
            f"/api/cases/{case_id}/assign", json={"notary_id": ids[notary]}, headers=h("admin")
        )
        return await json_of(response, status)

    declared = await api.post(
        f"/api/cases/{case_id}/declarations",
        json={"notary_id": ids["zhao"], "relationship": "spouse", "reason": "赵公证员是我的配偶"},
        headers=h("zhang"),
    )
    await json_of(declared, 201)
    await json_of(
        await api.post(
            f"/api/cases/{case_id}/declarations",
            json={"notary_id": ids["qian"], "relationship": "in_law", "reason": "远亲"},
            headers=h("zhang"),
        ),
        201,
    )
    refused = await assign("zhao", 409)
    assert refused["error"]["code"] == "recusal_conflict"
    assert refused["error"]["details"]["reasons"] == ["close_relative"]
    await assign("qian", 200)  # an in-law is not a close relative: recorded, not disqualifying
    assert (await assign("sun", 409))["error"]["code"] == "not_a_notary"  # another office

    # Qian declares an interest: the case leaves them, and cannot come back.
    await json_of(
        await api.post(
            f"/api/cases/{case_id}/declarations",
            json={"reason": "申请人是我公司的客户"},
            headers=h("qian"),
        ),
        201,
    )
    assert (await api.get(f"/api/cases/{case_id}", headers=h("qian"))).status == 404
    assert (await assign("qian", 409))["error"]["details"]["reasons"] == ["interest"]

    await assign("wang", 200)
    await json_of(
        await api.post(
            f"/api/cases/{case_id}/recuse", json={"reason": "曾为申请人代理诉讼"}, headers=h("wang")
        ),
        201,
    )
    assert (await assign("wang", 409))["error"]["details"]["reasons"] == ["recusal"]
    candidates = await json_of(
        await api.get(f"/api/cases/{case_id}/candidates", headers=h("admin")), 200
    )
    conflicts = {c["display_name"]: c["conflicts"] for c in candidates["candidates"]}
    assert conflicts == {"wang": ["recusal"], "zhao": ["close_relative"], "qian": ["interest"]}
    async with api.app[PLATFORM].engine.connect() as conn:
        actions = [e.action for e in await journal.entries_for_case(conn, case_id)]
    assert actions.count("case.assignment_refused") == 3
    assert {"case.conflict_declared", "case.recusal", "case.unassign", "case.assign"} <= set(
        actions
    )


async def test_who_sees_what(api: TestClient[Any, Any], office: Office) -> None:
    h = office.headers
    # A site officer opens a will for an applicant: secret, so the officer never sees its file.
    opened = await api.post(
        "/api/cases",
        json={
            "matter": "will",
            "office": "SH01",
            "applicant": {"login": "grandma@mail.example", "display_name": "王奶奶"},
        },
        headers=h("officer"),
    )
    will = await json_of(opened, 201)
    will_id = will["case"]["id"]
    assert "parties" not in will and will["case"]["secret"] is True
    assert (await api.get(f"/api/cases/{will_id}", headers=h("officer"))).status == 404
    birth = await json_of(
        await api.post(
            "/api/cases",
            json={
                "matter": "birth",
                "applicant": {"login": "+8613800000000", "display_name": "小明"},
            },
            headers=h("officer"),
        ),
        201,
    )
    assert "parties" in birth  # not secret: the officer who opened it works on it

    case_id = await open_case(api, office, "birth")
    for case in (case_id, birth["case"]["id"]):
        await upload(
            api,
            office,
            "zhang" if case == case_id else "officer",
            case,
            "applicant_id",
            "id.png",
            files.png(20 + len(case) % 7, 20),
        )
    # Supervisors: statistics, and only drawn files; secret files are never drawn.
    stats = await json_of(await api.get("/api/supervision/statistics", headers=h("super")), 200)
    assert stats["statistics"]["cases_by_state"]["draft"] == 3
    assert (await api.get(f"/api/cases/{case_id}", headers=h("super"))).status == 404
    drawn = await json_of(
        await api.post("/api/supervision/draws", json={"count": 10}, headers=h("super")), 201
    )
    assert drawn["drawn"] == []  # only drafts so far: nothing to check yet
    listed = await json_of(await api.get("/api/cases", headers=h("zhang")), 200)
    assert [c["id"] for c in listed["cases"]] == [case_id]
    assert (await api.get("/api/review/queue", headers=h("zhang"))).status == 403
    assert (
        await api.post("/api/supervision/draws", json={"count": 1}, headers=h("wang"))
    ).status == 403
    assert (await api.get(f"/api/cases/{will_id}", headers=h("admin"))).status == 200


async def test_a_draw_that_races_another_answers_409(
    api: TestClient[Any, Any], office: Office
) -> None:
    h, ids = office.headers, office.ids
    case_id = await open_case(api, office, "birth")
    engine = api.app[PLATFORM].engine
    async with engine.begin() as conn:
        await transition(
            conn, case_id, CaseState.SUBMITTED, actor_id=ids["zhang"], actor_role="applicant"
        )
    async with engine.begin() as conn:  # another supervisor's draw, not yet committed
        assert await checks.draw(conn, supervisor_id=ids["super"], count=1) == [case_id]
        racing = asyncio.create_task(
            api.post("/api/supervision/draws", json={"count": 1}, headers=h("super"))
        )
        await asyncio.sleep(0.5)
        assert not racing.done()
    response = await racing
    if engine.dialect.name == "postgresql":
        body = await json_of(response, 409)
        assert body["error"]["code"] == "draw_conflict"
    else:  # SQLite serializes the two transactions: the second finds nothing left
        assert (await json_of(response, 201))["drawn"] == []
    again = await api.post("/api/supervision/draws", json={"count": 1}, headers=h("super"))
    assert (await json_of(again, 201))["drawn"] == []
