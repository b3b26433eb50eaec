"""notary/cases.py: creating cases and the state machine, every move journaled."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from notary import cases as cases_module
from notary import decision, journal
from notary.cases import ALLOWED, CaseError, CaseState, TransitionRefused, get_case, transition
from notary.matters import update
from notary.parties import list_parties
from tests.notary.case_world import CaseWorld, draft, make_case_world, matter


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
        await cases_module.set_assigned_notary(conn, case.id, world.notary)
        before = [
            (CaseState.SUBMITTED, world.applicant, "applicant"),
            (CaseState.ACCEPTED, world.notary, "notary"),
            (CaseState.SCHEDULED, world.applicant, "applicant"),
            (CaseState.INTERVIEWED, world.notary, "notary"),
        ]
        after = [
            (CaseState.CERTIFICATE_ISSUED, world.notary, "notary"),
            (CaseState.DELIVERED, world.admin, "admin"),
            (CaseState.ARCHIVED, world.notary, "notary"),
        ]
        for state, actor, role in before:
            moved = await transition(
                conn, case.id, state, actor_id=actor, actor_role=role, reason=f"to {state}"
            )
            assert moved.state is state
        # Decided only through the decision record, which moves the case itself.
        await decision.decide(
            conn, case.id, notary_id=world.notary, outcome="approved", reasons="in order"
        )
        for state, actor, role in after:
            moved = await transition(
                conn, case.id, state, actor_id=actor, actor_role=role, reason=f"to {state}"
            )
            assert moved.state is state
        assert moved.submitted_at is not None
        history = await journal.entries_for_case(conn, case.id)
    moves = [
        (e.before, e.after, e.actor_id, e.reason) for e in history if e.action == "case.transition"
    ]
    assert [e.action for e in history].count("case.decision") == 1
    assert len(moves) == len(before) + 1 + len(after)
    assert moves[0] == ({"state": "draft"}, {"state": "submitted"}, world.applicant, "to submitted")
    assert moves[len(before)][:2] == ({"state": "interviewed"}, {"state": "decided"})
    assert moves[-1][1] == {"state": "archived"}


async def _interviewed(conn: AsyncConnection, world: CaseWorld) -> str:
    case = await draft(conn, world)
    await cases_module.set_assigned_notary(conn, case.id, world.notary)
    for state, actor, role in [
        (CaseState.SUBMITTED, world.applicant, "applicant"),
        (CaseState.ACCEPTED, world.notary, "notary"),
        (CaseState.SCHEDULED, world.notary, "notary"),
        (CaseState.INTERVIEWED, world.notary, "notary"),
    ]:
        await transition(conn, case.id, state, actor_id=actor, actor_role=role)
    return case.id


@pytest.mark.integration
async def test_decided_is_reached_only_through_the_decision_record(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case_id = await _interviewed(conn, world)
        by = {"actor_id": world.notary, "actor_role": "notary"}
        with pytest.raises(TransitionRefused) as shortcut:
            await transition(conn, case_id, CaseState.DECIDED, **by)
        assert shortcut.value.code == "decision_required"
        still = await get_case(conn, case_id)
        assert still is not None and still.state is CaseState.INTERVIEWED
        await decision.decide(conn, case_id, notary_id=world.notary, outcome="refused", reasons="r")
        # The outcome then decides where the case may go: a refused case has nothing to issue.
        with pytest.raises(TransitionRefused) as issued:
            await transition(conn, case_id, CaseState.CERTIFICATE_ISSUED, **by)
        assert issued.value.code == "decision_mismatch"
        archived = await transition(conn, case_id, CaseState.ARCHIVED, **by)
        assert archived.state is CaseState.ARCHIVED

        approved = await _interviewed(conn, world)
        await decision.decide(
            conn, approved, notary_id=world.notary, outcome="approved", reasons="r"
        )
        with pytest.raises(TransitionRefused) as archived_early:
            await transition(conn, approved, CaseState.ARCHIVED, **by)
        assert archived_early.value.code == "decision_mismatch"


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
