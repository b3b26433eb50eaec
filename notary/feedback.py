"""After the case: the applicant's rating (好差评) and complaints to the supervisor's queue.

A rating is a score of 1 to 5 (好 4-5, 中 3, 差 1-2; either form may be given) with an optional
comment, once per case, by its applicant, once the case is over (delivered, archived, or decided
with a refusal). A complaint may be raised by the applicant at any time after submission; it is
open until a supervisor answers it, and closed by the applicant or the supervisor once answered.
A supervisor sees the complaints of their office, or of every office when they belong to none
(a justice bureau). Everything is journaled; comment and complaint texts stay out of the journal
(they may hold personal data), their hash goes in.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal
from notary.cases import Case, CaseError, CaseState
from notary.decision import Outcome, get_decision
from notary.roles import Role
from notary.tables import case_ratings, cases, complaints

MAX_COMMENT = 1000
MAX_COMPLAINT = 2000
MAX_ANSWER = 4000
MAX_OPEN_COMPLAINTS = 3  # per case: enough to raise distinct issues, not to flood the queue


class Grade(StrEnum):
    GOOD = "good"  # 好
    FAIR = "fair"  # 中
    POOR = "poor"  # 差


# A grade given instead of a score is stored as this score.
GRADE_SCORE = {Grade.GOOD: 5, Grade.FAIR: 3, Grade.POOR: 1}


def grade_of(score: int) -> Grade:
    return Grade.GOOD if score >= 4 else Grade.FAIR if score == 3 else Grade.POOR


class ComplaintState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


@dataclass(frozen=True)
class Rating:
    case_id: str
    score: int
    comment: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "score": self.score,
            "grade": grade_of(self.score).value,
            "comment": self.comment,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class Complaint:
    id: str
    case_id: str
    office_id: int
    applicant_id: str
    body: str
    state: ComplaintState
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None
    closed_at: datetime | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "case_id": self.case_id,
            "body": self.body,
            "state": self.state.value,
            "answer": self.answer,
            "answered_at": iso(self.answered_at),
            "closed_at": iso(self.closed_at),
            "created_at": self.created_at.isoformat(),
        }


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- ratings -------------------------------------------------------------------------------------


async def get_rating(conn: AsyncConnection, case_id: str) -> Rating | None:
    row = (
        await conn.execute(sa.select(case_ratings).where(case_ratings.c.case_id == case_id))
    ).first()
    return Rating(row.case_id, row.score, row.comment, row.created_at) if row else None


async def _case_is_over(conn: AsyncConnection, case: Case) -> bool:
    if case.state in (CaseState.DELIVERED, CaseState.ARCHIVED):
        return True
    if case.state is CaseState.DECIDED:
        decided = await get_decision(conn, case.id)
        return decided is not None and decided.outcome is Outcome.REFUSED
    return False


def score_of(score: int | None, grade: str | None) -> int:
    """The score from either form; exactly one must be given."""
    if (score is None) == (grade is None):
        raise CaseError("invalid_rating", "give either a score (1-5) or a grade")
    if grade is not None:
        try:
            return GRADE_SCORE[Grade(grade)]
        except ValueError:
            raise CaseError("invalid_rating", "grade is good, fair or poor") from None
    assert score is not None
    if isinstance(score, bool) or not 1 <= score <= 5:
        raise CaseError("invalid_rating", "score is 1 to 5")
    return score


async def rate(
    conn: AsyncConnection,
    case: Case,
    *,
    applicant_id: str,
    score: int | None = None,
    grade: str | None = None,
    comment: str | None = None,
) -> Rating:
    value = score_of(score, grade)
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise CaseError("invalid_comment", f"a comment has at most {MAX_COMMENT} characters")
    if case.applicant_account_id != applicant_id:
        raise CaseError("not_applicant", "only the case's applicant rates it")
    if not await _case_is_over(conn, case):
        raise CaseError("case_not_over", "a case is rated once it is over")
    if await get_rating(conn, case.id) is not None:
        raise CaseError("already_rated", "this case is already rated")
    now = datetime.now(UTC)
    # The unique case_id makes a concurrent second rating fail in the database as well.
    await conn.execute(
        case_ratings.insert().values(
            id=str(uuid.uuid4()),
            case_id=case.id,
            applicant_id=applicant_id,
            score=value,
            comment=comment,
            created_at=now,
        )
    )
    await journal.append(
        conn,
        action="case.rated",
        actor_id=applicant_id,
        actor_role=Role.APPLICANT.value,
        case_id=case.id,
        after={"score": value, "comment_sha256": _digest(comment) if comment else None},
    )
    return Rating(case.id, value, comment, now)


async def rating_summary(conn: AsyncConnection, office_id: int | None) -> dict[str, Any]:
    """Counts by grade and the mean score (for supervisors; no comments, no names)."""
    query = sa.select(case_ratings.c.score, sa.func.count().label("n")).group_by(
        case_ratings.c.score
    )
    if office_id is not None:
        query = query.join(cases, cases.c.id == case_ratings.c.case_id).where(
            cases.c.office_id == office_id
        )
    counts = {int(row.score): int(row.n) for row in await conn.execute(query)}
    total = sum(counts.values())
    by_grade = {g.value: 0 for g in Grade}
    for score, n in counts.items():
        by_grade[grade_of(score).value] += n
    mean = round(sum(s * n for s, n in counts.items()) / total, 2) if total else None
    return {"count": total, "by_grade": by_grade, "mean_score": mean}


# --- complaints ----------------------------------------------------------------------------------


def _complaint(row: sa.Row[Any]) -> Complaint:
    return Complaint(
        id=row.id,
        case_id=row.case_id,
        office_id=row.office_id,
        applicant_id=row.applicant_id,
        body=row.body,
        state=ComplaintState(row.state),
        answer=row.answer,
        answered_by=row.answered_by,
        answered_at=row.answered_at,
        closed_at=row.closed_at,
        created_at=row.created_at,
    )


async def get_complaint(conn: AsyncConnection, complaint_id: str) -> Complaint | None:
    row = (await conn.execute(sa.select(complaints).where(complaints.c.id == complaint_id))).first()
    return _complaint(row) if row else None


async def complaints_of_case(conn: AsyncConnection, case_id: str) -> list[Complaint]:
    rows = await conn.execute(
        sa.select(complaints)
        .where(complaints.c.case_id == case_id)
        .order_by(complaints.c.created_at)
    )
    return [_complaint(row) for row in rows]


def supervisor_scope(office_id: int | None) -> sa.ColumnElement[bool]:
    return sa.true() if office_id is None else complaints.c.office_id == office_id


async def queue(
    conn: AsyncConnection, *, office_id: int | None, state: str | None = None, limit: int = 200
) -> list[Complaint]:
    """The supervisor's queue: oldest first, open ones by default."""
    try:
        wanted = ComplaintState(state or ComplaintState.OPEN.value)
    except ValueError:
        raise CaseError("invalid_state", "state is open, answered or closed") from None
    rows = await conn.execute(
        sa.select(complaints)
        .where(supervisor_scope(office_id), complaints.c.state == wanted.value)
        .order_by(complaints.c.created_at)
        .limit(limit)
    )
    return [_complaint(row) for row in rows]


