"""notary/parties.py: agents and relatives with their relationship, only while editable."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import journal
from notary.cases import CaseError, CaseState, get_case, transition
from notary.parties import CLOSE_RELATIVES, Relationship, add_party, list_parties
from tests.notary.case_world import draft, make_case_world


@pytest.mark.unit
def test_close_relatives_are_those_the_civil_code_names() -> None:
    assert Relationship.SPOUSE in CLOSE_RELATIVES and Relationship.GRANDCHILD in CLOSE_RELATIVES
    assert Relationship.IN_LAW not in CLOSE_RELATIVES and Relationship.OTHER not in CLOSE_RELATIVES


@pytest.mark.integration
async def test_parties_are_added_checked_and_journaled(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await draft(conn, world)
        actor = {"actor_id": world.applicant, "actor_role": "applicant"}
        agent = await add_party(
            conn,
            case,
            kind="agent",
            name=" 李律师 ",
            id_number="A1234567",
            relationship=None,
            **actor,
        )
        father = await add_party(
            conn,
            case,
            kind="relative",
            name="张父",
            id_number=None,
            relationship="parent",
            **actor,
        )
        assert agent.name == "李律师" and father.relationship is Relationship.PARENT
        for kind, name, id_number, relationship in [
            ("relative", "x", None, None),  # a relative needs the relationship
            ("applicant", "x", None, None),
            ("boss", "x", None, None),
            ("other", "", None, None),
            ("other", "x", "../1", None),
            ("relative", "x", None, "cousin"),
        ]:
            with pytest.raises(CaseError):
                await add_party(
                    conn,
                    case,
                    kind=kind,
                    name=name,
                    id_number=id_number,
                    relationship=relationship,
                    **actor,
                )
        await transition(conn, case.id, CaseState.SUBMITTED, **actor)
        submitted = await get_case(conn, case.id)
        assert submitted is not None
        with pytest.raises(CaseError, match="before submission"):
            await add_party(
                conn, submitted, kind="other", name="x", id_number=None, relationship=None, **actor
            )
        names = [p.name for p in await list_parties(conn, case.id)]
        entries = await journal.entries_for_case(conn, case.id)
    assert names == ["张三", "李律师", "张父"]
    added = [e.after for e in entries if e.action == "case.party_added"]
    assert len(added) == 2 and all("id_number" not in (a or {}) for a in added)
