"""GET /api/cases/{id}/journal: the case's history for those who see its file, nobody else."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from notary.cases import CaseState
from signaling.appkeys import PLATFORM
from tests.notary.certificate_world import case_in_state, make_world

pytestmark = pytest.mark.integration


def _bearer(client: TestClient, account_id: str, role: str, office: int | None) -> dict[str, str]:
    token = client.app[PLATFORM].tokens.issue_session(account_id, role, office, 600)
    return {"Authorization": f"Bearer {token}"}


async def test_history_for_the_applicant_and_the_notary_only(client: TestClient) -> None:
    async with client.app[PLATFORM].engine.begin() as conn:
        world = await make_world(conn)
        case_id = await case_in_state(conn, world, CaseState.ACCEPTED)
    url = f"/api/cases/{case_id}/journal"

    mine = await client.get(url, headers=_bearer(client, world.applicant, "applicant", None))
    entries = (await mine.json())["entries"]
    assert mine.status == 200
    assert [e["action"] for e in entries] == ["case.create", "case.transition", "case.transition"]
    assert [e["after"]["state"] for e in entries] == ["draft", "submitted", "accepted"]
    assert entries[-1]["actor_id"] == world.notary and entries[-1]["actor_role"] == "notary"
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and all(len(e["hash"]) == 64 for e in entries)

    notary = await client.get(url, headers=_bearer(client, world.notary, "notary", world.office))
    assert notary.status == 200 and (await notary.json())["entries"] == entries

    other = _bearer(client, world.other_notary, "notary", world.office)
    assert (await client.get(url, headers=other)).status == 404
    assert (await client.get(url)).status == 401
    # Read-only: there is no route that changes the journal.
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await client.request(
            method, url, headers=_bearer(client, world.notary, "notary", world.office)
        )
        assert response.status == 405