async def complain(conn: AsyncConnection, case: Case, *, applicant_id: str, body: str) -> Complaint:
    body = body.strip()
    if not body or len(body) > MAX_COMPLAINT:
        raise CaseError("invalid_complaint", f"a complaint of 1 to {MAX_COMPLAINT} characters")
    if case.applicant_account_id != applicant_id:
        raise CaseError("not_applicant", "only the case's applicant complains through here")
    if case.state is CaseState.DRAFT:
        raise CaseError("case_not_submitted", "a draft has nobody to complain about yet")
    still_open = await conn.scalar(
        sa.select(sa.func.count()).where(
            complaints.c.case_id == case.id, complaints.c.state == ComplaintState.OPEN.value
        )
    )
    if (still_open or 0) >= MAX_OPEN_COMPLAINTS:
        raise CaseError(
            "too_many_complaints", f"at most {MAX_OPEN_COMPLAINTS} open complaints per case"
        )
    complaint_id = str(uuid.uuid4())
    await conn.execute(
        complaints.insert().values(
            id=complaint_id,
            case_id=case.id,
            office_id=case.office_id,
            applicant_id=applicant_id,
            body=body,
            state=ComplaintState.OPEN.value,
            created_at=datetime.now(UTC),
        )
    )
    await journal.append(
        conn,
        action="case.complaint",
        actor_id=applicant_id,
        actor_role=Role.APPLICANT.value,
        case_id=case.id,
        after={"complaint_id": complaint_id, "body_sha256": _digest(body)},
    )
    found = await get_complaint(conn, complaint_id)
    assert found is not None
    return found


