"""Presence checks in a live session, through the real server: between full checks the live
match only looks for the verified face; the notary gets `identity.present` (no score) and the
evidence chain keeps it. The applicant's camera is tests/signaling/test_liveness_call.py's
`PoseCamera` (real photographs of Obama as a webcam frames him, sent over WebRTC)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from identity.faces import Image
from tests import support
from tests.signaling.test_liveness_call import PoseCamera, _call, _hub, _until, poses

pytestmark = pytest.mark.integration

__all__ = ["poses"]  # the fixture, shared with the liveness tests


async def test_presence_checks_reach_the_notary_and_the_evidence_without_a_score(
    client: TestClient, links: dict[str, Any], loopback_ice: None, poses: dict[str, list[Image]]
) -> None:
    camera = PoseCamera(poses)
    async with _call(client, links, camera) as (notary, _applicant):
        hub = _hub(client)
        await notary.send({"type": "start"})  # recorded: the results go into the chain
        await notary.wait_for("session_state")
        response = await client.post(
            f"/api/rooms/{hub.room.id}/id-photo?kind=passport",
            data=support.testdata_or_skip("faces/obama.jpg").read_bytes(),
            headers={"Authorization": f"Bearer {links['notary']['token']}"},
        )
        assert response.status == 201, await response.text()

        def results() -> list[dict[str, Any]]:
            return [e["result"] for e in notary.events if e["type"] == "identity"]

        # The first verdict, then a presence check steady_interval (3 s of media time) later.
        await _until(lambda: "identity.present" in [r["type"] for r in results()], 20, "presence")
        seen = results()
        first = next(r for r in seen if r["type"] in ("identity.match", "identity.mismatch"))
        assert first["type"] == "identity.match" and first["check_kind"] == "full"
        present = next(r for r in seen if r["type"] == "identity.present")
        assert present["check_kind"] == "presence" and present["distance"] is None
        assert present["faces"] == 1 and present["box"] and present["check"] > first["check"]
        assert present["media_time"] - first["media_time"] >= 3.0 - 0.1

        assert hub.recorder is not None
        chain: Any = getattr(hub.recorder.chain, "chain", hub.recorder.chain)
        recorded = [
            e.body["result"]
            for e in chain.entries
            if e.kind == "event" and e.body.get("type") == "identity"
        ]
        assert present in recorded  # the same record the notary got, in the evidence
