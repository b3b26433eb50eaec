"""notary/recusal.py: parties, close relatives and interests keep a notary off a case."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import journal
from notary.cases import CaseError, get_case
from notary.recusal import RecusalConflict, assign, conflicts_of, declare, recuse
from tests.notary.case_world import draft, make_case_world


@pytest.mark.integration
async def test_conflicts_and_assignment(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await draft(conn, world, by_officer=True)
        by_admin = {"actor_id": world.admin, "actor_role": "admin"}
        assert await conflicts_of(conn, case, world.notary) == []
        assert await conflicts_of(conn, case, world.officer) == ["is_party"]  # opened it
        assert await conflicts_of(conn, case, world.applicant) == ["is_party"]
        await declare(
            conn,
            case,
            notary_id=world.notary,
            kind="relative",
            relationship="sibling",
            reason="哥哥",
            actor_id=world.applicant,
            actor_role="applicant",
        )
        await declare(
            conn,
            case,
            notary_id=world.notary2,
            kind="relative",
            relationship="other",
            reason="同学",
            actor_id=world.applicant,
            actor_role="applicant",
        )
        assert await conflicts_of(conn, case, world.notary) == ["close_relative"]
        assert await conflicts_of(conn, case, world.notary2) == []
        with pytest.raises(RecusalConflict) as refused:
            await assign(conn, case, notary_id=world.notary, **by_admin)
        assert refused.value.reasons == ["close_relative"]
        with pytest.raises(CaseError, match="no active notary"):
            await assign(conn, case, notary_id=world.other_notary, **by_admin)
        with pytest.raises(CaseError, match="no active notary"):
            await assign(conn, case, notary_id=world.admin, **by_admin)
        with pytest.raises(CaseError, match="relationship"):
            await declare(
                conn,
                case,
                notary_id=world.notary2,
                kind="relative",
                relationship="cousin",
                reason="x",
                actor_id=world.applicant,
                actor_role="applicant",
            )
        await assign(conn, case, notary_id=world.notary2, **by_admin)
        case = await get_case(conn, case.id)
        assert case is not None and case.assigned_notary_id == world.notary2

        # Declaring an interest takes the case off the notary at once.
        await declare(
            conn,
            case,
            notary_id=world.notary2,
            kind="interest",
            relationship=None,
            reason="持有申请人公司股份",
            actor_id=world.notary2,
            actor_role="notary",
        )
        case = await get_case(conn, case.id)
        assert case is not None and case.assigned_notary_id is None
        assert await conflicts_of(conn, case, world.notary2) == ["interest"]
        history = [e.action for e in await journal.entries_for_case(conn, case.id)]
    assert history.count("case.conflict_declared") == 3
    assert history[-2:] == ["case.conflict_declared", "case.unassign"]


@pytest.mark.integration
async def test_a_notary_recuses_with_a_reason(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await draft(conn, world)
        await assign(conn, case, notary_id=world.notary, actor_id=world.admin, actor_role="admin")
        case = await get_case(conn, case.id)
        assert case is not None
        with pytest.raises(CaseError, match="reason"):
            await recuse(conn, case, notary_id=world.notary, reason="  ")
        recusal = await recuse(conn, case, notary_id=world.notary, reason="曾代理对方")
        assert recusal.kind == "recusal" and recusal.reason == "曾代理对方"
        case = await get_case(conn, case.id)
        assert case is not None and case.assigned_notary_id is None
        with pytest.raises(RecusalConflict):
            await assign(
                conn, case, notary_id=world.notary, actor_id=world.admin, actor_role="admin"
            )
        entries = await journal.entries_for_case(conn, case.id)
    recused = [e for e in entries if e.action == "case.recusal"]
    assert len(recused) == 1 and recused[0].reason == "曾代理对方"
    assert recused[0].actor_id == world.notary
