"""The decision on an interviewed case, and the second opinion or collective discussion before it.

The assigned notary approves or refuses, with reasons, and the case becomes decided. A difficult
case may first go to a second notary of the office (who must pass the same recusal checks as an
assigned one) or to a collective discussion (集体讨论) whose participants and minutes are kept
with the case. While such a referral is open the case cannot be decided; its recommendation
informs the decision but does not bind it (the notary who signs answers for it). A decision is
never edited; everything here is journaled in the caller's transaction.
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
from notary.cases import Case, CaseError, CaseState, get_case, transition
from notary.recusal import RecusalConflict, conflicts_of, require_notary_of_office
from notary.roles import Role
from notary.tables import case_decisions, case_referrals

MAX_REASONS = 2000  # what the journal keeps in full
MAX_QUESTION = 2000
MAX_RECORD = 20_000  # minutes of a discussion; the journal keeps their hash
MAX_PARTICIPANTS = 30
MAX_NAME = 100


class Outcome(StrEnum):
    APPROVED = "approved"
    REFUSED = "refused"


class ReferralKind(StrEnum):
    SECOND_NOTARY = "second_notary"
    COLLECTIVE = "collective"


@dataclass(frozen=True)
class Decision:
    case_id: str
    notary_id: str
    outcome: Outcome
    reasons: str
    decided_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "notary_id": self.notary_id,
            "outcome": self.outcome.value,
            "reasons": self.reasons,
            "decided_at": self.decided_at.isoformat(),
        }


@dataclass(frozen=True)
class Referral:
    id: str
    case_id: str
    kind: ReferralKind
    referred_by: str
    question: str
    second_notary_id: str | None
    state: str
    recommendation: Outcome | None
    record: str | None
    participants: list[dict[str, str]] | None
    concluded_by: str | None
    created_at: datetime
    concluded_at: datetime | None

    @property
    def open(self) -> bool:
        return self.state == "open"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "kind": self.kind.value,
            "referred_by": self.referred_by,
            "question": self.question,
            "second_notary_id": self.second_notary_id,
            "state": self.state,
            "recommendation": self.recommendation.value if self.recommendation else None,
            "record": self.record,
            "participants": self.participants,
            "concluded_by": self.concluded_by,
            "created_at": self.created_at.isoformat(),
            "concluded_at": self.concluded_at.isoformat() if self.concluded_at else None,
        }


def _referral(row: sa.Row[Any]) -> Referral:
    return Referral(
        id=row.id,
        case_id=row.case_id,
        kind=ReferralKind(row.kind),
        referred_by=row.referred_by,
        question=row.question,
        second_notary_id=row.second_notary_id,
        state=row.state,
        recommendation=Outcome(row.recommendation) if row.recommendation else None,
        record=row.record,
        participants=row.participants,
        concluded_by=row.concluded_by,
        created_at=row.created_at,
        concluded_at=row.concluded_at,
    )


def _text(value: str, limit: int, what: str) -> str:
    value = value.strip()
    if not value or len(value) > limit:
        raise CaseError(f"invalid_{what}", f"{what}: 1 to {limit} characters")
    return value


def _outcome(value: str, what: str = "outcome") -> Outcome:
    try:
        return Outcome(value)
    except ValueError:
        raise CaseError(f"invalid_{what}", f"{what} is approved or refused") from None


async def _case_of_notary(conn: AsyncConnection, case_id: str, notary_id: str) -> Case:
    case = await get_case(conn, case_id, for_update=True)
    if case is None:
        raise LookupError(case_id)
    if case.assigned_notary_id != notary_id:
        raise CaseError("not_assigned", "only the case's assigned notary may do this")
    if case.state is not CaseState.INTERVIEWED:
        raise CaseError("not_interviewed", f"a {case.state.value} case is not awaiting a decision")
    return case


# --- reading -----------------------------------------------------------------------------------


async def get_decision(conn: AsyncConnection, case_id: str) -> Decision | None:
    row = (
        await conn.execute(sa.select(case_decisions).where(case_decisions.c.case_id == case_id))
    ).first()
    if row is None:
        return None
    return Decision(row.case_id, row.notary_id, Outcome(row.outcome), row.reasons, row.decided_at)


async def list_referrals(conn: AsyncConnection, case_id: str) -> list[Referral]:
    rows = await conn.execute(
        sa.select(case_referrals)
        .where(case_referrals.c.case_id == case_id)
        .order_by(case_referrals.c.created_at)
    )
    return [_referral(row) for row in rows]


async def get_referral(conn: AsyncConnection, referral_id: str) -> Referral | None:
    row = (
        await conn.execute(sa.select(case_referrals).where(case_referrals.c.id == referral_id))
    ).first()
    return _referral(row) if row else None


async def awaiting_opinion(conn: AsyncConnection, notary_id: str) -> list[Referral]:
    """Open referrals asking `notary_id` for a second opinion: their queue."""
    rows = await conn.execute(
        sa.select(case_referrals)
        .where(
            case_referrals.c.second_notary_id == notary_id,
            case_referrals.c.state == "open",
        )
        .order_by(case_referrals.c.created_at)
    )
    return [_referral(row) for row in rows]


async def is_second_notary(conn: AsyncConnection, case_id: str, notary_id: str) -> bool:
    """True while `notary_id` is asked for a second opinion on the case (an open referral):
    they then read its file (notary.access); once they have concluded, they no longer do."""
    found = await conn.scalar(
        sa.select(case_referrals.c.id).where(
            case_referrals.c.case_id == case_id,
            case_referrals.c.second_notary_id == notary_id,
            case_referrals.c.state == "open",
        )
    )
    return found is not None


# --- referring ---------------------------------------------------------------------------------


async def _no_open_referral(conn: AsyncConnection, case_id: str) -> None:
    if any(r.open for r in await list_referrals(conn, case_id)):
        raise CaseError("referral_open", "a referral on this case is still open")


async def refer(
    conn: AsyncConnection,
    case_id: str,
    *,
    notary_id: str,
    kind: str,
    question: str,
    second_notary_id: str | None = None,
) -> Referral:
    """Send a difficult case to a second notary or to a collective discussion; journaled."""
    try:
        kind_ = ReferralKind(kind)
    except ValueError:
        raise CaseError("invalid_kind", "kind is second_notary or collective") from None
    question = _text(question, MAX_QUESTION, "question")
    case = await _case_of_notary(conn, case_id, notary_id)
    await _no_open_referral(conn, case.id)
    if kind_ is ReferralKind.SECOND_NOTARY:
        if not second_notary_id:
            raise CaseError("invalid_second_notary", "name the notary for the second opinion")
        await _check_second_notary(conn, case, second_notary_id)
    else:
        second_notary_id = None
    referral_id = str(uuid.uuid4())
    await conn.execute(
        case_referrals.insert().values(
            id=referral_id,
            case_id=case.id,
            kind=kind_.value,
            referred_by=notary_id,
            question=question,
            second_notary_id=second_notary_id,
            state="open",
            created_at=datetime.now(UTC),
        )
    )
    await journal.append(
        conn,
        action="case.referred",
        actor_id=notary_id,
        actor_role=Role.NOTARY.value,
        case_id=case.id,
        reason=question,
        after={
            "referral_id": referral_id,
            "kind": kind_.value,
            "second_notary_id": second_notary_id,
        },
    )
    referral = await get_referral(conn, referral_id)
    assert referral is not None
    return referral


async def _check_second_notary(conn: AsyncConnection, case: Case, notary_id: str) -> None:
    """Another active notary of the office, with no conflict (the assignment rules of recusal)."""
    if notary_id == case.assigned_notary_id:
        raise CaseError("invalid_second_notary", "the second opinion comes from another notary")
    await require_notary_of_office(conn, case, notary_id)
    reasons = await conflicts_of(conn, case, notary_id)
    if reasons:
        raise RecusalConflict(reasons)


def _participants(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_PARTICIPANTS:
        raise CaseError(
            "invalid_participants", f"a discussion has 2 to {MAX_PARTICIPANTS} participants"
        )
    cleaned: list[dict[str, str]] = []
    for item in raw:
        if not isinstance(item, dict):
            raise CaseError("invalid_participants", "each participant is {name, role}")
        name, role = item.get("name"), item.get("role", "")
        if not isinstance(name, str) or not isinstance(role, str):
            raise CaseError("invalid_participants", "each participant is {name, role}")
        cleaned.append(
            {
                "name": _text(name, MAX_NAME, "participants"),
                "role": role.strip()[:MAX_NAME],
            }
        )
    return cleaned


async def conclude(
    conn: AsyncConnection,
    referral_id: str,
    *,
    actor_id: str,
    recommendation: str,
    record: str,
    participants: Any = None,
) -> Referral:
    """Record the second opinion (by the second notary) or the discussion's minutes and
    participants (by the case's notary, who chaired or attended it); journaled."""
    referral = await get_referral(conn, referral_id)
    if referral is None:
        raise LookupError(referral_id)
    if not referral.open:
        raise CaseError("referral_concluded", "this referral is already concluded")
    outcome = _outcome(recommendation, "recommendation")
    record = _text(record, MAX_RECORD, "record")
    case = await get_case(conn, referral.case_id, for_update=True)
    assert case is not None
    if referral.kind is ReferralKind.SECOND_NOTARY:
        if actor_id != referral.second_notary_id:
            raise CaseError("not_referred", "only the notary asked may give the second opinion")
        people: list[dict[str, str]] | None = None
    else:
        if actor_id != case.assigned_notary_id:
            raise CaseError("not_assigned", "the case's notary records the discussion")
        people = _participants(participants)
    now = datetime.now(UTC)
    result = await conn.execute(
        case_referrals.update()
        .where(case_referrals.c.id == referral_id, case_referrals.c.state == "open")
        .values(
            state="concluded",
            recommendation=outcome.value,
            record=record,
            participants=people,
            concluded_by=actor_id,
            concluded_at=now,
        )
    )
    if result.rowcount != 1:
        raise CaseError("referral_concluded", "this referral is already concluded")
    await journal.append(
        conn,
        action="case.referral_concluded",
        actor_id=actor_id,
        actor_role=Role.NOTARY.value,
        case_id=case.id,
        after={
            "referral_id": referral_id,
            "recommendation": outcome.value,
            # The minutes may be long: the journal pins them by hash.
            "record_sha256": hashlib.sha256(record.encode()).hexdigest(),
            "participants": len(people) if people else 0,
        },
    )
    concluded = await get_referral(conn, referral_id)
    assert concluded is not None
    return concluded


# --- deciding ----------------------------------------------------------------------------------


async def decide(
    conn: AsyncConnection, case_id: str, *, notary_id: str, outcome: str, reasons: str
) -> Decision:
    """Approve or refuse, with reasons; the case becomes decided. Journaled (both the decision
    and the transition), in the caller's transaction."""
    outcome_ = _outcome(outcome)
    reasons = _text(reasons, MAX_REASONS, "reasons")
    case = await _case_of_notary(conn, case_id, notary_id)
    await _no_open_referral(conn, case.id)
    decided_at = datetime.now(UTC)
    await conn.execute(
        case_decisions.insert().values(
            id=str(uuid.uuid4()),
            case_id=case.id,
            notary_id=notary_id,
            outcome=outcome_.value,
            reasons=reasons,
            decided_at=decided_at,
        )
    )
    await journal.append(
        conn,
        action="case.decision",
        actor_id=notary_id,
        actor_role=Role.NOTARY.value,
        case_id=case.id,
        reason=reasons,
        after={"outcome": outcome_.value},
    )
    await transition(
        conn,
        case.id,
        CaseState.DECIDED,
        actor_id=notary_id,
        actor_role=Role.NOTARY.value,
        reason=outcome_.value,
    )
    return Decision(case.id, notary_id, outcome_, reasons, decided_at)


async def require_approved(conn: AsyncConnection, case_id: str) -> None:
    """For the certificate: only an approved case gets one."""
    found = await get_decision(conn, case_id)
    if found is None or found.outcome is not Outcome.APPROVED:
        raise CaseError("not_approved", "only an approved case gets a certificate")
