"""The aftercare API over HTTP, on SQLite and PostgreSQL: decision and referrals, delivery with
a stored receipt, rating, complaints through the supervisor's queue, findings on drawn cases."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from notary import checks
from notary.cases import CaseState, set_assigned_notary, transition
from signaling.appkeys import PLATFORM
from tests.notary import material_files as files
from tests.notary.conftest import postgres_admin_url, postgres_url  # noqa: F401 (fixtures)
from tests.signaling import case_office
from tests.signaling.case_office import Office, json_of, open_case

pytestmark = pytest.mark.integration

api = case_office.api
office = case_office.office


async def _interviewed(api: TestClient[Any, Any], office: Office) -> str:
    """A case of zhang's, assigned to wang, interviewed (the steps before are not tested here)."""
    case_id = await open_case(api, office, "declaration")
    ids = office.ids
    async with api.app[PLATFORM].engine.begin() as conn:
        await set_assigned_notary(conn, case_id, ids["wang"])
        for state, actor, role in [
            (CaseState.SUBMITTED, ids["zhang"], "applicant"),
            (CaseState.ACCEPTED, ids["wang"], "notary"),
            (CaseState.SCHEDULED, ids["wang"], "notary"),
            (CaseState.INTERVIEWED, ids["wang"], "notary"),
        ]:
            await transition(conn, case_id, state, actor_id=actor, actor_role=role)
    return case_id


async def _issued(api: TestClient[Any, Any], office: Office) -> str:
    case_id = await _interviewed(api, office)
    response = await api.post(
        f"/api/cases/{case_id}/decision",
        json={"outcome": "approved", "reasons": "声明真实"},
        headers=office.headers("wang"),
    )
    await json_of(response, 201)
    async with api.app[PLATFORM].engine.begin() as conn:
        await transition(
            conn,
            case_id,
            CaseState.CERTIFICATE_ISSUED,
            actor_id=office.ids["wang"],
            actor_role="notary",
        )
    return case_id


async def test_decision_after_a_second_opinion(api: TestClient[Any, Any], office: Office) -> None:
    h, ids = office.headers, office.ids
    case_id = await _interviewed(api, office)
    url = f"/api/cases/{case_id}"
    decide = {"outcome": "approved", "reasons": "ok"}
    assert (await api.post(f"{url}/decision", json=decide, headers=h("zhang"))).status == 403
    not_mine = await api.post(f"{url}/decision", json=decide, headers=h("zhao"))
    assert (await json_of(not_mine, 404))["error"]["code"] == "case_not_found"
    bad = await api.post(
        f"{url}/decision", json={"outcome": "yes", "reasons": "x"}, headers=h("wang")
    )
    assert (await json_of(bad, 400))["error"]["code"] == "invalid_outcome"

    refer = {"kind": "second_notary", "question": "声明人是否理解内容？"}
    other_office = await api.post(
        f"{url}/referrals", json={**refer, "second_notary_id": ids["sun"]}, headers=h("wang")
    )
    assert (await json_of(other_office, 409))["error"]["code"] == "not_a_notary"
    referred = await api.post(
        f"{url}/referrals", json={**refer, "second_notary_id": ids["zhao"]}, headers=h("wang")
    )
    referral = (await json_of(referred, 201))["referral"]
    blocked = await api.post(f"{url}/decision", json=decide, headers=h("wang"))
    assert (await json_of(blocked, 409))["error"]["code"] == "referral_open"

    queue = await json_of(await api.get("/api/referrals", headers=h("zhao")), 200)
    assert [item["referral"]["id"] for item in queue["referrals"]] == [referral["id"]]
    assert queue["referrals"][0]["case"]["matter_code"] == "declaration"
    assert "parties" not in queue["referrals"][0]["case"]
    assert (await json_of(await api.get("/api/referrals", headers=h("qian")), 200)) == {
        "referrals": []
    }
    opinion = {"recommendation": "approved", "record": "理解充分"}
    conclusion = f"/api/referrals/{referral['id']}/conclusion"
    stranger = await api.post(conclusion, json=opinion, headers=h("qian"))
    assert (await json_of(stranger, 404))["error"]["code"] == "referral_not_found"
    wrong_one = await api.post(conclusion, json=opinion, headers=h("wang"))
    assert (await json_of(wrong_one, 409))["error"]["code"] == "not_referred"
    await json_of(await api.post(conclusion, json=opinion, headers=h("zhao")), 201)

    made = await json_of(await api.post(f"{url}/decision", json=decide, headers=h("wang")), 201)
    assert made["decision"]["outcome"] == "approved"
    seen_by_applicant = await json_of(await api.get(f"{url}/decision", headers=h("zhang")), 200)
    assert seen_by_applicant["decision"]["reasons"] == "ok"
    assert "referrals" not in seen_by_applicant  # the office's internal record
    seen_by_notary = await json_of(await api.get(f"{url}/decision", headers=h("wang")), 200)
    assert [r["record"] for r in seen_by_notary["referrals"]] == ["理解充分"]
    assert (await api.get(f"{url}/decision", headers=h("liu"))).status == 404
    case = await json_of(await api.get(url, headers=h("zhang")), 200)
    assert case["case"]["state"] == "decided"


