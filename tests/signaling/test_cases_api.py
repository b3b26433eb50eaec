"""The applying side of the case API over HTTP, on SQLite and on PostgreSQL, against the real
S3 server: open, parties, uploads checked by content, commitments, submit, one-notice rounds."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from notary import journal
from notary.materials import MAX_UPLOAD_BYTES
from signaling import cases_api
from signaling.appkeys import PLATFORM
from signaling.ratelimit import RateLimiter
from tests.notary import material_files as files
from tests.notary.conftest import postgres_admin_url, postgres_url  # noqa: F401 (fixtures)
from tests.signaling import case_office
from tests.signaling.case_office import PASSWORD, Office, json_of, open_case, upload

pytestmark = pytest.mark.integration

# The shared fixtures, under the names the tests ask for.
api = case_office.api
office = case_office.office


async def test_the_whole_flow(api: TestClient[Any, Any], office: Office) -> None:
    h = office.headers
    body = await json_of(
        await api.post(
            "/api/cases",
            json={"matter": "kinship", "office": "SH01", "elderly": True},
            headers=h("zhang"),
        ),
        201,
    )
    case_id = body["case"]["id"]
    assert body["case"]["state"] == "draft" and body["case"]["elderly"] is True
    assert body["missing"] == ["applicant_id", "kinship_evidence", "household_register"]

    party = await api.post(
        f"/api/cases/{case_id}/parties",
        json={"kind": "relative", "name": "张父", "relationship": "parent"},
        headers=h("zhang"),
    )
    assert (await json_of(party, 201))["party"]["relationship"] == "parent"

    scan = files.png()
    first = (await upload(api, office, "zhang", case_id, "applicant_id", "身份证.png", scan))[
        "material"
    ]
    assert first["sha256"] == hashlib.sha256(scan).hexdigest()
    assert first["content_type"] == "image/png" and first["file_name"] == "身份证.png"
    await json_of(
        await api.post(
            f"/api/cases/{case_id}/commitments",
            json={"requirement": "kinship_evidence", "statement": "本人承诺所述亲属关系属实"},
            headers=h("zhang"),
        ),
        201,
    )
    refused = await json_of(await api.post(f"/api/cases/{case_id}/submit", headers=h("zhang")), 409)
    assert refused["error"]["details"]["requirements"] == ["household_register"]
    await json_of(
        await api.post(
            f"/api/cases/{case_id}/shared-data",
            json={"requirement": "household_register"},
            headers=h("zhang"),
        ),
        201,
    )
    submitted = await json_of(
        await api.post(f"/api/cases/{case_id}/submit", headers=h("zhang")), 200
    )
    assert submitted["case"]["state"] == "submitted" and submitted["missing"] == []
    await upload(api, office, "zhang", case_id, "applicant_id", "b.jpg", files.jpeg(), 409)

    # The office: an admin assigns; only the assigned notary sees the file.
    summary = await json_of(await api.get(f"/api/cases/{case_id}", headers=h("admin")), 200)
    assert "materials" not in summary and summary["case"]["state"] == "submitted"
    await json_of(
        await api.post(
            f"/api/cases/{case_id}/assign",
            json={"notary_id": office.ids["wang"]},
            headers=h("admin"),
        ),
        200,
    )
    queue = (await json_of(await api.get("/api/review/queue", headers=h("wang")), 200))["queue"]
    assert [c["id"] for c in queue] == [case_id]
    assert queue[0]["elderly"] is True and queue[0]["waiting_hours"] >= 0
    for outsider in ("zhao", "liu", "super", "sun"):
        assert (await api.get(f"/api/cases/{case_id}", headers=h(outsider))).status == 404
    content = await api.get(
        f"/api/cases/{case_id}/materials/{first['id']}/content", headers=h("wang")
    )
    assert content.status == 200 and content.content_type == "image/png"
    assert await content.read() == scan
    assert content.headers["X-Content-Type-Options"] == "nosniff"

    # One notice: everything wrong at once; the applicant must answer every item.
    notice = await json_of(
        await api.post(
            f"/api/cases/{case_id}/notices",
            json={
                "message": "请补正",
                "items": [
                    {"requirement": "applicant_id", "material_id": first["id"], "problem": "模糊"}
                ],
            },
            headers=h("wang"),
        ),
        201,
    )
    assert notice["notice"]["round"] == 1
    not_yet = await json_of(await api.post(f"/api/cases/{case_id}/submit", headers=h("zhang")), 409)
    assert not_yet["error"]["code"] == "notice_items_open"
    second = (
        await upload(api, office, "zhang", case_id, "applicant_id", "id2.jpg", files.jpeg(80, 60))
    )["material"]
    await json_of(await api.post(f"/api/cases/{case_id}/submit", headers=h("zhang")), 200)

    # A later notice may name only what is new since the last one.
    stale = await json_of(
        await api.post(
            f"/api/cases/{case_id}/notices",
            json={"items": [{"requirement": "kinship_evidence", "problem": "需公证处核实"}]},
            headers=h("wang"),
        ),
        409,
    )
    assert stale["error"]["code"] == "notice_not_new" and stale["error"]["details"]["items"] == [0]
    await json_of(
        await api.post(
            f"/api/cases/{case_id}/notices",
            json={
                "items": [
                    {
                        "requirement": "applicant_id",
                        "material_id": second["id"],
                        "problem": "反面缺失",
                    }
                ]
            },
            headers=h("wang"),
        ),
        201,
    )
    await upload(api, office, "zhang", case_id, "applicant_id", "id3.pdf", files.pdf())
    await json_of(await api.post(f"/api/cases/{case_id}/submit", headers=h("zhang")), 200)
    assert (await api.post(f"/api/cases/{case_id}/accept", headers=h("zhao"))).status == 404
    accepted = await json_of(await api.post(f"/api/cases/{case_id}/accept", headers=h("wang")), 200)
    assert accepted["case"]["state"] == "accepted"

    seen = await json_of(await api.get(f"/api/cases/{case_id}?lang=en", headers=h("zhang")), 200)
    assert [n["round"] for n in seen["notices"]] == [1, 2]
    async with api.app[PLATFORM].engine.connect() as conn:
        history = await journal.entries_for_case(conn, case_id)
    moves = [(e.after or {}).get("state") for e in history if e.action == "case.transition"]
    assert moves == ["submitted", "returned", "submitted", "returned", "submitted", "accepted"]
    who = {e.actor_id for e in history if e.action == "case.transition"}
    assert who == {office.ids["zhang"], office.ids["wang"]}
    assert all(e.reason for e in history if e.action == "case.transition")


async def test_uploads_are_checked_by_content(api: TestClient[Any, Any], office: Office) -> None:
    case_id = await open_case(api, office, "birth")
    cases = [
        ("a.pdf", b"MZ\x90\x00" + b"\x00" * 200, 422, "unsupported_type"),  # a program
        ("a.jpg", b"<html><script>alert(1)</script></html>", 422, "unsupported_type"),
        ("a.jpg", files.pdf(), 422, "type_mismatch"),  # disguised by its name
        ("a.pdf", files.zip_bomb(), 422, "archive_refused"),
        ("a.png", files.png_bomb(), 422, "image_too_large"),
        ("a.pdf", files.pdf_flate_bomb(), 422, "compression_bomb"),
        ("a.pdf", files.pdf_with_javascript(), 422, "active_content"),
        ("a.jpg", files.jpeg() + files.zip_bomb(1000), 422, "malformed_file"),  # polyglot
        ("../../etc/passwd.png", files.png(), 400, "invalid_file_name"),
        ("..\\..\\boot.png", files.png(), 400, "invalid_file_name"),
        ("a.png", files.png()[:-20], 422, "malformed_file"),  # truncated
    ]
    for name, data, status, code in cases:
        body = await upload(api, office, "zhang", case_id, "applicant_id", name, data, status)
        assert body["error"]["code"] == code, name
    oversized = b"%PDF-1.7\n" + b"0" * MAX_UPLOAD_BYTES
    body = await upload(api, office, "zhang", case_id, "applicant_id", "big.pdf", oversized, 413)
    assert body["error"]["code"] == "too_large"
    # Nothing refused was recorded; a good file is, once (the same bytes again are a conflict).
    await upload(api, office, "zhang", case_id, "applicant_id", "ok.png", files.png())
    await upload(api, office, "zhang", case_id, "applicant_id", "again.png", files.png(), 409)
    await upload(api, office, "zhang", case_id, "no_such", "ok.png", files.png(10, 10), 400)
    await upload(api, office, "liu", case_id, "applicant_id", "x.png", files.png(9, 9), 404)
    file = await json_of(
        await api.get(f"/api/cases/{case_id}", headers=office.headers("zhang")), 200
    )
    assert [m["file_name"] for m in file["materials"]] == ["ok.png"]
    platform = api.app[PLATFORM]
    keys = [
        o.object_name
        for o in platform.store.client.list_objects(
            platform.settings.materials_bucket, prefix=f"cases/{case_id}/", recursive=True
        )
    ]
    assert keys == [
        f"cases/{case_id}/materials/applicant_id/{hashlib.sha256(files.png()).hexdigest()}.png"
    ]


async def test_registration_and_bad_requests(api: TestClient[Any, Any], office: Office) -> None:
    weak = await api.post(
        "/api/applicants",
        json={"login": "x@mail.example", "password": "short", "display_name": "x"},
    )
    assert (await json_of(weak, 400))["error"]["code"] == "weak_password"
    again = await api.post(
        "/api/applicants",
        json={"login": "zhang@mail.example", "password": PASSWORD, "display_name": "z"},
    )
    assert (await json_of(again, 409))["error"]["code"] == "account_refused"
    login = await api.post(
        "/api/auth/login", json={"login": "zhang@mail.example", "password": PASSWORD}
    )
    await json_of(login, 200)
    h = office.headers
    assert (await api.post("/api/cases", json={"matter": "birth"})).status == 401
    assert (
        await api.post("/api/cases", json={"matter": "x", "office": "SH01"}, headers=h("zhang"))
    ).status == 400
    assert (await api.post("/api/cases", json={"matter": "birth"}, headers=h("wang"))).status == 403
    case_id = await open_case(api, office, "birth")
    bad_party = await api.post(
        f"/api/cases/{case_id}/parties", json={"kind": "relative", "name": "x"}, headers=h("zhang")
    )
    assert (await json_of(bad_party, 400))["error"]["code"] == "invalid_party"
    not_form = await api.post(f"/api/cases/{case_id}/materials", json={}, headers=h("zhang"))
    assert not_form.status == 415
    no_commitment = await api.post(
        f"/api/cases/{case_id}/commitments",
        json={"requirement": "applicant_id", "statement": "承诺"},
        headers=h("zhang"),
    )
    assert (await json_of(no_commitment, 409))["error"]["code"] == "commitment_not_allowed"


async def test_uploads_and_new_cases_are_rate_limited(
    api: TestClient[Any, Any], office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(cases_api.LIMITS, "open_case", (0.001, 2))
    monkeypatch.setitem(cases_api.LIMITS, "upload", (0.001, 1))
    case_id = await open_case(api, office, "birth")
    await open_case(api, office, "birth")
    third = await api.post(
        "/api/cases", json={"matter": "birth", "office": "SH01"}, headers=office.headers("zhang")
    )
    body = await json_of(third, 429)
    assert body["error"]["details"]["retry_after"] > 0
    await upload(api, office, "zhang", case_id, "applicant_id", "a.png", files.png())
    again = await upload(api, office, "zhang", case_id, "parents_id", "b.png", files.png(9, 9), 429)
    assert again["error"]["code"] == "rate_limited"
    # Another person's budget is their own.
    await json_of(
        await api.post(
            "/api/cases", json={"matter": "birth", "office": "SH01"}, headers=office.headers("liu")
        ),
        201,
    )


async def test_registration_is_limited_per_client_address(
    api: TestClient[Any, Any], office: Office
) -> None:
    """409 tells that a login exists; the limit keeps anyone from listing logins with it."""
    now = [0.0]
    platform = api.app[PLATFORM]
    platform.login_limiter = RateLimiter(rate=1 / 6, burst=5, clock=lambda: now[0])

    async def register(login: str) -> Any:
        body = {"login": login, "password": PASSWORD, "display_name": "x"}
        return await api.post("/api/applicants", json=body)

    taken = [await register("zhang@mail.example") for _ in range(3)]
    assert [r.status for r in taken] == [409, 409, 409]
    assert (await register("new1@mail.example")).status == 201
    assert (await register("new2@mail.example")).status == 201  # the 5 tokens are spent
    blocked = await register("liu@mail.example")
    error = (await json_of(blocked, 429))["error"]
    assert error["code"] == "rate_limited" and error["details"] == {"retry_after": 6}
    assert (await register("fresh@mail.example")).status == 429  # even for a new login
    # Logging in is limited on its own buckets: registering did not spend them.
    login = await api.post(
        "/api/auth/login", json={"login": "zhang@mail.example", "password": PASSWORD}
    )
    await json_of(login, 200)
    now[0] += 6
    assert (await register("fresh@mail.example")).status == 201
