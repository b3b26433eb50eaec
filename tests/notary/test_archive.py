"""notary/archive.py: who archives which finished case; journaled; approved cases wait."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import decision, journal
from notary.accounts import create_account
from notary.archive import archive
from notary.cases import CaseError, CaseState, get_case
from notary.roles import Role
from tests.notary.aftercare_world import delivered, interviewed
from tests.notary.case_world import make_case_world

pytestmark = pytest.mark.integration


async def test_a_refused_case_is_archived_by_its_notary(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await interviewed(conn, world)
        with pytest.raises(CaseError) as early:
            await archive(conn, case.id, actor_id=world.notary, actor_role="notary")
        assert early.value.code == "not_finished"
        await decision.decide(
            conn, case.id, notary_id=world.notary, outcome="refused", reasons="不真实"
        )
        for actor, role, code in [
            (world.notary2, "notary", "not_assigned"),
            (world.applicant, "applicant", "forbidden"),
        ]:
            with pytest.raises(CaseError) as refused:
                await archive(conn, case.id, actor_id=actor, actor_role=role)
            assert refused.value.code == code
        archived = await archive(
            conn, case.id, actor_id=world.notary, actor_role="notary", reason=" 拒绝公证，归档 "
        )
        assert archived.state is CaseState.ARCHIVED
        last = (await journal.entries_for_case(conn, case.id))[-1]
    assert (last.action, last.actor_id, last.reason) == (
        "case.transition",
        world.notary,
        "拒绝公证，归档",
    )
    assert (last.before, last.after) == ({"state": "decided"}, {"state": "archived"})


async def test_an_approved_case_waits_for_its_certificate(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await interviewed(conn, world)
        await decision.decide(
            conn, case.id, notary_id=world.notary, outcome="approved", reasons="r"
        )
        with pytest.raises(CaseError) as refused:
            await archive(conn, case.id, actor_id=world.admin, actor_role="admin")
        assert refused.value.code == "decision_mismatch"
        still = await get_case(conn, case.id)
    assert still is not None and still.state is CaseState.DECIDED


async def test_a_delivered_case_is_archived_by_an_admin_of_its_office(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await delivered(conn, world)
        elsewhere = await create_account(
            conn,
            role=Role.ADMIN,
            display_name="admin2",
            login="admin2@example.org",
            password=None,
            office_id=world.other_office,
        )
        with pytest.raises(CaseError) as foreign:
            await archive(conn, case.id, actor_id=elsewhere.id, actor_role="admin")
        assert foreign.value.code == "not_of_office"
        with pytest.raises(CaseError) as long_reason:
            await archive(conn, case.id, actor_id=world.admin, actor_role="admin", reason="x" * 501)
        assert long_reason.value.code == "invalid_reason"
        archived = await archive(conn, case.id, actor_id=world.admin, actor_role="admin")
        assert archived.state is CaseState.ARCHIVED
        with pytest.raises(CaseError) as again:  # archived is final
            await archive(conn, case.id, actor_id=world.admin, actor_role="admin")
        assert again.value.code == "not_finished"
        with pytest.raises(LookupError):
            await archive(conn, "nope", actor_id=world.admin, actor_role="admin")
