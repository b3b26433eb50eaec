"""Cases and their state machine; every change of state goes to the journal with who and why.

draft → submitted → returned (one notice) → submitted → … → accepted → scheduled → interviewed →
decided → certificate_issued → delivered → archived. A refused case goes from decided straight
to archived; a cancelled booking takes a scheduled case back to accepted.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal
from notary.matters import Matter
from notary.roles import Role
from notary.tables import case_decisions, case_parties, cases


class CaseState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    INTERVIEWED = "interviewed"
    DECIDED = "decided"
    CERTIFICATE_ISSUED = "certificate_issued"
    DELIVERED = "delivered"
    ARCHIVED = "archived"


# Who may move a case from one state to the next. "system" is the platform itself (e.g. a
# scheduler); staff roles act for their office only, which callers check before (notary.access).
_APPLICANT_SIDE = frozenset({Role.APPLICANT.value, Role.SITE_OFFICER.value})
_NOTARY = frozenset({Role.NOTARY.value})
_STAFF = frozenset({Role.NOTARY.value, Role.ADMIN.value, "system"})

ALLOWED: dict[tuple[CaseState, CaseState], frozenset[str]] = {
    (CaseState.DRAFT, CaseState.SUBMITTED): _APPLICANT_SIDE,
    (CaseState.SUBMITTED, CaseState.RETURNED): _NOTARY,
    (CaseState.SUBMITTED, CaseState.ACCEPTED): _NOTARY,
    (CaseState.RETURNED, CaseState.SUBMITTED): _APPLICANT_SIDE,
    (CaseState.ACCEPTED, CaseState.SCHEDULED): _STAFF | _APPLICANT_SIDE,  # booking
    (CaseState.SCHEDULED, CaseState.ACCEPTED): _STAFF | _APPLICANT_SIDE,  # booking cancelled
    (CaseState.SCHEDULED, CaseState.INTERVIEWED): _NOTARY,
    (CaseState.INTERVIEWED, CaseState.DECIDED): _NOTARY,
    (CaseState.DECIDED, CaseState.CERTIFICATE_ISSUED): _NOTARY,
    (CaseState.DECIDED, CaseState.ARCHIVED): _STAFF,  # refused: nothing to issue
    (CaseState.CERTIFICATE_ISSUED, CaseState.DELIVERED): _STAFF,
    (CaseState.DELIVERED, CaseState.ARCHIVED): _STAFF,
}

# Moves that rest on the recorded decision (notary.decision), checked inside `transition` so no
# caller can skip it: a case becomes decided only once its decision row exists (decide() writes
# it in the same transaction), only an approved case gets a certificate, and only a refused one
# is archived straight from decided. The value: the outcomes that allow the move.
DECISION_NEEDED: dict[tuple[CaseState, CaseState], frozenset[str]] = {
    (CaseState.INTERVIEWED, CaseState.DECIDED): frozenset({"approved", "refused"}),
    (CaseState.DECIDED, CaseState.CERTIFICATE_ISSUED): frozenset({"approved"}),
    (CaseState.DECIDED, CaseState.ARCHIVED): frozenset({"refused"}),
}

# Cases an applicant may have open before review at once: enough for a family's or a small
# business's paperwork, not enough to fill the store or the queue by script.
MAX_OPEN_CASES = 30
OPEN_STATES = ("draft", "returned", "submitted")

# The applicant may change parties and materials only while the case is with them.
EDITABLE_STATES = frozenset({CaseState.DRAFT, CaseState.RETURNED})


class CaseError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TransitionRefused(CaseError):
    pass


@dataclass(frozen=True)
class Case:
    id: str
    office_id: int
    matter_code: str
    applicant_account_id: str
    opened_by_id: str | None
    assigned_notary_id: str | None
    state: CaseState
    fast_lane: bool
    elderly: bool
    disabled_applicant: bool
    secret: bool
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None

    @property
    def editable(self) -> bool:
        return self.state in EDITABLE_STATES

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        for key in ("created_at", "updated_at", "submitted_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def _case(row: sa.Row[Any]) -> Case:
    return Case(
        id=row.id,
        office_id=row.office_id,
        matter_code=row.matter_code,
        applicant_account_id=row.applicant_account_id,
        opened_by_id=row.opened_by_id,
        assigned_notary_id=row.assigned_notary_id,
        state=CaseState(row.state),
        fast_lane=row.fast_lane,
        elderly=row.elderly,
        disabled_applicant=row.disabled_applicant,
        secret=row.secret,
        created_at=row.created_at,
        updated_at=row.updated_at,
        submitted_at=row.submitted_at,
    )


async def get_case(conn: AsyncConnection, case_id: str, *, for_update: bool = False) -> Case | None:
    query = sa.select(cases).where(cases.c.id == case_id)
    if for_update:  # PostgreSQL row lock; SQLite holds its single writer lock anyway
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return _case(row) if row else None


async def create_case(
    conn: AsyncConnection,
    *,
    matter: Matter,
    office_id: int,
    applicant_account_id: str,
    applicant_name: str,
    actor_id: str,
    actor_role: str,
    fast_lane: bool = False,
    elderly: bool = False,
    disabled_applicant: bool = False,
) -> Case:
    """A draft case for `matter`, with the applicant as its first party; journaled."""
    if not matter.active:
        raise CaseError("matter_inactive", "this matter is not offered at the moment")
    open_cases = await conn.scalar(
        sa.select(sa.func.count()).where(
            cases.c.applicant_account_id == applicant_account_id, cases.c.state.in_(OPEN_STATES)
        )
    )
    if (open_cases or 0) >= MAX_OPEN_CASES:
        raise CaseError("case_limit", f"at most {MAX_OPEN_CASES} open applications at once")
    now = datetime.now(UTC)
    case_id = str(uuid.uuid4())
    values = {
        "id": case_id,
        "office_id": office_id,
        "matter_code": matter.code,
        "applicant_account_id": applicant_account_id,
        "opened_by_id": actor_id if actor_id != applicant_account_id else None,
        "assigned_notary_id": None,
        "state": CaseState.DRAFT.value,
        "fast_lane": fast_lane,
        "elderly": elderly,
        "disabled_applicant": disabled_applicant,
        "secret": matter.secret,
        "created_at": now,
        "updated_at": now,
        "submitted_at": None,
    }
    await conn.execute(cases.insert().values(**values))
    await conn.execute(
        case_parties.insert().values(
            id=str(uuid.uuid4()),
            case_id=case_id,
            kind="applicant",
            name=applicant_name,
            account_id=applicant_account_id,
            created_at=now,
        )
    )
    created = await get_case(conn, case_id)
    assert created is not None
    await journal.append(
        conn,
        action="case.create",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=case_id,
        after=_journal_view(created),
    )
    return created


def _journal_view(case: Case) -> dict[str, Any]:
    return {
        "state": case.state.value,
        "matter_code": case.matter_code,
        "office_id": case.office_id,
        "assigned_notary_id": case.assigned_notary_id,
        "fast_lane": case.fast_lane,
        "elderly": case.elderly,
        "disabled_applicant": case.disabled_applicant,
    }


async def transition(
    conn: AsyncConnection,
    case_id: str,
    to: CaseState,
    *,
    actor_id: str | None,
    actor_role: str,
    reason: str | None = None,
) -> Case:
    """Move the case to `to` if the state machine and the actor's role allow it; journaled.

    Raises LookupError for an unknown case and TransitionRefused otherwise.
    """
    to = CaseState(to)
    case = await get_case(conn, case_id, for_update=True)
    if case is None:
        raise LookupError(case_id)
    roles = ALLOWED.get((case.state, to))
    if roles is None:
        raise TransitionRefused(
            "invalid_transition", f"a {case.state.value} case cannot become {to.value}"
        )
    role = str(actor_role)
    if role not in roles:
        raise TransitionRefused(
            "transition_forbidden", f"a {role} may not move a case to {to.value}"
        )
    await _check_decision(conn, case, to)
    now = datetime.now(UTC)
    values: dict[str, Any] = {"state": to.value, "updated_at": now}
    if to is CaseState.SUBMITTED:
        values["submitted_at"] = now
    # The state in the WHERE makes a concurrent transition lose cleanly instead of both winning.
    result = await conn.execute(
        cases.update()
        .where(cases.c.id == case_id, cases.c.state == case.state.value)
        .values(**values)
    )
    if result.rowcount != 1:
        raise TransitionRefused("conflict", "the case changed meanwhile; reload and try again")
    await journal.append(
        conn,
        action="case.transition",
        actor_id=actor_id,
        actor_role=role,
        case_id=case_id,
        reason=reason,
        before={"state": case.state.value},
        after={"state": to.value},
    )
    moved = await get_case(conn, case_id)
    assert moved is not None
    return moved


async def _check_decision(conn: AsyncConnection, case: Case, to: CaseState) -> None:
    outcomes = DECISION_NEEDED.get((case.state, to))
    if outcomes is None:
        return
    outcome = await conn.scalar(
        sa.select(case_decisions.c.outcome).where(case_decisions.c.case_id == case.id)
    )
    if outcome is None:
        raise TransitionRefused(
            "decision_required",
            "a case is decided only by recording the decision, with its reasons",
        )
    if outcome not in outcomes:
        raise TransitionRefused(
            "decision_mismatch", f"the decision was {outcome}: the case cannot become {to.value}"
        )


async def set_assigned_notary(conn: AsyncConnection, case_id: str, notary_id: str | None) -> None:
    """Low-level write used by notary.recusal, which checks conflicts and journals."""
    await conn.execute(
        cases.update()
        .where(cases.c.id == case_id)
        .values(assigned_notary_id=notary_id, updated_at=datetime.now(UTC))
    )


async def list_cases(conn: AsyncConnection, where: sa.ColumnElement[bool]) -> list[Case]:
    query = sa.select(cases).where(where).order_by(cases.c.created_at)
    return [_case(row) for row in await conn.execute(query)]