async def test_the_second_notary_reads_the_file_while_asked(
    api: TestClient[Any, Any], office: Office
) -> None:
    h, ids = office.headers, office.ids
    case_id = await _interviewed(api, office)
    url = f"/api/cases/{case_id}"
    assert (await api.get(url, headers=h("zhao"))).status == 404  # not asked yet
    refer = {"kind": "second_notary", "question": "是否真实？", "second_notary_id": ids["zhao"]}
    referral = (
        await json_of(await api.post(f"{url}/referrals", json=refer, headers=h("wang")), 201)
    )["referral"]

    seen = await json_of(await api.get(url, headers=h("zhao")), 200)
    assert [p["kind"] for p in seen["parties"]] == ["applicant"]  # the file, not a summary
    asked = await json_of(await api.get(f"{url}/decision", headers=h("zhao")), 200)
    assert [r["question"] for r in asked["referrals"]] == ["是否真实？"]
    # Reading only: routes that change the case still do not know it for them.
    decide = {"outcome": "approved", "reasons": "ok"}
    assert (await api.post(f"{url}/decision", json=decide, headers=h("zhao"))).status == 404
    assert (await api.post(f"{url}/recuse", json={"reason": "x"}, headers=h("zhao"))).status == 404
    assert (await api.get(url, headers=h("qian"))).status == 404  # another notary, not asked

    opinion = {"recommendation": "approved", "record": "属实"}
    conclusion = f"/api/referrals/{referral['id']}/conclusion"
    await json_of(await api.post(conclusion, json=opinion, headers=h("zhao")), 201)
    assert (await api.get(url, headers=h("zhao"))).status == 404  # the referral is closed


async def test_archiving_a_refused_case(api: TestClient[Any, Any], office: Office) -> None:
    h = office.headers
    case_id = await _interviewed(api, office)
    url = f"/api/cases/{case_id}"
    early = await api.post(f"{url}/archive", json={}, headers=h("wang"))
    assert (await json_of(early, 409))["error"]["code"] == "not_finished"
    refuse = {"outcome": "refused", "reasons": "声明内容不真实"}
    await json_of(await api.post(f"{url}/decision", json=refuse, headers=h("wang")), 201)
    assert (await api.post(f"{url}/archive", json={}, headers=h("zhang"))).status == 403
    assert (await api.post(f"{url}/archive", json={}, headers=h("zhao"))).status == 404
    assert (await api.post(f"{url}/archive", json={}, headers=h("sun"))).status == 404
    done = await api.post(f"{url}/archive", json={"reason": "拒绝，归档"}, headers=h("admin"))
    assert (await json_of(done, 200))["case"] == {"id": case_id, "state": "archived"}
    seen = await json_of(await api.get(url, headers=h("zhang")), 200)
    assert seen["case"]["state"] == "archived"

    approved = await _interviewed(api, office)
    ok = {"outcome": "approved", "reasons": "属实"}
    await json_of(
        await api.post(f"/api/cases/{approved}/decision", json=ok, headers=h("wang")), 201
    )
    waits = await api.post(f"/api/cases/{approved}/archive", json={}, headers=h("wang"))
    assert (await json_of(waits, 409))["error"]["code"] == "decision_mismatch"


