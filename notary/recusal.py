"""Recusal (回避): who may not handle a case, declared relationships, and assignment.

A notary may not handle a case where they are a party, a close relative of a party, or have an
interest. Parties declare their relationships to a notary, a notary declares an interest or
recuses themselves with a reason; assignment refuses a notary with any such conflict, and an
interview already booked with them is cancelled (the case goes back to accepted). Every
declaration is kept (never deleted) and every assignment and recusal is journaled.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal
from notary.accounts import get_account
from notary.cases import Case, CaseError, CaseState, set_assigned_notary
from notary.parties import CLOSE_RELATIVES, Relationship, list_parties
from notary.roles import Role
from notary.tables import case_conflicts

MAX_REASON = 1000
# Once decided, the file is closed: changing hands then would rewrite who decided.
ASSIGNABLE_STATES = frozenset(
    {
        CaseState.DRAFT,
        CaseState.SUBMITTED,
        CaseState.RETURNED,
        CaseState.ACCEPTED,
        CaseState.SCHEDULED,
    }
)


class RecusalConflict(CaseError):
    """The notary may not handle this case; `reasons` lists why (stable codes)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("recusal_conflict", "this notary must not handle this case")
        self.reasons = reasons


@dataclass(frozen=True)
class Conflict:
    id: str
    notary_id: str
    declared_by: str
    kind: str
    relationship: str | None
    reason: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "notary_id": self.notary_id,
            "kind": self.kind,
            "relationship": self.relationship,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
        }


async def list_conflicts(conn: AsyncConnection, case_id: str) -> list[Conflict]:
    rows = await conn.execute(
        sa.select(case_conflicts)
        .where(case_conflicts.c.case_id == case_id)
        .order_by(case_conflicts.c.created_at)
    )
    return [
        Conflict(r.id, r.notary_id, r.declared_by, r.kind, r.relationship, r.reason, r.created_at)
        for r in rows
    ]


async def conflicts_of(conn: AsyncConnection, case: Case, notary_id: str) -> list[str]:
    """Why `notary_id` may not handle `case`; empty when nothing stands in the way."""
    reasons: list[str] = []
    party_accounts = {p.account_id for p in await list_parties(conn, case.id)}
    party_accounts |= {case.applicant_account_id, case.opened_by_id}
    if notary_id in party_accounts:
        reasons.append("is_party")
    for conflict in await list_conflicts(conn, case.id):
        if conflict.notary_id != notary_id:
            continue
        if conflict.kind == "relative" and conflict.relationship in CLOSE_RELATIVES:
            reasons.append("close_relative")
        elif conflict.kind in ("interest", "recusal"):
            reasons.append(conflict.kind)
    return sorted(set(reasons))


async def require_notary_of_office(conn: AsyncConnection, case: Case, notary_id: str) -> None:
    """An active notary of the case's office (assignment, declarations, second opinions)."""
    notary = await get_account(conn, notary_id)
    if (
        notary is None
        or notary.role is not Role.NOTARY
        or notary.disabled
        or notary.office_id != case.office_id
    ):
        raise CaseError("not_a_notary", "no active notary of this case's office has that id")


async def declare(
    conn: AsyncConnection,
    case: Case,
    *,
    notary_id: str,
    kind: str,
    relationship: str | None,
    reason: str,
    actor_id: str,
    actor_role: str,
) -> Conflict:
    """Record a declared relationship (by a party) or interest (by the notary); journaled.

    A declaration that makes the assigned notary ineligible also takes the case off them.
    """
    if kind not in ("relative", "interest"):
        raise CaseError("invalid_declaration", "kind is relative or interest")
    if kind == "relative":
        try:
            relationship = Relationship(relationship or "").value
        except ValueError:
            raise CaseError(
                "invalid_declaration",
                f"relationship is one of {', '.join(r.value for r in Relationship)}",
            ) from None
    else:
        relationship = None
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise CaseError("invalid_declaration", f"a reason of 1 to {MAX_REASON} characters")
    await require_notary_of_office(conn, case, notary_id)
    conflict = await _insert(conn, case, notary_id, actor_id, kind, relationship, reason)
    await journal.append(
        conn,
        action="case.conflict_declared",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=case.id,
        reason=reason,
        after={"notary_id": notary_id, "kind": kind, "relationship": relationship},
    )
    if await conflicts_of(conn, case, notary_id):
        why = f"conflict declared: {kind}"
        if case.assigned_notary_id == notary_id:
            await _unassign(conn, case, actor_id, actor_role, why)
        await _call_off_interview(conn, case, notary_id, actor_id, actor_role, why)
    return conflict


