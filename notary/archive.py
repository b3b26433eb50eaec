"""Archiving a finished case (归档): a delivered one, or a refused one once it is decided.

In an office the case's assigned notary or an admin of its office archives it; archived is final
(no move leaves it). notary.cases.transition checks the edge and the decision behind it (a
decided case is archived only when refused: an approved one waits for its certificate) and
journals the move with the reason; this module adds who may do it.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from notary.accounts import get_account
from notary.cases import Case, CaseError, CaseState, get_case, transition
from notary.roles import Role

MAX_REASON = 500
FINISHED = frozenset({CaseState.DECIDED, CaseState.DELIVERED})


async def archive(
    conn: AsyncConnection,
    case_id: str,
    *,
    actor_id: str,
    actor_role: str,
    reason: str | None = None,
) -> Case:
    """Archive the case, in the caller's transaction; journaled.

    Raises LookupError for an unknown case and CaseError (or its TransitionRefused) otherwise.
    """
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > MAX_REASON:
        raise CaseError("invalid_reason", f"a reason of at most {MAX_REASON} characters")
    case = await get_case(conn, case_id, for_update=True)
    if case is None:
        raise LookupError(case_id)
    role = str(actor_role)
    if role == Role.NOTARY.value:
        if case.assigned_notary_id != actor_id:
            raise CaseError("not_assigned", "only the case's notary or an admin archives it")
    elif role == Role.ADMIN.value:
        admin = await get_account(conn, actor_id)
        if admin is None or admin.disabled or admin.office_id != case.office_id:
            raise CaseError("not_of_office", "only an admin of the case's office archives it")
    else:
        raise CaseError("forbidden", "only the case's notary or an admin archives it")
    if case.state not in FINISHED:
        raise CaseError("not_finished", f"a {case.state.value} case is not finished")
    return await transition(
        conn,
        case.id,
        CaseState.ARCHIVED,
        actor_id=actor_id,
        actor_role=role,
        reason=reason or "archived",
    )