async def test_delivery_by_post_with_a_receipt(api: TestClient[Any, Any], office: Office) -> None:
    h = office.headers
    case_id = await _issued(api, office)
    url = f"/api/cases/{case_id}/delivery"
    assert (await json_of(await api.get(url, headers=h("zhang")), 200)) == {
        "delivery": None,
        "agreed_method": None,  # this case's interview is not a confirmed record here
    }
    chosen = await api.put(
        url, json={"method": "post", "address": "上海市黄浦区 1 号"}, headers=h("zhang")
    )
    assert (await json_of(chosen, 200))["delivery"]["state"] == "preparing"
    assert (await api.put(url, json={"method": "post"}, headers=h("liu"))).status == 404
    by_applicant = await api.post(f"{url}/steps", json={"state": "dispatched"}, headers=h("zhang"))
    assert by_applicant.status == 403
    untracked = await api.post(f"{url}/steps", json={"state": "dispatched"}, headers=h("admin"))
    assert (await json_of(untracked, 400))["error"]["code"] == "invalid_carrier"
    early = FormData()
    early.add_field("file", files.jpeg(), filename="receipt.jpg")
    not_yet = await api.put(f"{url}/receipt", data=early, headers=h("admin"))
    assert (await json_of(not_yet, 409))["error"]["code"] == "not_dispatched"
    sent = await api.post(
        f"{url}/steps",
        json={"state": "dispatched", "carrier": "EMS", "tracking_number": "EA123456789CN"},
        headers=h("admin"),
    )
    assert (await json_of(sent, 200))["delivery"]["tracking_number"] == "EA123456789CN"
    no_receipt = await api.post(f"{url}/steps", json={"state": "delivered"}, headers=h("wang"))
    assert (await json_of(no_receipt, 409))["error"]["code"] == "receipt_missing"

    disguised = FormData()
    disguised.add_field("file", b"MZ" + b"\x00" * 100, filename="receipt.jpg")
    refused = await api.put(f"{url}/receipt", data=disguised, headers=h("admin"))
    assert (await json_of(refused, 422))["error"]["code"] == "unsupported_type"
    image = files.jpeg()
    form = FormData()
    form.add_field("file", image, filename="receipt.jpg")
    stored = await json_of(await api.put(f"{url}/receipt", data=form, headers=h("admin")), 201)
    assert stored["delivery"]["receipt"]["content_type"] == "image/jpeg"
    fetched = await api.get(f"{url}/receipt", headers=h("zhang"))
    assert fetched.status == 200 and await fetched.read() == image
    assert fetched.headers["X-Content-Type-Options"] == "nosniff"

    done = await api.post(
        f"{url}/steps", json={"state": "delivered", "note": "本人签收"}, headers=h("wang")
    )
    steps = (await json_of(done, 200))["delivery"]["events"]
    assert [s["state"] for s in steps] == ["preparing", "dispatched", "delivered"]
    seen = await json_of(await api.get(url, headers=h("zhang")), 200)
    assert seen["delivery"]["state"] == "delivered" and seen["delivery"]["carrier"] == "EMS"
    case = await json_of(await api.get(f"/api/cases/{case_id}", headers=h("zhang")), 200)
    assert case["case"]["state"] == "delivered"


