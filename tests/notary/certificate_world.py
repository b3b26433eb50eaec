"""A small world for certificate and payment tests: an office, its notary, an applicant, the
catalog, and cases moved as far as a test needs (decided, ready for a certificate)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from notary import decision
from notary.accounts import create_account, ensure_office
from notary.cases import CaseState, create_case, set_assigned_notary, transition
from notary.matters import get_matter, load_catalog, seed
from notary.roles import Role


@dataclass
class World:
    office: int
    notary: str
    other_notary: str
    applicant: str


async def make_world(conn: AsyncConnection, suffix: str = "") -> World:
    office = await ensure_office(
        conn, "SH01", "上海市东方公证处", "Shanghai Oriental Notary Office", "Asia/Shanghai"
    )

    async def person(role: Role, login: str, name: str, office_id: int | None) -> str:
        account = await create_account(
            conn, role=role, display_name=name, login=login, password=None, office_id=office_id
        )
        return account.id

    await seed(conn, load_catalog(["short", "long", "permanent"]))
    return World(
        office=office,
        notary=await person(Role.NOTARY, f"wang{suffix}@office.example", "王公证员", office),
        other_notary=await person(Role.NOTARY, f"zhao{suffix}@office.example", "赵公证员", office),
        applicant=await person(Role.APPLICANT, f"zhang{suffix}@example.org", "张三", None),
    )


async def case_in_state(
    conn: AsyncConnection,
    world: World,
    to: CaseState,
    *,
    matter: str = "birth",
    outcome: str = "approved",
) -> str:
    """A case moved along the normal path up to `to` (at most decided), by its actors; a
    decided case through its recorded decision (`outcome`), as notary.decision does it."""
    found = await get_matter(conn, matter)
    assert found is not None
    case = await create_case(
        conn,
        matter=found,
        office_id=world.office,
        applicant_account_id=world.applicant,
        applicant_name="张三",
        actor_id=world.applicant,
        actor_role="applicant",
    )
    await set_assigned_notary(conn, case.id, world.notary)
    path = [
        (CaseState.SUBMITTED, world.applicant, "applicant"),
        (CaseState.ACCEPTED, world.notary, "notary"),
        (CaseState.SCHEDULED, world.notary, "notary"),
        (CaseState.INTERVIEWED, world.notary, "notary"),
    ]
    for state, actor, role in path:
        if state is CaseState.SUBMITTED and to is CaseState.DRAFT:
            break
        await transition(conn, case.id, state, actor_id=actor, actor_role=role)
        if state is to:
            return case.id
    if to is CaseState.DECIDED:
        await decision.decide(
            conn, case.id, notary_id=world.notary, outcome=outcome, reasons="材料真实，符合规定"
        )
    return case.id
