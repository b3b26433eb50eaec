"""A small world for appointment tests: a Shanghai notary office, a Berlin consulate, people,
the matter catalog, and accepted cases ready to book."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from notary.accounts import create_account, ensure_office
from notary.cases import CaseState, create_case, transition
from notary.matters import get_matter, load_catalog, seed
from notary.roles import Role


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


@dataclass
class World:
    office: int  # Shanghai notary office
    consulate: int  # Berlin consulate (site officers)
    notary: str
    notary2: str
    applicant: str
    officer: str
    officer2: str
    admin: str


async def make_world(conn: AsyncConnection) -> World:
    office = await ensure_office(
        conn, "SH01", "上海公证处", "Shanghai Notary Office", "Asia/Shanghai"
    )
    consulate = await ensure_office(
        conn, "BER-C", "驻柏林总领馆", "Consulate General in Berlin", "Europe/Berlin"
    )

    async def person(role: Role, login: str, office_id: int | None) -> str:
        account = await create_account(
            conn,
            role=role,
            display_name=login.split("@")[0],
            login=login,
            password=None,
            office_id=office_id,
        )
        return account.id

    await seed(conn, load_catalog(["short", "long", "permanent"]))
    return World(
        office=office,
        consulate=consulate,
        notary=await person(Role.NOTARY, "wang@office.example", office),
        notary2=await person(Role.NOTARY, "zhao@office.example", office),
        applicant=await person(Role.APPLICANT, "+12125550123", None),
        officer=await person(Role.SITE_OFFICER, "li@consulate.example", consulate),
        officer2=await person(Role.SITE_OFFICER, "chen@consulate.example", consulate),
        admin=await person(Role.ADMIN, "admin@office.example", office),
    )


async def accepted_case(
    conn: AsyncConnection,
    world: World,
    *,
    matter: str = "birth",
    opened_by_officer: bool = False,
    applicant: str | None = None,
) -> str:
    """A case moved draft → submitted → accepted, as the applicant and a notary would."""
    found = await get_matter(conn, matter)
    assert found is not None
    applicant = applicant or world.applicant
    opener = world.officer if opened_by_officer else applicant
    case = await create_case(
        conn,
        matter=found,
        office_id=world.office,
        applicant_account_id=applicant,
        applicant_name="张三",
        actor_id=opener,
        actor_role="site_officer" if opened_by_officer else "applicant",
    )
    await transition(conn, case.id, CaseState.SUBMITTED, actor_id=opener, actor_role="applicant")
    await transition(conn, case.id, CaseState.ACCEPTED, actor_id=world.notary, actor_role="notary")
    return case.id