async def test_rating_and_a_complaint(api: TestClient[Any, Any], office: Office) -> None:
    h = office.headers
    case_id = await _issued(api, office)
    url = f"/api/cases/{case_id}"
    early = await api.post(f"{url}/rating", json={"score": 5}, headers=h("zhang"))
    assert (await json_of(early, 409))["error"]["code"] == "case_not_over"
    await json_of(
        await api.put(f"{url}/delivery", json={"method": "pickup"}, headers=h("zhang")), 200
    )
    for step in ("ready", "delivered"):
        await json_of(
            await api.post(f"{url}/delivery/steps", json={"state": step}, headers=h("admin")), 200
        )

    assert (await api.post(f"{url}/rating", json={"score": 5}, headers=h("wang"))).status == 403
    assert (await api.post(f"{url}/rating", json={"score": 5}, headers=h("liu"))).status == 404
    both = await api.post(f"{url}/rating", json={"score": 5, "grade": "good"}, headers=h("zhang"))
    assert (await json_of(both, 400))["error"]["code"] == "invalid_rating"
    rated = await api.post(
        f"{url}/rating", json={"grade": "poor", "comment": "等太久"}, headers=h("zhang")
    )
    assert (await json_of(rated, 201))["rating"] == {
        **(await json_of(await api.get(f"{url}/rating", headers=h("wang")), 200))["rating"],
    }
    again = await api.post(f"{url}/rating", json={"score": 5}, headers=h("zhang"))
    assert (await json_of(again, 409))["error"]["code"] == "already_rated"

    complaint = await api.post(
        f"{url}/complaints", json={"body": "公证员态度差"}, headers=h("zhang")
    )
    complaint_id = (await json_of(complaint, 201))["complaint"]["id"]
    assert (await api.get("/api/complaints", headers=h("wang"))).status == 403
    queue = await json_of(await api.get("/api/complaints", headers=h("super")), 200)
    assert [c["id"] for c in queue["complaints"]] == [complaint_id]
    assert queue["complaints"][0]["case"]["id"] == case_id
    bad_state = await api.get("/api/complaints?state=lost", headers=h("super"))
    assert (await json_of(bad_state, 400))["error"]["code"] == "invalid_state"
    close_url = f"/api/complaints/{complaint_id}/close"
    premature = await api.post(close_url, headers=h("zhang"))
    assert (await json_of(premature, 409))["error"]["code"] == "complaint_not_answered"
    answer = {"answer": "已约谈公证员"}
    by_notary = await api.post(
        f"/api/complaints/{complaint_id}/answer", json=answer, headers=h("wang")
    )
    assert by_notary.status == 403
    missing = await api.post("/api/complaints/nope/answer", json=answer, headers=h("super"))
    assert (await json_of(missing, 404))["error"]["code"] == "complaint_not_found"
    await json_of(
        await api.post(f"/api/complaints/{complaint_id}/answer", json=answer, headers=h("super")),
        200,
    )
    mine = await json_of(await api.get(f"{url}/complaints", headers=h("zhang")), 200)
    assert [(c["state"], c["answer"]) for c in mine["complaints"]] == [("answered", "已约谈公证员")]
    assert (await api.post(close_url, headers=h("liu"))).status == 404
    closed = await json_of(await api.post(close_url, headers=h("zhang")), 200)
    assert closed["complaint"]["state"] == "closed"
    stats = await json_of(await api.get("/api/supervision/checks", headers=h("super")), 200)
    assert stats["ratings"]["by_grade"] == {"good": 0, "fair": 0, "poor": 1}


async def test_findings_on_drawn_cases(api: TestClient[Any, Any], office: Office) -> None:
    h, ids = office.headers, office.ids
    case_id = await _interviewed(api, office)
    finding = {"severity": "minor", "text": "询问笔录缺少时间"}
    undrawn = await api.post(f"/api/cases/{case_id}/findings", json=finding, headers=h("super"))
    assert undrawn.status == 404  # a supervisor sees only drawn cases
    async with api.app[PLATFORM].engine.begin() as conn:
        assert await checks.draw(conn, supervisor_id=ids["super"], count=1) == [case_id]
    url = f"/api/cases/{case_id}/findings"
    assert (await api.post(url, json=finding, headers=h("wang"))).status == 403
    bad = await api.post(url, json={"severity": "awful", "text": "x"}, headers=h("super"))
    assert (await json_of(bad, 400))["error"]["code"] == "invalid_severity"
    await json_of(await api.post(url, json=finding, headers=h("super")), 201)
    listed = await json_of(await api.get(url, headers=h("super")), 200)
    assert [f["text"] for f in listed["findings"]] == ["询问笔录缺少时间"]
    work = await json_of(await api.get("/api/supervision/checks", headers=h("super")), 200)
    assert [(c["case_id"], c["findings"], c["worst"]) for c in work["checks"]] == [
        (case_id, 1, "minor")
    ]
    assert (await api.get("/api/supervision/checks", headers=h("admin"))).status == 403


async def test_two_ratings_at_once_leave_one(api: TestClient[Any, Any], office: Office) -> None:
    h = office.headers
    case_id = await _issued(api, office)
    url = f"/api/cases/{case_id}"
    await json_of(
        await api.put(f"{url}/delivery", json={"method": "electronic"}, headers=h("zhang")), 200
    )
    for step in ("dispatched", "delivered"):
        moved = await api.post(f"{url}/delivery/steps", json={"state": step}, headers=h("wang"))
        await json_of(moved, 200)
    answers = await asyncio.gather(
        *(api.post(f"{url}/rating", json={"score": score}, headers=h("zhang")) for score in (1, 5))
    )
    assert sorted(r.status for r in answers) == [201, 409]
    for response in answers:
        if response.status == 409:
            assert (await response.json())["error"]["code"] == "already_rated"
