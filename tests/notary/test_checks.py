"""notary/checks.py: random draws for supervisors' checks, and statistics."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import journal
from notary.cases import CaseState, transition
from notary.checks import DrawConflict, draw, is_drawn, statistics
from notary.tables import case_checks
from tests.notary.case_world import draft, make_case_world


@pytest.mark.integration
async def test_draws_skip_drafts_secrets_and_repeats(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        by = {"actor_id": world.applicant, "actor_role": "applicant"}
        submitted = []
        for _ in range(4):
            case = await draft(conn, world)
            await transition(conn, case.id, CaseState.SUBMITTED, **by)
            submitted.append(case.id)
        await draft(conn, world)  # a draft: nobody checks what was never handed in
        will = await draft(conn, world, "will")
        await transition(conn, will.id, CaseState.SUBMITTED, **by)

        first = await draw(conn, supervisor_id=world.supervisor, count=3)
        second = await draw(conn, supervisor_id=world.supervisor, count=3)
        assert len(first) == 3 and len(second) == 1
        assert set(first) | set(second) == set(submitted)
        assert await draw(conn, supervisor_id=world.supervisor, count=1) == []
        assert await is_drawn(conn, submitted[0]) and not await is_drawn(conn, will.id)
        assert (
            await draw(conn, supervisor_id=world.supervisor, count=1, office_id=world.other_office)
            == []
        )
        with pytest.raises(ValueError):
            await draw(conn, supervisor_id=world.supervisor, count=0)
        entries = await journal.entries_for_case(conn, first[0])
        assert entries[-1].action == "case.drawn_for_check"
        assert entries[-1].actor_id == world.supervisor


@pytest.mark.integration
async def test_two_draws_at_once_never_take_a_case_twice(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        by = {"actor_id": world.applicant, "actor_role": "applicant"}
        for _ in range(2):
            case = await draft(conn, world)
            await transition(conn, case.id, CaseState.SUBMITTED, **by)

    async def second_draw() -> list[str]:
        async with engine.begin() as conn:
            return await draw(conn, supervisor_id=world.supervisor, count=2)

    async with engine.begin() as first:
        taken = await draw(first, supervisor_id=world.supervisor, count=2)
        racing = asyncio.create_task(second_draw())
        await asyncio.sleep(0.5)  # the second has read the same pool and waits on our rows
        assert not racing.done()
    # Committed: the second draw now meets the first's rows.
    if engine.dialect.name == "postgresql":
        with pytest.raises(DrawConflict) as conflict:
            await racing
        assert conflict.value.code == "draw_conflict"
    else:  # SQLite: BEGIN IMMEDIATE made the second wait before it read anything
        assert await racing == []
    async with engine.connect() as conn:
        assert sorted(await conn.scalars(sa.select(case_checks.c.case_id))) == sorted(taken)
        assert len(taken) == 2


@pytest.mark.integration
async def test_statistics_count_without_naming_anyone(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await draft(conn, world, "contract")
        moved = await transition(
            conn, case.id, CaseState.SUBMITTED, actor_id=world.applicant, actor_role="applicant"
        )
        await draft(conn, world, "birth")
        assert moved.submitted_at is not None
        stats = await statistics(conn, now=moved.submitted_at + timedelta(hours=5))
        other = await statistics(conn, office_id=world.other_office)
    assert stats["cases_by_state"]["submitted"] == 1 and stats["cases_by_state"]["draft"] == 1
    assert stats["cases_by_matter"] == {"contract": 1, "birth": 1}
    assert stats["waiting_for_review"] == {"count": 1, "max_hours": 5.0, "mean_hours": 5.0}
    assert other["cases_by_matter"] == {} and other["cases_by_state"]["draft"] == 0
