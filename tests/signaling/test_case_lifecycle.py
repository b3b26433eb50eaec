"""A case from application to a verified certificate through the API (issue 7), on SQLite and
PostgreSQL.

Everything goes through the real HTTP API and a real, recorded video session with aiortc
clients; nothing is written to the database directly. It proves that the pieces join up: the
public notice tells the applicant what to provide and accepting exactly that lets the case be
submitted; the office's assignment puts it in the notary's queue; a slot shown in the
applicant's clock books it; the record the applicant confirms in the session (whose `case_ref` is
the case) makes it interviewed; an approving decision lets the notary issue a certificate whose
number and code, and whose unaltered PDF, any member of the public can verify (and a changed
byte is caught); delivery and the applicant's rating close the case; and the journal, intact,
holds every step in the order it happened.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient

from notary import journal
from recorder.store_source import StoreSource
from recorder.verify import verify
from signaling.appkeys import PLATFORM
from tests.media.harness import wait_for
from tests.notary import material_files as files
from tests.notary.conftest import postgres_admin_url, postgres_url  # noqa: F401 (fixtures)
from tests.notary.signatures import data_url, drawn_png
from tests.signaling import case_office
from tests.signaling.callclient import CallClient, admit
from tests.signaling.case_office import Office, json_of, upload

pytestmark = pytest.mark.integration

api = case_office.api
office = case_office.office

MATTER = "kinship"  # its notice has all three kinds of requirement: upload, commitment, shared data
SHANGHAI = ZoneInfo("Asia/Shanghai")
APPLICANT_ZONE = "Europe/Berlin"


@pytest.fixture
def client(api: TestClient[Any, Any]) -> TestClient[Any, Any]:
    """The `clients` fixture (conftest.py) joins sessions through `client`: make it this app."""
    return api


async def _fulfil(
    api: TestClient[Any, Any], office: Office, case_id: str, notice: dict[str, Any]
) -> list[str]:
    """Meet each required material the way its notice says; returns the modes used."""
    h = office.headers("zhang")
    used = []
    for item in notice["materials"]:
        if item["optional"]:
            continue
        code, mode = item["code"], item["mode"]
        if mode == "upload":
            await upload(api, office, "zhang", case_id, code, f"{code}.jpg", files.jpeg())
        elif mode == "commitment":
            statement = {"requirement": code, "statement": "本人承诺所述亲属关系属实。"}
            await json_of(
                await api.post(f"/api/cases/{case_id}/commitments", json=statement, headers=h),
                201,
            )
        else:
            assert mode == "shared_data", item
            consent = {"requirement": code}
            await json_of(
                await api.post(f"/api/cases/{case_id}/shared-data", json=consent, headers=h), 201
            )
        used.append(mode)
    return used


async def _state(api: TestClient[Any, Any], office: Office, case_id: str) -> str:
    seen = await json_of(
        await api.get(f"/api/cases/{case_id}", headers=office.headers("zhang")), 200
    )
    return str(seen["case"]["state"])


async def _until_state(
    api: TestClient[Any, Any], office: Office, case_id: str, wanted: str, seconds: float = 10
) -> str:
    """Poll the case as its applicant does until it reaches `wanted` (or time runs out)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (state := await _state(api, office, case_id)) != wanted:
        if asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.1)
    return state


def _offset(instant: str, zone: str) -> str:
    """A UTC instant's wall clock in `zone`, as the API writes it: 2026-03-07T19:00+08:00."""
    at = dt.datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(ZoneInfo(zone))
    text = at.strftime("%Y-%m-%dT%H:%M%z")
    return f"{text[:-2]}:{text[-2:]}"


def _moved(entry: journal.JournalEntry) -> str:
    """A state change as "before->after"; empty for any other entry."""
    if entry.action != "case.transition":
        return ""
    return f"{(entry.before or {}).get('state')}->{(entry.after or {}).get('state')}"


def _personal(office: Office) -> list[str]:
    """What a public verifier must never be told: the people and their accounts."""
    return ["zhang", "mail.example", "wang", *office.ids.values()]