def _in_scope(complaint: Complaint, office_id: int | None) -> bool:
    return office_id is None or complaint.office_id == office_id


async def answer(
    conn: AsyncConnection,
    complaint_id: str,
    *,
    supervisor_id: str,
    supervisor_office_id: int | None,
    text: str,
) -> Complaint:
    text = text.strip()
    if not text or len(text) > MAX_ANSWER:
        raise CaseError("invalid_answer", f"an answer of 1 to {MAX_ANSWER} characters")
    found = await get_complaint(conn, complaint_id)
    if found is None or not _in_scope(found, supervisor_office_id):
        raise LookupError(complaint_id)
    if found.state is not ComplaintState.OPEN:
        raise CaseError("complaint_not_open", f"this complaint is {found.state.value}")
    result = await conn.execute(
        complaints.update()
        .where(complaints.c.id == complaint_id, complaints.c.state == ComplaintState.OPEN.value)
        .values(
            state=ComplaintState.ANSWERED.value,
            answer=text,
            answered_by=supervisor_id,
            answered_at=datetime.now(UTC),
        )
    )
    if result.rowcount != 1:
        raise CaseError("complaint_not_open", "this complaint was answered meanwhile")
    await journal.append(
        conn,
        action="case.complaint_answered",
        actor_id=supervisor_id,
        actor_role=Role.SUPERVISOR.value,
        case_id=found.case_id,
        after={"complaint_id": complaint_id, "answer_sha256": _digest(text)},
    )
    done = await get_complaint(conn, complaint_id)
    assert done is not None
    return done


async def close(
    conn: AsyncConnection,
    complaint_id: str,
    *,
    actor_id: str,
    actor_role: str,
    supervisor_office_id: int | None = None,
) -> Complaint:
    """Close an answered complaint: by its applicant, or by a supervisor in scope."""
    found = await get_complaint(conn, complaint_id)
    if found is None:
        raise LookupError(complaint_id)
    if actor_role == Role.APPLICANT.value:
        if found.applicant_id != actor_id:
            raise LookupError(complaint_id)
    elif actor_role != Role.SUPERVISOR.value or not _in_scope(found, supervisor_office_id):
        raise LookupError(complaint_id)
    if found.state is not ComplaintState.ANSWERED:
        raise CaseError("complaint_not_answered", f"this complaint is {found.state.value}")
    await conn.execute(
        complaints.update()
        .where(complaints.c.id == complaint_id)
        .values(state=ComplaintState.CLOSED.value, closed_at=datetime.now(UTC))
    )
    await journal.append(
        conn,
        action="case.complaint_closed",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=found.case_id,
        after={"complaint_id": complaint_id},
    )
    done = await get_complaint(conn, complaint_id)
    assert done is not None
    return done
