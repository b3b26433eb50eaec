"""A small world for case tests: one office with staff, an applicant, and the matter catalog."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from notary.accounts import create_account, ensure_office
from notary.cases import Case, create_case
from notary.matters import Matter, get_matter, load_catalog, seed
from notary.roles import Role

RETENTION_CLASSES = ["short", "long", "permanent"]


@dataclass
class CaseWorld:
    office: int
    other_office: int
    notary: str
    notary2: str
    other_notary: str  # of the other office
    admin: str
    supervisor: str
    officer: str
    applicant: str
    applicant2: str


async def make_case_world(conn: AsyncConnection) -> CaseWorld:
    office = await ensure_office(
        conn, "GZ01", "广州公证处", "Guangzhou Notary Office", "Asia/Shanghai"
    )
    other = await ensure_office(
        conn, "SZ01", "深圳公证处", "Shenzhen Notary Office", "Asia/Shanghai"
    )

    async def person(role: Role, name: str, office_id: int | None) -> str:
        account = await create_account(
            conn,
            role=role,
            display_name=name,
            login=f"{name}@example.org",
            password=None,
            office_id=office_id,
        )
        return account.id

    await seed(conn, load_catalog(RETENTION_CLASSES))
    return CaseWorld(
        office=office,
        other_office=other,
        notary=await person(Role.NOTARY, "wang", office),
        notary2=await person(Role.NOTARY, "zhao", office),
        other_notary=await person(Role.NOTARY, "sun", other),
        admin=await person(Role.ADMIN, "admin", office),
        supervisor=await person(Role.SUPERVISOR, "super", office),
        officer=await person(Role.SITE_OFFICER, "officer", office),
        applicant=await person(Role.APPLICANT, "zhang", None),
        applicant2=await person(Role.APPLICANT, "liu", None),
    )


async def matter(conn: AsyncConnection, code: str) -> Matter:
    found = await get_matter(conn, code)
    assert found is not None
    return found


async def draft(
    conn: AsyncConnection, world: CaseWorld, code: str = "kinship", *, by_officer: bool = False
) -> Case:
    return await create_case(
        conn,
        matter=await matter(conn, code),
        office_id=world.office,
        applicant_account_id=world.applicant,
        applicant_name="张三",
        actor_id=world.officer if by_officer else world.applicant,
        actor_role="site_officer" if by_officer else "applicant",
    )