async def test_a_case_from_application_to_a_verified_certificate(
    api: TestClient[Any, Any], office: Office, clients: Callable[[str], CallClient]
) -> None:
    h, ids = office.headers, office.ids
    platform = api.app[PLATFORM]

    # 1. The applicant reads the one notice, opens a case, provides what it asks, submits.
    notice = (await json_of(await api.get(f"/api/matters/{MATTER}"), 200))["matter"]
    assert notice["remote_allowed"] is True
    opened = await api.post(
        "/api/cases", json={"matter": MATTER, "office": "SH01"}, headers=h("zhang")
    )
    case_id = str((await json_of(opened, 201))["case"]["id"])
    url = f"/api/cases/{case_id}"
    assert sorted(await _fulfil(api, office, case_id, notice)) == [
        "commitment",
        "shared_data",
        "upload",
    ]
    assert (await json_of(await api.get(url, headers=h("zhang")), 200))["missing"] == []
    await json_of(await api.post(f"{url}/submit", json={}, headers=h("zhang")), 200)
    assert await _state(api, office, case_id) == "submitted"

    # 2. The office's admin assigns wang; the case is in wang's queue, and wang accepts it.
    assigned = await api.post(f"{url}/assign", json={"notary_id": ids["wang"]}, headers=h("admin"))
    assert (await json_of(assigned, 200))["case"]["assigned_notary_id"] == ids["wang"]
    queue = await json_of(await api.get("/api/review/queue", headers=h("wang")), 200)
    assert [c["id"] for c in queue["queue"]] == [case_id]
    accepted = await json_of(await api.post(f"{url}/accept", json={}, headers=h("wang")), 200)
    assert accepted["case"]["state"] == "accepted"

    # 3. Wang opens a morning three days on (Shanghai); the applicant books it in Berlin time.
    day = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=3)).date().isoformat()
    window = {"date": day, "start": "09:00", "end": "10:00"}
    await json_of(await api.post("/api/availability", json=window, headers=h("wang")), 201)
    now = dt.datetime.now(dt.UTC)
    query = {
        "case_id": case_id,
        "tz": APPLICANT_ZONE,
        "from": now.isoformat().replace("+00:00", "Z"),
        "to": (now + dt.timedelta(days=5)).isoformat().replace("+00:00", "Z"),
    }
    slots = (
        await json_of(
            await api.get("/api/appointments/slots", params=query, headers=h("zhang")), 200
        )
    )["slots"]
    assert [s["office"]["start"] for s in slots] == [f"{day}T09:00+08:00", f"{day}T09:30+08:00"]
    chosen = slots[0]
    assert chosen["local"]["start"] == _offset(chosen["starts_at"], APPLICANT_ZONE)
    booking = {"case_id": case_id, "starts_at": chosen["starts_at"], "timezone": APPLICANT_ZONE}
    booked = await json_of(
        await api.post("/api/appointments", json=booking, headers=h("zhang")), 201
    )
    assert booked["appointment"]["local"]["start"] == chosen["local"]["start"]
    assert await _state(api, office, case_id) == "scheduled"

    # 4. The recorded session for this case: the applicant confirms the closed record.
    room = await api.post(
        "/api/rooms",
        json={
            "title": "亲属关系公证 视频询问",
            "case_ref": case_id,
            "participants": [{"role": "applicant", "name": "zhang"}],
        },
        headers=h("wang"),
    )
    created = await json_of(room, 201)
    room_id = created["room"]["id"]
    links = {link["role"]: link for link in created["links"]}
    notary, applicant = clients(links["notary"]["token"]), clients(links["applicant"]["token"])
    await notary.connect()
    await applicant.connect()
    await admit(notary, applicant)
    await notary.send({"type": "start"})
    await applicant.wait_for("session_state")
    await wait_for(lambda: applicant.frames_from(notary.participant_id, "video") >= 30, 20, "media")
    await notary.send(
        {"type": "record_entry", "question": "您与张大是什么关系？", "answer": "父子，张大是我父亲"}
    )
    await notary.send({"type": "record_entry", "question": "所述是否属实？", "answer": "属实"})
    await notary.send({"type": "record_delivery", "method": "electronic"})
    await notary.send({"type": "record_close"})
    text = await applicant.wait_for("record_text")
    assert "父子" in text["text"]
    assert await _state(api, office, case_id) == "scheduled"  # closed is not yet confirmed
    await applicant.send(
        {
            "type": "record_confirm",
            "text_sha256": text["text_sha256"],
            "signature": data_url(drawn_png()),
        }
    )
    await applicant.wait_for("record_confirmed")
    assert await _until_state(api, office, case_id, "interviewed") == "interviewed"
    await notary.send({"type": "end"})
    await wait_for(lambda: any(e.get("state") == "ended" for e in applicant.events), 15, "end")
    spool = platform.settings.data_dir / "spool"
    # The seal starts a moment after the end; wait for it to start, then for it to finish.
    await wait_for(lambda: any(spool.glob("*/sealed/manifest.json")), 30, "the seal")
    await platform.wait_for_seals()
    # The sealed evidence verifies and holds the link from the confirmed record to the case.
    (session,) = spool.iterdir()
    source = StoreSource.for_session(
        platform.store, platform.settings.evidence_bucket, session.name
    )
    evidence = verify(source, trusted_key=platform.recorder.key.public_key())
    assert evidence.ok, evidence.as_dict()
    manifest = json.loads(source.read("manifest.json") or b"{}")
    (link,) = [
        e["body"] for e in manifest["entries"] if e["body"].get("type") == "record_case_link"
    ]
    assert (link["case_ref"], link["moved"], link["reason"]) == (case_id, True, "interviewed")

    # 5. Wang approves and issues the certificate; the applicant downloads it.
    decide = {"outcome": "approved", "reasons": "亲属关系经询问及共享数据核实属实。"}
    await json_of(await api.post(f"{url}/decision", json=decide, headers=h("wang")), 201)
    statement = {
        "statement_zh": "兹证明申请人与其父亲存在父子关系。",
        "statement_en": "This is to certify that the applicant is the son of his father.",
    }
    issued = await json_of(
        await api.post(f"{url}/certificate", json=statement, headers=h("wang")), 201
    )
    year = dt.datetime.now(SHANGHAI).year
    assert issued["number"].startswith(f"SH01-{year}-")
    downloaded = await api.get(issued["pdf_url"], headers=h("zhang"))
    assert downloaded.status == 200 and downloaded.content_type == "application/pdf"
    pdf = await downloaded.read()
    assert pdf.startswith(b"%PDF-")
    assert (await api.get(issued["pdf_url"], headers=h("liu"))).status == 404
    assert await _state(api, office, case_id) == "certificate_issued"

    # 6. Anyone verifies, without logging in: number and code, the file, a changed file.
    by_code = await api.post(
        "/api/certificates/verify",
        json={"number": issued["number"], "code": issued["verification_code"]},
    )
    answer = await json_of(by_code, 200)
    assert (answer["genuine"], answer["reason"]) == (True, "genuine")
    facts = answer["certificate"]
    assert facts["number"] == issued["number"]
    assert facts["matter"] == {"code": MATTER, "name": {"zh-CN": "亲属关系", "en": "Kinship"}}
    assert facts["office"] == {"zh-CN": "上海公证处", "en": "Shanghai Notary Office"}
    assert facts["issued_on"] == dt.datetime.now(SHANGHAI).date().isoformat()
    assert set(facts) == {"number", "matter", "issued_on", "office"}
    told = json.dumps(answer, ensure_ascii=False)
    assert not [word for word in _personal(office) if word in told]

    async def verify_file(data: bytes) -> dict[str, Any]:
        response = await api.post(
            "/api/certificates/verify", data=data, headers={"Content-Type": "application/pdf"}
        )
        return await json_of(response, 200)

    unaltered = await verify_file(pdf)
    assert (unaltered["genuine"], unaltered["reason"]) == (True, "genuine")
    assert unaltered["certificate"] == facts
    at = pdf.index(b"ReportLab") + 1  # one letter of the producer, inside the signed bytes
    changed = pdf[:at] + bytes([pdf[at] ^ 0x20]) + pdf[at + 1 :]
    altered = await verify_file(changed)
    assert (altered["genuine"], altered["reason"], altered["certificate"]) == (
        False,
        "altered",
        None,
    )

    # 7. Electronic delivery to delivered; the applicant rates the case. The method agreed in
    # the interview (and confirmed with the record) is offered before anything is chosen.
    delivery = f"{url}/delivery"
    offered = await json_of(await api.get(delivery, headers=h("zhang")), 200)
    assert offered == {"delivery": None, "agreed_method": "electronic"}
    chosen_method = await api.put(delivery, json={"method": "electronic"}, headers=h("zhang"))
    assert (await json_of(chosen_method, 200))["delivery"]["state"] == "preparing"
    for step in ("dispatched", "delivered"):
        moved = await api.post(f"{delivery}/steps", json={"state": step}, headers=h("wang"))
        assert (await json_of(moved, 200))["delivery"]["state"] == step
    assert await _state(api, office, case_id) == "delivered"
    rating = {"score": 5, "comment": "流程清楚，全程线上办理。"}
    rated = await json_of(await api.post(f"{url}/rating", json=rating, headers=h("zhang")), 201)
    assert rated["rating"]["score"] == 5

    # 8. The journal is intact and tells the case's story in order.
    async with platform.engine.connect() as conn:
        report = await journal.verify(conn)
        entries = await journal.entries_for_case(conn, case_id)
    assert report.ok, report.as_dict()
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    steps = [(e.action, e.actor_role, _moved(e)) for e in entries]
    assert steps == [
        ("case.create", "applicant", ""),
        *[("case.material_added", "applicant", "")] * 3,
        ("case.transition", "applicant", "draft->submitted"),
        ("case.assign", "admin", ""),
        ("case.transition", "notary", "submitted->accepted"),
        ("case.transition", "applicant", "accepted->scheduled"),
        ("appointment.booked", "applicant", ""),
        ("case.transition", "notary", "scheduled->interviewed"),
        ("case.delivery_agreed", "notary", ""),
        ("case.decision", "notary", ""),
        ("case.transition", "notary", "interviewed->decided"),
        ("case.transition", "notary", "decided->certificate_issued"),
        ("certificate.issued", "notary", ""),
        ("case.delivery_method", "applicant", ""),
        *[("case.delivery_step", "notary", "")] * 2,
        ("case.transition", "notary", "certificate_issued->delivered"),
        ("case.rated", "applicant", ""),
    ]
    by_staff = {e.actor_id for e in entries if e.actor_role == "notary"}
    assert by_staff == {ids["wang"]}
    # The session's notary moved it, naming the session and the text the applicant confirmed.
    why = next(e.reason or "" for e in entries if _moved(e) == "scheduled->interviewed")
    assert room_id in why and text["text_sha256"] in why
    issued_entry = next(e for e in entries if e.action == "certificate.issued")
    assert issued["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()
    assert issued["pdf_sha256"] in json.dumps(issued_entry.after)
