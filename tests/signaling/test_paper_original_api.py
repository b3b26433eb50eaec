"""The paper original promised in a consulate session, moved on after the session through the
REST route: signed addenda in the evidence store, the case's journal when the case exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from notary.accounts import create_account, ensure_office
from notary.cases import create_case
from notary.matters import list_matters
from notary.roles import Role
from notary.tables import journal_entries
from recorder.addenda import addendum_name, addendum_names
from recorder.export import export_session
from recorder.package import ZipSource
from recorder.store_source import StoreSource
from recorder.verify import verify
from signaling.appkeys import PLATFORM
from tests.media.harness import wait_for
from tests.signaling.callclient import CallClient

pytestmark = pytest.mark.integration


async def _room(client: TestClient, token: str, case_ref: str) -> dict[str, dict[str, Any]]:
    response = await client.post(
        "/api/rooms",
        json={
            "title": "领事视频公证",
            "case_ref": case_ref,
            "participants": [
                {"role": "applicant", "name": "张三"},
                {"role": "site_officer", "name": "领事 王"},
            ],
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status == 201, await response.text()
    return {link["role"]: link for link in (await response.json())["links"]}


async def _sealed_session(client: TestClient, clients, links: dict[str, Any]) -> str:  # type: ignore[no-untyped-def]
    """The notary records the promise in a recorded session and ends it; its id."""
    platform = client.app[PLATFORM]
    notary: CallClient = clients(links["notary"]["token"])
    await notary.connect()
    await notary.send({"type": "start"})
    await notary.wait_for("session_state")
    await notary.send(
        {
            "type": "record_paper_original",
            "mission": "中国驻柏林大使馆",
            "expected_posting": "2026-12-01",
        }
    )
    await notary.wait_for("record")
    await notary.send({"type": "end"})
    spool = platform.settings.data_dir / "spool"
    await wait_for(lambda: any(spool.glob("*/sealed/manifest.json")), 30, "the seal")
    await platform.wait_for_seals()
    (session,) = [d.name for d in spool.iterdir() if (d / "sealed").is_dir()]
    return session


async def test_the_paper_original_is_tracked_into_the_case_journal(
    client: TestClient, login_token, clients, tmp_path: Path
) -> None:
    platform = client.app[PLATFORM]
    token = await login_token(Role.NOTARY, "li@example.org")
    other = await login_token(Role.NOTARY, "zhou@example.org")
    supervisor = await login_token(Role.SUPERVISOR, "sup@example.org")
    applicant_token = await login_token(Role.APPLICANT, "zhang@example.org")
    async with platform.engine.begin() as conn:
        office = await ensure_office(
            conn, "TEST", "测试公证处", "Test Notary Office", "Asia/Shanghai"
        )
        person = await create_account(
            conn,
            role=Role.APPLICANT,
            display_name="张三",
            login="z3@example.org",
            password=None,
        )
        matter = (await list_matters(conn))[0]
        case = await create_case(
            conn,
            matter=matter,
            office_id=office,
            applicant_account_id=person.id,
            applicant_name="张三",
            actor_id=person.id,
            actor_role="applicant",
        )
    session_id = await _sealed_session(client, clients, await _room(client, token, case.id))
    url = f"/api/recordings/{session_id}/paper-original"

    def auth(bearer: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {bearer}"}

    response = await client.get(url, headers=auth(token))
    assert response.status == 200, await response.text()
    state = await response.json()
    assert (state["status"], state["mission"], state["steps"]) == (
        "promised",
        "中国驻柏林大使馆",
        [],
    )

    skipped = await client.post(url, json={"status": "received"}, headers=auth(token))
    assert skipped.status == 409 and (await skipped.json())["error"]["code"] == "bad_state"
    assert (await client.post(url, json={"status": "posted"}, headers=auth(other))).status == 404
    assert (
        await client.post(url, json={"status": "posted"}, headers=auth(applicant_token))
    ).status == 403
    bad = await client.post(url, json={"status": "lost"}, headers=auth(token))
    assert bad.status == 400

    posted = await client.post(
        url, json={"status": "posted", "note": "EMS EA123456789CN"}, headers=auth(token)
    )
    assert posted.status == 201, await posted.text()
    assert (await posted.json())["journaled"] is True
    received = await client.post(url, json={"status": "received"}, headers=auth(token))
    assert received.status == 201
    again = await client.post(url, json={"status": "received"}, headers=auth(token))
    assert again.status == 409

    # The supervisor reads it; the steps are signed addenda in the store, linked to the seal.
    seen = await (await client.get(url, headers=auth(supervisor))).json()
    assert [s["status"] for s in seen["steps"]] == ["posted", "received"]
    source = StoreSource.for_session(platform.store, platform.settings.evidence_bucket, session_id)
    first = json.loads(source.read(addendum_name(0)) or b"{}")
    assert first["note"] == "EMS EA123456789CN" and first["signature"]
    assert first["prev_sha256"] == first["manifest_sha256"]
    async with platform.engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(journal_entries.c.after_json).where(
                    journal_entries.c.case_id == case.id,
                    journal_entries.c.action == "case.paper_original",
                )
            )
        ).all()
    assert [json.loads(r.after_json)["status"] for r in rows] == ["posted", "received"]

    # A court checks the steps without the platform: in the store, and in the exported package.
    public = platform.recorder.key.public_key()
    for evidence in (source, ZipSource(export_session(source, tmp_path / "evidence.zip"))):
        assert addendum_names(evidence.names()) == [addendum_name(0), addendum_name(1)]
        report = verify(evidence, trusted_key=public)
        assert report.ok, report.as_dict()
        (check,) = [c.message for c in report.checks if c.name == "paper_original"]
        assert "posted (" in check and "received (" in check


async def test_without_a_case_the_steps_live_in_the_evidence_only(
    client: TestClient, login_token, clients
) -> None:
    platform = client.app[PLATFORM]
    token = await login_token(Role.NOTARY, "li@example.org")
    session_id = await _sealed_session(client, clients, await _room(client, token, "C-9"))
    url = f"/api/recordings/{session_id}/paper-original"
    headers = {"Authorization": f"Bearer {token}"}
    posted = await client.post(url, json={"status": "posted"}, headers=headers)
    assert posted.status == 201, await posted.text()
    assert (await posted.json())["journaled"] is False
    source = StoreSource.for_session(platform.store, platform.settings.evidence_bucket, session_id)
    assert json.loads(source.read(addendum_name(0)) or b"{}")["status"] == "posted"
    # Evidence is never overwritten: the same step cannot be written over.
    with pytest.raises(Exception, match="already exists"):
        platform.store.put_locked(
            platform.settings.evidence_bucket,
            source.prefix + addendum_name(0),
            b"{}",
            platform.retention_class("long"),
        )
