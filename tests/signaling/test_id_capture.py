"""The ID photo as a camera still: the notary asks the applicant (or the site officer, for a
consulate case) to hold the document up; only the asked participant may send one, of the kind
the notary chose, within the time window; the notary learns what became of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from signaling import hub as hub_module
from signaling.appkeys import HUBS
from tests import support
from tests.media.harness import wait_for
from tests.signaling.callclient import CallClient, admit

pytestmark = pytest.mark.integration


async def _send_photo(client: TestClient, token: str, photo: bytes, kind: str = "passport") -> Any:
    (room_id,) = client.app[HUBS]
    return await client.post(
        f"/api/rooms/{room_id}/id-photo?kind={kind}",
        data=photo,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"},
    )


async def test_only_the_asked_participant_sends_one_still_of_the_asked_kind(
    client: TestClient, links: dict[str, Any], clients: Callable[[str], CallClient]
) -> None:
    good = support.testdata_or_skip("faces/obama.jpg").read_bytes()
    two = support.testdata_or_skip("faces/two_people.jpg").read_bytes()
    notary = clients(links["notary"]["token"])
    applicant = clients(links["applicant"]["token"])
    officer = clients(links["site_officer"]["token"])
    for call in (notary, applicant, officer):
        await call.connect()
    await admit(notary, applicant)
    await admit(notary, officer)
    await notary.send({"type": "start"})  # recorded: requests and photos go into the chain
    await notary.wait_for("session_state")
    token = links["applicant"]["token"]

    # Not asked: refused. Nor may the applicant ask for it.
    assert (await _send_photo(client, token, good)).status == 403
    await applicant.send({"type": "id_capture_request", "ref": "a"})
    assert (await applicant.wait_for("error"))["code"] == "forbidden"

    await notary.send(
        {
            "type": "id_capture_request",
            "participant": applicant.participant_id,
            "kind": "cn_resident_id",
        }
    )
    asked = await applicant.wait_for("id_capture")
    assert asked["kind"] == "cn_resident_id" and asked["expires_s"] > 0
    await notary.wait_for("id_capture_requested")

    # Face processing needs the applicant's consent first; the request still stands.
    early = await _send_photo(client, token, good)
    assert early.status == 409 and (await early.json())["error"]["code"] == "consent_missing"
    await applicant.send({"type": "consent", "recording": True, "face": True})
    await applicant.wait_for("consent_recorded")

    # A photo with two faces is refused with advice; the notary hears why; retake allowed.
    refused = await _send_photo(client, token, two)
    assert refused.status == 422
    outcome = await notary.wait_for("id_photo")
    assert outcome["reason"] == "several_faces" and "face" not in outcome
    assert outcome["advice_zh"] and outcome["source"] == "camera"

    accepted = await _send_photo(client, token, good, kind="passport")
    assert accepted.status == 201, await accepted.text()
    body = await accepted.json()
    assert body["face"]["kind"] == "cn_resident_id"  # the notary's choice, not the sender's
    await applicant.wait_for("id_capture_done")
    taken = [e for e in notary.events if e["type"] == "id_photo" and e.get("face")]
    assert taken and taken[0]["by"] == applicant.participant_id
    assert "template" not in taken[0]["face"] and "encoding" not in taken[0]["face"]
    # One photo per request.
    assert (await _send_photo(client, token, good)).status == 403

    # The site officer captures the applicant's document when asked to.
    officer_token = links["site_officer"]["token"]
    assert (await _send_photo(client, officer_token, good)).status == 403
    await notary.send({"type": "id_capture_request", "participant": officer.participant_id})
    await officer.wait_for("id_capture")
    by_officer = await _send_photo(client, officer_token, good)
    assert by_officer.status == 201, await by_officer.text()
    assert (await by_officer.json())["participant"] == applicant.participant_id

    (hub,) = client.app[HUBS].values()
    chain = getattr(hub.recorder.chain, "chain", hub.recorder.chain)
    events = [e.body for e in chain.entries if e.kind == "event"]
    asked = [e for e in events if e["type"] == "id_capture_requested"]
    assert [e["participant"] for e in asked] == [applicant.participant_id, officer.participant_id]
    photos = [e for e in events if e["type"] == "id_photo"]
    assert [(e["source"], e["by"]) for e in photos] == [
        ("camera", applicant.participant_id),
        ("camera", officer.participant_id),
    ]
    assert photos[0]["face"]["kind"] == "cn_resident_id" and "template" not in photos[0]["face"]


async def test_a_request_expires_and_observers_cannot_be_asked(
    client: TestClient,
    links: dict[str, Any],
    clients: Callable[[str], CallClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = support.testdata_or_skip("faces/obama.jpg").read_bytes()
    notary = clients(links["notary"]["token"])
    applicant = clients(links["applicant"]["token"])
    await notary.connect()
    await applicant.connect()
    await admit(notary, applicant)
    await applicant.send({"type": "consent", "recording": True, "face": True})
    await applicant.wait_for("consent_recorded")

    monkeypatch.setattr(hub_module, "CAPTURE_WINDOW_S", -1.0)  # already over when asked
    await notary.send({"type": "id_capture_request"})  # the applicant, by default
    await applicant.wait_for("id_capture")
    assert (await _send_photo(client, links["applicant"]["token"], good)).status == 403

    await notary.send(
        {"type": "id_capture_request", "participant": notary.participant_id, "ref": "self"}
    )
    assert (await _error(notary, "self"))["code"] == "invalid"
    await notary.send({"type": "id_capture_request", "kind": "driving_licence", "ref": "kind"})
    assert (await _error(notary, "kind"))["code"] == "invalid"


async def _error(call: CallClient, ref: str) -> dict[str, Any]:
    await wait_for(
        lambda: any(e["type"] == "error" and e.get("ref") == ref for e in call.events),
        10,
        f"the error answering {ref}",
    )
    return next(e for e in call.events if e["type"] == "error" and e.get("ref") == ref)
