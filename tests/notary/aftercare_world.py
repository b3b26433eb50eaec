"""Cases moved as far as the aftercare tests need: interviewed, decided, issued, delivered."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from notary import decision, delivery
from notary.cases import Case, CaseState, get_case, set_assigned_notary, transition
from tests.notary.case_world import CaseWorld, draft


async def interviewed(conn: AsyncConnection, world: CaseWorld, matter: str = "kinship") -> Case:
    """A case of `world.applicant`, assigned to `world.notary`, just after its interview."""
    case = await draft(conn, world, matter)
    await set_assigned_notary(conn, case.id, world.notary)
    path = [
        (CaseState.SUBMITTED, world.applicant, "applicant"),
        (CaseState.ACCEPTED, world.notary, "notary"),
        (CaseState.SCHEDULED, world.notary, "notary"),
        (CaseState.INTERVIEWED, world.notary, "notary"),
    ]
    moved = case
    for state, actor, role in path:
        moved = await transition(conn, case.id, state, actor_id=actor, actor_role=role)
    return moved


async def issued(conn: AsyncConnection, world: CaseWorld, matter: str = "kinship") -> Case:
    """Approved, and its certificate issued (the state only: no PDF is made here)."""
    case = await interviewed(conn, world, matter)
    await decision.decide(
        conn, case.id, notary_id=world.notary, outcome="approved", reasons="all in order"
    )
    return await transition(
        conn, case.id, CaseState.CERTIFICATE_ISSUED, actor_id=world.notary, actor_role="notary"
    )


async def delivered(conn: AsyncConnection, world: CaseWorld) -> Case:
    """Issued and handed over at the office."""
    case = await issued(conn, world)
    by = {"actor_id": world.notary, "actor_role": "notary"}
    await delivery.choose(conn, case.id, method="pickup", address=None, **by)
    await delivery.advance(conn, case.id, to="ready", **by)
    await delivery.advance(conn, case.id, to="delivered", **by)
    found = await get_case(conn, case.id)
    assert found is not None
    return found
