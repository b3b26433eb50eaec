"""The interview record through the real server with aiortc clients: the notary writes entries
(with recording time codes), closes the record, the applicant and the site officer confirm with
drawn signatures, and the sealed evidence holds all of it and verifies."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from PIL import Image

from notary.roles import Role
from recorder.store_source import StoreSource
from recorder.verify import verify
from signaling.appkeys import PLATFORM
from signaling.interview import WRITE_BURST, InterviewDesk
from signaling.protocol import Message
from signaling.rooms import ParticipantRole, Room
from tests.media.harness import wait_for
from tests.notary.signatures import data_url, drawn_png
from tests.signaling.callclient import CallClient, admit

pytestmark = pytest.mark.integration


async def _error(client: CallClient, ref: str) -> dict[str, Any]:
    async def found() -> dict[str, Any]:
        await wait_for(
            lambda: any(e["type"] == "error" and e.get("ref") == ref for e in client.events),
            10,
            f"the error for {ref}",
        )
        return next(e for e in client.events if e["type"] == "error" and e.get("ref") == ref)

    return await found()


def _latest_record(notary: CallClient) -> dict[str, Any]:
    records = [e["record"] for e in notary.events if e["type"] == "record"]
    return records[-1] if records else {"entries": [], "confirmations": [], "state": "none"}


async def test_the_record_is_written_confirmed_and_sealed(
    client: TestClient, links: dict[str, dict[str, Any]], clients
) -> None:
    platform = client.app[PLATFORM]
    notary: CallClient = clients(links["notary"]["token"])
    applicant: CallClient = clients(links["applicant"]["token"])
    officer: CallClient = clients(links["site_officer"]["token"])
    for call in (notary, applicant, officer):
        await call.connect()
    await admit(notary, applicant)
    await admit(notary, officer)

    # Before the recording: an entry without a time code; the applicant may not write.
    await notary.send({"type": "record_entry", "question": "您的姓名？", "answer": "张三"})
    await applicant.send({"type": "record_entry", "question": "forged", "ref": "w"})
    assert (await _error(applicant, "w"))["code"] == "forbidden"
    await wait_for(lambda: _latest_record(notary)["entries"], 5, "the entry")
    assert _latest_record(notary)["entries"][0]["time_code"] is None
    await notary.send({"type": "record_close", "ref": "early"})
    assert (await _error(notary, "early"))["code"] == "not_recording"

    await notary.send({"type": "start"})
    await applicant.wait_for("session_state")
    await wait_for(lambda: applicant.frames_from(notary.participant_id, "video") >= 30, 20, "media")
    await notary.send({"type": "record_entry", "question": "是否自愿？", "answer": "是"})
    await notary.send(
        {"type": "record_entry", "entry": 1, "question": "您的姓名？", "answer": "张三 (Zhang San)"}
    )
    await notary.send({"type": "record_delivery", "method": "post"})
    await notary.send(
        {
            "type": "record_paper_original",
            "mission": "中国驻柏林大使馆",
            "expected_posting": "2026-12-01",
        }
    )
    await notary.send({"type": "record_close"})
    text_event = await applicant.wait_for("record_text")
    officer_text = await officer.wait_for("record_text")
    assert text_event["text"] == officer_text["text"]
    digest = text_event["text_sha256"]
    assert hashlib.sha256(text_event["text"].encode()).hexdigest() == digest
    assert "张三 (Zhang San)" in text_event["text"] and "中国驻柏林大使馆" in text_event["text"]

    # A JPEG labelled as a PNG, an oversized image, an empty pad: refused, nothing confirmed.
    jpeg = io.BytesIO()
    Image.new("RGB", (300, 100)).save(jpeg, "JPEG")
    forged = {"type": "record_confirm", "text_sha256": digest, "ref": "forged"}
    await applicant.send(forged | {"signature": data_url(jpeg.getvalue())})
    assert (await _error(applicant, "forged"))["code"] == "bad_signature"
    big = {"type": "record_confirm", "text_sha256": digest, "ref": "big"}
    await applicant.send(big | {"signature": data_url(drawn_png(width=2500, height=900))})
    assert (await _error(applicant, "big"))["code"] in ("bad_signature", "too_large")
    stale = {"type": "record_confirm", "text_sha256": "0" * 64, "ref": "stale"}
    await applicant.send(stale | {"signature": data_url(drawn_png())})
    assert (await _error(applicant, "stale"))["code"] == "text_changed"
    await notary.send(
        {
            "type": "record_confirm",
            "text_sha256": digest,
            "signature": data_url(drawn_png()),
            "ref": "n",
        }
    )
    assert (await _error(notary, "n"))["code"] == "forbidden"

    applicant_png = drawn_png()
    await applicant.send(
        {"type": "record_confirm", "text_sha256": digest, "signature": data_url(applicant_png)}
    )
    await applicant.wait_for("record_confirmed")
    no_attestation = {"type": "record_confirm", "text_sha256": digest, "ref": "att"}
    await officer.send(no_attestation | {"signature": data_url(drawn_png(500, 150))})
    assert (await _error(officer, "att"))["code"] == "attestation_missing"
    await officer.send(
        {
            "type": "record_confirm",
            "text_sha256": digest,
            "signature": data_url(drawn_png(500, 150)),
            "passport_checked": True,
            "note": "护照 E12345678 原件已核对",
        }
    )
    await officer.wait_for("record_confirmed")
    await wait_for(
        lambda: len(_latest_record(notary)["confirmations"]) == 2, 5, "both confirmations"
    )
    assert _latest_record(notary)["text_sha256"] == digest

    await notary.send({"type": "end"})
    await wait_for(lambda: any(e.get("state") == "ended" for e in applicant.events), 15, "end")
    await wait_for(
        lambda: any((platform.settings.data_dir / "spool").glob("*/sealed/manifest.json")),
        30,
        "the seal",
    )
    await platform.wait_for_seals()

    session_id = next(iter((platform.settings.data_dir / "spool").iterdir())).name
    source = StoreSource.for_session(platform.store, platform.settings.evidence_bucket, session_id)
    report = verify(source, trusted_key=platform.recorder.key.public_key())  # type: ignore[union-attr]
    assert report.ok, report.as_dict()
    events = [
        e["body"]
        for e in json.loads(source.read("manifest.json") or b"{}")["entries"]
        if e["kind"] == "event"
    ]
    kinds = [e["type"] for e in events]
    entries = [e for e in events if e["type"] == "record_entry"]
    assert [(e["entry"], e["version"]) for e in entries] == [(1, 1), (2, 1), (1, 2)]
    assert entries[0]["time_code"] is None  # written before the recording, chained at its start
    assert kinds.index("record_entry") > kinds.index("recording_started")
    assert 0 < entries[1]["time_code"] < 60
    assert entries[2]["time_code"] is None and entries[2]["written_time_code"] > 0
    closed = next(e for e in events if e["type"] == "record_closed")
    assert closed["text_sha256"] == digest
    assert hashlib.sha256(closed["text"].encode()).hexdigest() == digest
    assert set(closed["confirmers"]) == {applicant.participant_id, officer.participant_id}
    assert next(e for e in events if e["type"] == "record_delivery")["method"] == "post"
    promise = next(e for e in events if e["type"] == "record_paper_original")
    assert promise["mission"] == "中国驻柏林大使馆"
    confirmed = {e["participant"]: e for e in events if e["type"] == "record_confirmed"}
    assert set(confirmed) == {applicant.participant_id, officer.participant_id}
    mine = confirmed[applicant.participant_id]
    assert mine["text_sha256"] == digest and mine["token_id"]
    assert base64.b64decode(mine["signature_png"]) == applicant_png
    assert mine["signature_sha256"] == hashlib.sha256(applicant_png).hexdigest()
    assert confirmed[officer.participant_id]["passport_checked"] is True
    # Refused confirmations left nothing in the chain.
    assert len([k for k in kinds if k == "record_confirmed"]) == 2


async def test_observers_read_nothing_of_the_record_and_write_nothing(
    client: TestClient, login_token, clients
) -> None:
    token = await login_token(Role.NOTARY, "li@example.org")
    response = await client.post(
        "/api/rooms",
        json={
            "title": "视频询问",
            "case_ref": "C-2",
            "participants": [
                {"role": "applicant", "name": "张三"},
                {"role": "observer", "name": "督察 赵"},
            ],
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    links = {link["role"]: link for link in (await response.json())["links"]}
    notary: CallClient = clients(links["notary"]["token"])
    observer: CallClient = clients(links["observer"]["token"])
    await notary.connect()
    await observer.connect()
    await notary.send({"type": "start"})
    await notary.send({"type": "record_entry", "question": "您的姓名？", "answer": "张三"})
    await notary.send({"type": "record_delivery", "method": "pickup"})
    await notary.send({"type": "record_close"})
    await wait_for(
        lambda: any(
            e["type"] == "record" and e["record"]["state"] == "closed" for e in notary.events
        ),
        10,
        "the closed record",
    )
    await observer.send({"type": "record_entry", "question": "x", "ref": "w"})
    assert (await _error(observer, "w"))["code"] == "forbidden"
    confirm = {"type": "record_confirm", "text_sha256": "0" * 64, "ref": "c"}
    await observer.send(confirm | {"signature": data_url(drawn_png())})
    assert (await _error(observer, "c"))["code"] == "forbidden"
    assert not [e for e in observer.events if e["type"].startswith("record")]
    assert "张三" not in json.dumps([e for e in observer.events if e["type"] != "welcome"])


async def test_record_messages_are_rate_limited_per_participant(
    client: TestClient, links: dict[str, dict[str, Any]], clients
) -> None:
    notary: CallClient = clients(links["notary"]["token"])
    await notary.connect()
    for n in range(WRITE_BURST + 5):
        await notary.send({"type": "record_entry", "question": f"Q{n}", "ref": f"q{n}"})
    await wait_for(
        lambda: any(e["type"] == "error" and e["code"] == "rate_limited" for e in notary.events),
        5,
        "a rate_limited error",
    )
    await wait_for(lambda: len(_latest_record(notary)["entries"]) >= WRITE_BURST, 5, "entries")
    assert len(_latest_record(notary)["entries"]) < WRITE_BURST + 5


async def test_a_confirmer_who_comes_back_gets_the_fixed_text_again() -> None:
    room = Room(id="r-1", title="t", case_ref="C-1", office_id=None, created_by="a", scheduled_at=0)
    notary = room.invite(ParticipantRole.NOTARY, "李")
    applicant = room.invite(ParticipantRole.APPLICANT, "张三")
    sent: list[tuple[str, dict[str, Any]]] = []
    desk = InterviewDesk(room, lambda: None, lambda pid, e: sent.append((pid, e)), recorded=False)
    for kind, data in (
        ("record_entry", {"question": "Q", "answer": "A"}),
        ("record_delivery", {"method": "pickup"}),
        ("record_close", {}),
    ):
        await desk.handle(notary.id, Message(kind, data, None), "jti-n")
    sent.clear()
    desk.joined(applicant.id)
    desk.joined(notary.id)
    (to_applicant,) = [e for pid, e in sent if pid == applicant.id]
    assert to_applicant["type"] == "record_text" and to_applicant["confirmed"] is False
    assert to_applicant["text_sha256"] == desk.record.text_sha256()
    (to_notary,) = [e for pid, e in sent if pid == notary.id]
    assert to_notary["record"]["state"] == "closed"
