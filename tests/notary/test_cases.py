"""notary/cases.py: creating cases and the state machine, every move journaled."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import cases as cases_module
from notary import journal
from notary.cases import ALLOWED, CaseError, CaseState, TransitionRefused, get_case, transition
from notary.matters import update
from notary.parties import list_parties
from tests.notary.case_world import draft, make_case_world, matter


@pytest.mark.unit
def test_the_machine_reaches_every_state_from_draft() -> None:
    reached = {CaseState.DRAFT}
    frontier = [CaseState.DRAFT]
    while frontier:
        here = frontier.pop()
        for (start, end), _roles in ALLOWED.items():
            if start is here and end not in reached:
                reached.add(end)
                frontier.append(end)
    assert reached == set(CaseState)
    assert not any(start is CaseState.ARCHIVED for start, _ in ALLOWED)  # archived is final


@pytest.mark.integration
async def test_a_case_walks_its_whole_life(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await draft(conn, world)
        assert case.state is CaseState.DRAFT and case.opened_by_id is None
        assert [p.kind.value for p in await list_parties(conn, case.id)] == ["applicant"]
        path = [
            (CaseState.SUBMITTED, world.applicant, "applicant"),
            (CaseState.ACCEPTED, world.notary, "notary"),
            (CaseState.SCHEDULED, world.applicant, "applicant"),
            (CaseState.INTERVIEWED, world.notary, "notary"),
            (CaseState.DECIDED, world.notary, "notary"),
            (CaseState.CERTIFICATE_ISSUED, world.notary, "notary"),
            (CaseState.DELIVERED, world.admin, "admin"),
            (CaseState.ARCHIVED, world.notary, "notary"),
        ]
        for state, actor, role in path:
            moved = await transition(
                conn, case.id, state, actor_id=actor, actor_role=role, reason=f"to {state}"
            )
            assert moved.state is state
        assert moved.submitted_at is not None
        history = await journal.entries_for_case(conn, case.id)
    assert [e.action for e in history] == ["case.create"] + ["case.transition"] * len(path)
    moves = [(e.before, e.after, e.actor_id, e.reason) for e in history[1:]]
    assert moves[0] == ({"state": "draft"}, {"state": "submitted"}, world.applicant, "to submitted")
    assert moves[-1][1] == {"state": "archived"}


@pytest.mark.integration
async def test_refused_moves_change_nothing(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await draft(conn, world)
        with pytest.raises(TransitionRefused) as skipped:
            await transition(
                conn, case.id, CaseState.ACCEPTED, actor_id=world.notary, actor_role="notary"
            )
        assert skipped.value.code == "invalid_transition"
        with pytest.raises(TransitionRefused) as wrong_role:
            await transition(
                conn, case.id, CaseState.SUBMITTED, actor_id=world.notary, actor_role="notary"
            )
        assert wrong_role.value.code == "transition_forbidden"
        await transition(
            conn, case.id, CaseState.SUBMITTED, actor_id=world.applicant, actor_role="applicant"
        )
        with pytest.raises(TransitionRefused):  # the applicant cannot accept their own case
            await transition(
                conn, case.id, CaseState.ACCEPTED, actor_id=world.applicant, actor_role="applicant"
            )
        with pytest.raises(LookupError):
            await transition(conn, "nope", CaseState.SUBMITTED, actor_id=None, actor_role="system")
        still = await get_case(conn, case.id)
        history = await journal.entries_for_case(conn, case.id)
    assert still is not None and still.state is CaseState.SUBMITTED
    assert [e.action for e in history] == ["case.create", "case.transition"]


@pytest.mark.integration
async def test_an_officer_opens_a_case_for_an_applicant(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await draft(conn, world, "will", by_officer=True)
        assert case.opened_by_id == world.officer and case.secret
        await update(
            conn,
            "birth",
            {"active": False},
            actor_id=world.admin,
            actor_role="admin",
            reason="paused",
        )
        with pytest.raises(CaseError, match="not offered"):
            await draft(conn, world, "birth")
        assert (await matter(conn, "birth")).active is False


@pytest.mark.integration
async def test_open_applications_are_limited(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cases_module, "MAX_OPEN_CASES", 2)
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        first = await draft(conn, world)
        await draft(conn, world)
        with pytest.raises(CaseError) as refused:
            await draft(conn, world)
        assert refused.value.code == "case_limit"
        await transition(
            conn, first.id, CaseState.SUBMITTED, actor_id=world.applicant, actor_role="applicant"
        )
        await transition(
            conn, first.id, CaseState.ACCEPTED, actor_id=world.notary, actor_role="notary"
        )
        await draft(conn, world)  # an accepted case no longer counts as open
