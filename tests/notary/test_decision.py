"""notary/decision.py: approve or refuse with reasons, second opinions, collective discussions."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import decision, journal, recusal
from notary.cases import CaseError, CaseState, get_case
from tests.notary.aftercare_world import interviewed
from tests.notary.case_world import make_case_world


@pytest.mark.integration
async def test_the_assigned_notary_decides_with_reasons(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await interviewed(conn, world)
        with pytest.raises(CaseError) as refused:
            await decision.decide(
                conn, case.id, notary_id=world.notary2, outcome="approved", reasons="ok"
            )
        assert refused.value.code == "not_assigned"
        for outcome, reasons, code in [
            ("maybe", "ok", "invalid_outcome"),
            ("approved", "   ", "invalid_reasons"),
            ("approved", "x" * (decision.MAX_REASONS + 1), "invalid_reasons"),
        ]:
            with pytest.raises(CaseError) as bad:
                await decision.decide(
                    conn, case.id, notary_id=world.notary, outcome=outcome, reasons=reasons
                )
            assert bad.value.code == code
        made = await decision.decide(
            conn,
            case.id,
            notary_id=world.notary,
            outcome="refused",
            reasons="the kinship is not proven",
        )
        assert made.outcome is decision.Outcome.REFUSED
        after = await get_case(conn, case.id)
        assert after is not None and after.state is CaseState.DECIDED
        kept = await decision.get_decision(conn, case.id)
        assert kept is not None and kept.reasons == "the kinship is not proven"
        with pytest.raises(CaseError) as again:
            await decision.decide(
                conn, case.id, notary_id=world.notary, outcome="approved", reasons="changed mind"
            )
        assert again.value.code == "not_interviewed"
        with pytest.raises(CaseError):
            await decision.require_approved(conn, case.id)
        actions = [e.action for e in await journal.entries_for_case(conn, case.id)]
        assert actions[-2:] == ["case.decision", "case.transition"]
        entries = await journal.entries_for_case(conn, case.id)
        assert entries[-2].reason == "the kinship is not proven"
        assert entries[-2].after == {"outcome": "refused"}


@pytest.mark.integration
async def test_only_an_interviewed_case_is_decided(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await interviewed(conn, world)
        await decision.decide(
            conn, case.id, notary_id=world.notary, outcome="approved", reasons="ok"
        )
        await decision.require_approved(conn, case.id)  # no exception: approved
        with pytest.raises(LookupError):
            await decision.decide(
                conn, "no-such-case", notary_id=world.notary, outcome="approved", reasons="ok"
            )


@pytest.mark.integration
async def test_second_opinion_blocks_the_decision_until_given(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await interviewed(conn, world)
        ask = {
            "notary_id": world.notary,
            "kind": "second_notary",
            "question": "is the proof enough?",
        }
        for second, code in [
            (world.notary, "invalid_second_notary"),
            (world.other_notary, "not_a_notary"),  # another office
            (world.admin, "not_a_notary"),
            (None, "invalid_second_notary"),
        ]:
            with pytest.raises(CaseError) as bad:
                await decision.refer(conn, case.id, second_notary_id=second, **ask)
            assert bad.value.code == code
        referral = await decision.refer(conn, case.id, second_notary_id=world.notary2, **ask)
        assert referral.open and referral.second_notary_id == world.notary2
        assert [r.id for r in await decision.awaiting_opinion(conn, world.notary2)] == [referral.id]
        with pytest.raises(CaseError) as blocked:
            await decision.decide(
                conn, case.id, notary_id=world.notary, outcome="approved", reasons="ok"
            )
        assert blocked.value.code == "referral_open"
        with pytest.raises(CaseError) as twice:
            await decision.refer(conn, case.id, second_notary_id=world.notary2, **ask)
        assert twice.value.code == "referral_open"
        with pytest.raises(CaseError) as not_asked:
            await decision.conclude(
                conn, referral.id, actor_id=world.notary, recommendation="approved", record="fine"
            )
        assert not_asked.value.code == "not_referred"
        done = await decision.conclude(
            conn,
            referral.id,
            actor_id=world.notary2,
            recommendation="refused",
            record="the birth record is a copy; ask for the original",
        )
        assert done.state == "concluded" and done.recommendation is decision.Outcome.REFUSED
        assert await decision.awaiting_opinion(conn, world.notary2) == []
        with pytest.raises(CaseError) as closed:
            await decision.conclude(
                conn, referral.id, actor_id=world.notary2, recommendation="approved", record="x"
            )
        assert closed.value.code == "referral_concluded"
        # The recommendation informs, it does not bind: the signing notary decides.
        await decision.decide(
            conn, case.id, notary_id=world.notary, outcome="approved", reasons="original seen"
        )
        actions = [e.action for e in await journal.entries_for_case(conn, case.id)]
        assert "case.referred" in actions and "case.referral_concluded" in actions


@pytest.mark.integration
async def test_second_notary_must_pass_recusal(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await interviewed(conn, world)
        await recusal.declare(
            conn,
            case,
            notary_id=world.notary2,
            kind="relative",
            relationship="sibling",
            reason="my brother",
            actor_id=world.applicant,
            actor_role="applicant",
        )
        with pytest.raises(recusal.RecusalConflict) as conflict:
            await decision.refer(
                conn,
                case.id,
                notary_id=world.notary,
                kind="second_notary",
                question="?",
                second_notary_id=world.notary2,
            )
        assert conflict.value.reasons == ["close_relative"]


@pytest.mark.integration
async def test_collective_discussion_keeps_participants_and_minutes(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await interviewed(conn, world)
        referral = await decision.refer(
            conn, case.id, notary_id=world.notary, kind="collective", question="foreign documents"
        )
        assert referral.second_notary_id is None
        minutes = "三位公证员讨论后认为材料充分。"
        for people in (None, [{"name": "王"}], [{"name": ""}, {"name": "赵"}], ["王", "赵"]):
            with pytest.raises(CaseError) as bad:
                await decision.conclude(
                    conn,
                    referral.id,
                    actor_id=world.notary,
                    recommendation="approved",
                    record=minutes,
                    participants=people,
                )
            assert bad.value.code == "invalid_participants"
        with pytest.raises(CaseError) as other:
            await decision.conclude(
                conn,
                referral.id,
                actor_id=world.notary2,
                recommendation="approved",
                record=minutes,
                participants=[{"name": "王", "role": "chair"}, {"name": "赵"}],
            )
        assert other.value.code == "not_assigned"
        done = await decision.conclude(
            conn,
            referral.id,
            actor_id=world.notary,
            recommendation="approved",
            record=minutes,
            participants=[{"name": " 王 ", "role": "chair"}, {"name": "赵", "role": "notary"}],
        )
        kept = await decision.list_referrals(conn, case.id)
        assert kept == [done]
        assert done.record == minutes
        assert done.participants == [
            {"name": "王", "role": "chair"},
            {"name": "赵", "role": "notary"},
        ]
        entry = (await journal.entries_for_case(conn, case.id))[-1]
        assert entry.action == "case.referral_concluded"
        assert entry.after is not None and minutes not in str(entry.after)
        assert entry.after["participants"] == 2
