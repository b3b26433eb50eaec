"""notary/feedback.py: one rating per finished case, complaints answered by a supervisor."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import decision, feedback, journal
from notary.cases import CaseError, get_case
from tests.notary.aftercare_world import delivered, interviewed
from tests.notary.case_world import draft, make_case_world


@pytest.mark.unit
@pytest.mark.parametrize(
    "score, grade, expected",
    [(5, None, 5), (1, None, 1), (None, "good", 5), (None, "fair", 3), (None, "poor", 1)],
)
def test_score_from_either_form(score: int | None, grade: str | None, expected: int) -> None:
    assert feedback.score_of(score, grade) == expected


@pytest.mark.unit
@pytest.mark.parametrize(
    "score, grade", [(None, None), (5, "good"), (0, None), (6, None), (True, None), (None, "ok")]
)
def test_bad_ratings(score: int | None, grade: str | None) -> None:
    with pytest.raises(CaseError):
        feedback.score_of(score, grade)


@pytest.mark.unit
def test_grades() -> None:
    assert [feedback.grade_of(s).value for s in range(1, 6)] == [
        "poor",
        "poor",
        "fair",
        "good",
        "good",
    ]


@pytest.mark.integration
async def test_rating_once_by_the_applicant_after_the_case(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        running = await interviewed(conn, world)
        with pytest.raises(CaseError) as early:
            await feedback.rate(conn, running, applicant_id=world.applicant, score=5)
        assert early.value.code == "case_not_over"
        case = await delivered(conn, world)
        with pytest.raises(CaseError) as stranger:
            await feedback.rate(conn, case, applicant_id=world.applicant2, score=1)
        assert stranger.value.code == "not_applicant"
        rating = await feedback.rate(
            conn, case, applicant_id=world.applicant, grade="good", comment=" 很快 "
        )
        assert (rating.score, rating.comment) == (5, "很快")
        assert await feedback.get_rating(conn, case.id) == rating
        with pytest.raises(CaseError) as twice:
            await feedback.rate(conn, case, applicant_id=world.applicant, score=1)
        assert twice.value.code == "already_rated"
        entry = (await journal.entries_for_case(conn, case.id))[-1]
        assert entry.action == "case.rated" and entry.after is not None
        assert entry.after["score"] == 5 and "很快" not in str(entry.after)
        # A refused case is over as soon as it is decided.
        refused = await interviewed(conn, world)
        moved = await decision.decide(
            conn, refused.id, notary_id=world.notary, outcome="refused", reasons="no"
        )
        assert moved.outcome is decision.Outcome.REFUSED
        now_refused = await get_case(conn, refused.id)
        assert now_refused is not None
        await feedback.rate(conn, now_refused, applicant_id=world.applicant, score=2)
        summary = await feedback.rating_summary(conn, world.office)
        assert summary == {
            "count": 2,
            "by_grade": {"good": 1, "fair": 0, "poor": 1},
            "mean_score": 3.5,
        }
        assert (await feedback.rating_summary(conn, world.other_office))["count"] == 0


@pytest.mark.integration
async def test_complaint_open_answered_closed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        with pytest.raises(CaseError) as draft_case:
            await feedback.complain(
                conn, await draft(conn, world), applicant_id=world.applicant, body="slow"
            )
        assert draft_case.value.code == "case_not_submitted"
        case = await interviewed(conn, world)
        with pytest.raises(CaseError) as empty:
            await feedback.complain(conn, case, applicant_id=world.applicant, body="  ")
        assert empty.value.code == "invalid_complaint"
        complaint = await feedback.complain(
            conn, case, applicant_id=world.applicant, body="the notary was rude"
        )
        assert complaint.state is feedback.ComplaintState.OPEN
        in_queue = await feedback.queue(conn, office_id=world.office)
        assert [c.id for c in in_queue] == [complaint.id]
        assert await feedback.queue(conn, office_id=world.other_office) == []
        assert [c.id for c in await feedback.queue(conn, office_id=None)] == [complaint.id]
        with pytest.raises(CaseError) as not_yet:
            await feedback.close(
                conn, complaint.id, actor_id=world.applicant, actor_role="applicant"
            )
        assert not_yet.value.code == "complaint_not_answered"
        with pytest.raises(LookupError):  # a supervisor of another office does not see it
            await feedback.answer(
                conn,
                complaint.id,
                supervisor_id=world.supervisor,
                supervisor_office_id=world.other_office,
                text="x",
            )
        answered = await feedback.answer(
            conn,
            complaint.id,
            supervisor_id=world.supervisor,
            supervisor_office_id=world.office,
            text="we spoke to the notary",
        )
        assert answered.state is feedback.ComplaintState.ANSWERED
        assert answered.answer == "we spoke to the notary"
        with pytest.raises(CaseError) as again:
            await feedback.answer(
                conn,
                complaint.id,
                supervisor_id=world.supervisor,
                supervisor_office_id=None,
                text="y",
            )
        assert again.value.code == "complaint_not_open"
        with pytest.raises(LookupError):
            await feedback.close(
                conn, complaint.id, actor_id=world.applicant2, actor_role="applicant"
            )
        with pytest.raises(LookupError):
            await feedback.close(conn, complaint.id, actor_id=world.notary, actor_role="notary")
        closed = await feedback.close(
            conn, complaint.id, actor_id=world.applicant, actor_role="applicant"
        )
        assert closed.state is feedback.ComplaintState.CLOSED and closed.closed_at is not None
        assert await feedback.queue(conn, office_id=None) == []
        assert [c.id for c in await feedback.queue(conn, office_id=None, state="closed")] == [
            complaint.id
        ]
        actions = [e.action for e in await journal.entries_for_case(conn, case.id)]
        assert actions[-3:] == [
            "case.complaint",
            "case.complaint_answered",
            "case.complaint_closed",
        ]


@pytest.mark.integration
async def test_open_complaints_are_limited(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await interviewed(conn, world)
        for n in range(feedback.MAX_OPEN_COMPLAINTS):
            await feedback.complain(conn, case, applicant_id=world.applicant, body=f"issue {n}")
        with pytest.raises(CaseError) as flood:
            await feedback.complain(conn, case, applicant_id=world.applicant, body="one more")
        assert flood.value.code == "too_many_complaints"
