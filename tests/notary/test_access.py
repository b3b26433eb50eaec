"""notary/access.py: each role sees what it must and nothing more; secret files closest."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notary.access import Sight, Viewer, sight, visible
from notary.cases import Case, CaseState, list_cases, set_assigned_notary
from notary.checks import draw
from notary.roles import Role
from tests.notary.case_world import draft, make_case_world

NOW = datetime(2026, 11, 22, tzinfo=UTC)
CASE = Case(
    id="c",
    office_id=1,
    matter_code="birth",
    applicant_account_id="app",
    opened_by_id="officer",
    assigned_notary_id="notary",
    state=CaseState.SUBMITTED,
    fast_lane=False,
    elderly=False,
    disabled_applicant=False,
    secret=False,
    created_at=NOW,
    updated_at=NOW,
    submitted_at=NOW,
)
WILL = dataclasses.replace(CASE, matter_code="will", secret=True)


@pytest.mark.unit
@pytest.mark.parametrize(
    "viewer, drawn, on_case, on_will",
    [
        (Viewer("app", Role.APPLICANT, None), False, Sight.FILE, Sight.FILE),
        (Viewer("other", Role.APPLICANT, None), False, Sight.NONE, Sight.NONE),
        (Viewer("notary", Role.NOTARY, 1), False, Sight.FILE, Sight.FILE),
        (Viewer("notary", Role.NOTARY, 2), False, Sight.NONE, Sight.NONE),  # moved office
        (Viewer("notary2", Role.NOTARY, 1), False, Sight.NONE, Sight.NONE),
        (Viewer("officer", Role.SITE_OFFICER, 1), False, Sight.FILE, Sight.NONE),
        (Viewer("officer2", Role.SITE_OFFICER, 1), False, Sight.NONE, Sight.NONE),
        (Viewer("admin", Role.ADMIN, 1), False, Sight.SUMMARY, Sight.SUMMARY),
        (Viewer("admin", Role.ADMIN, 2), False, Sight.NONE, Sight.NONE),
        (Viewer("super", Role.SUPERVISOR, 1), False, Sight.NONE, Sight.NONE),
        (Viewer("super", Role.SUPERVISOR, 1), True, Sight.FILE, Sight.NONE),
    ],
)
def test_sight_by_role(viewer: Viewer, drawn: bool, on_case: Sight, on_will: Sight) -> None:
    assert sight(viewer, CASE, drawn_for_check=drawn) is on_case
    assert sight(viewer, WILL, drawn_for_check=drawn) is on_will


@pytest.mark.unit
def test_a_second_notary_reads_the_file_of_their_office_never_a_secret_one() -> None:
    asked = Viewer("notary2", Role.NOTARY, 1)
    assert sight(asked, CASE, second_opinion=True) is Sight.FILE
    assert sight(asked, CASE) is Sight.NONE
    assert sight(asked, WILL, second_opinion=True) is Sight.NONE
    assert sight(Viewer("notary2", Role.NOTARY, 2), CASE, second_opinion=True) is Sight.NONE
    # The flag means nothing for other roles.
    assert sight(Viewer("admin", Role.ADMIN, 1), CASE, second_opinion=True) is Sight.SUMMARY


@pytest.mark.integration
async def test_listings_follow_the_same_rule(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        own = await draft(conn, world)
        will = await draft(conn, world, "will", by_officer=True)
        await set_assigned_notary(conn, will.id, world.notary)

        async def ids(account: str, role: Role, office: int | None) -> set[str]:
            found = await list_cases(conn, visible(Viewer(account, role, office)))
            return {c.id for c in found}

        assert await ids(world.applicant, Role.APPLICANT, None) == {own.id, will.id}
        assert await ids(world.applicant2, Role.APPLICANT, None) == set()
        assert await ids(world.notary, Role.NOTARY, world.office) == {will.id}
        assert await ids(world.notary2, Role.NOTARY, world.office) == set()
        assert await ids(world.officer, Role.SITE_OFFICER, world.office) == set()  # will: secret
        assert await ids(world.admin, Role.ADMIN, world.office) == {own.id, will.id}
        assert await ids(world.admin, Role.ADMIN, world.other_office) == set()
        assert await ids(world.supervisor, Role.SUPERVISOR, None) == set()
        assert await draw(conn, supervisor_id=world.supervisor, count=5) == []  # drafts only