async def recuse(conn: AsyncConnection, case: Case, *, notary_id: str, reason: str) -> Conflict:
    """The notary steps aside with a reason; if assigned, the case goes back to the office."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise CaseError("invalid_declaration", f"a reason of 1 to {MAX_REASON} characters")
    await require_notary_of_office(conn, case, notary_id)
    conflict = await _insert(conn, case, notary_id, notary_id, "recusal", None, reason)
    await journal.append(
        conn,
        action="case.recusal",
        actor_id=notary_id,
        actor_role=Role.NOTARY.value,
        case_id=case.id,
        reason=reason,
    )
    if case.assigned_notary_id == notary_id:
        await _unassign(conn, case, notary_id, Role.NOTARY.value, "recused")
    await _call_off_interview(conn, case, notary_id, notary_id, Role.NOTARY.value, "recused")
    return conflict


async def assign(
    conn: AsyncConnection, case: Case, *, notary_id: str, actor_id: str, actor_role: str
) -> None:
    """Assign the case to a notary of its office; RecusalConflict if they must not handle it."""
    if case.state not in ASSIGNABLE_STATES:
        raise CaseError("not_assignable", f"a {case.state.value} case keeps its notary")
    await require_notary_of_office(conn, case, notary_id)
    reasons = await conflicts_of(conn, case, notary_id)
    if reasons:
        await journal.append(
            conn,
            action="case.assignment_refused",
            actor_id=actor_id,
            actor_role=actor_role,
            case_id=case.id,
            after={"notary_id": notary_id, "reasons": reasons},
        )
        raise RecusalConflict(reasons)
    await set_assigned_notary(conn, case.id, notary_id)
    await journal.append(
        conn,
        action="case.assign",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=case.id,
        before={"assigned_notary_id": case.assigned_notary_id},
        after={"assigned_notary_id": notary_id},
    )


async def _call_off_interview(
    conn: AsyncConnection, case: Case, notary_id: str, actor_id: str, actor_role: str, reason: str
) -> None:
    """An interview booked with a notary who may no longer handle the case is cancelled: the
    applicant must not meet them. Whether or not the case was assigned to them (booking picks
    any eligible notary of an unassigned case), the case is accepted again, to be rebooked."""
    # Imported here: notary.booking imports this module (conflicts_of) to choose notaries.
    from notary import booking

    await booking.call_off_for_notary(
        conn, case.id, notary_id=notary_id, actor_id=actor_id, actor_role=actor_role, reason=reason
    )


async def _unassign(
    conn: AsyncConnection, case: Case, actor_id: str, actor_role: str, reason: str
) -> None:
    await set_assigned_notary(conn, case.id, None)
    await journal.append(
        conn,
        action="case.unassign",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=case.id,
        reason=reason,
        before={"assigned_notary_id": case.assigned_notary_id},
        after={"assigned_notary_id": None},
    )


async def _insert(
    conn: AsyncConnection,
    case: Case,
    notary_id: str,
    declared_by: str,
    kind: str,
    relationship: str | None,
    reason: str,
) -> Conflict:
    conflict = Conflict(
        id=str(uuid.uuid4()),
        notary_id=notary_id,
        declared_by=declared_by,
        kind=kind,
        relationship=relationship,
        reason=reason,
        created_at=datetime.now(UTC),
    )
    await conn.execute(
        case_conflicts.insert().values(
            id=conflict.id,
            case_id=case.id,
            notary_id=notary_id,
            declared_by=declared_by,
            kind=kind,
            relationship=relationship,
            reason=reason,
            created_at=conflict.created_at,
        )
    )
    return conflict
