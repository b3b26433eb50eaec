"""The parties of a case: the applicant, agents, relatives (with their relationship), others."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal
from notary.cases import Case, CaseError
from notary.tables import case_parties

MAX_PARTIES = 20
MAX_NAME = 100
_ID_NUMBER = re.compile(r"^[A-Za-z0-9]{5,32}$")


class PartyKind(StrEnum):
    APPLICANT = "applicant"  # added with the case, from the applicant's account
    AGENT = "agent"
    RELATIVE = "relative"
    OTHER = "other"


class Relationship(StrEnum):
    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    SIBLING = "sibling"
    GRANDPARENT = "grandparent"
    GRANDCHILD = "grandchild"
    IN_LAW = "in_law"
    OTHER = "other"


# 近亲属 as the Civil Code (art. 1045) names them: a notary related so to a party must recuse.
CLOSE_RELATIVES = frozenset(
    {
        Relationship.SPOUSE,
        Relationship.PARENT,
        Relationship.CHILD,
        Relationship.SIBLING,
        Relationship.GRANDPARENT,
        Relationship.GRANDCHILD,
    }
)


@dataclass(frozen=True)
class Party:
    id: str
    case_id: str
    kind: PartyKind
    name: str
    id_number: str | None
    relationship: Relationship | None
    account_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "name": self.name,
            "id_number": self.id_number,
            "relationship": self.relationship.value if self.relationship else None,
        }


def _party(row: sa.Row[Any]) -> Party:
    return Party(
        id=row.id,
        case_id=row.case_id,
        kind=PartyKind(row.kind),
        name=row.name,
        id_number=row.id_number,
        relationship=Relationship(row.relationship) if row.relationship else None,
        account_id=row.account_id,
    )


async def list_parties(conn: AsyncConnection, case_id: str) -> list[Party]:
    query = (
        sa.select(case_parties)
        .where(case_parties.c.case_id == case_id)
        .order_by(case_parties.c.created_at, case_parties.c.id)
    )
    return [_party(row) for row in await conn.execute(query)]


async def add_party(
    conn: AsyncConnection,
    case: Case,
    *,
    kind: str,
    name: str,
    id_number: str | None,
    relationship: str | None,
    actor_id: str,
    actor_role: str,
) -> Party:
    """Add an agent, relative or other party while the case is with the applicant; journaled."""
    if not case.editable:
        raise CaseError("case_locked", "parties can be changed only before submission")
    try:
        party_kind = PartyKind(kind)
    except ValueError:
        raise CaseError("invalid_party", "kind is agent, relative or other") from None
    if party_kind is PartyKind.APPLICANT:
        raise CaseError("invalid_party", "the applicant is added with the case")
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise CaseError("invalid_party", f"a name of 1 to {MAX_NAME} characters")
    if id_number is not None and not _ID_NUMBER.match(id_number):
        raise CaseError("invalid_party", "an ID number is 5 to 32 letters or digits")
    related: Relationship | None = None
    if relationship is not None:
        try:
            related = Relationship(relationship)
        except ValueError:
            raise CaseError(
                "invalid_party",
                f"relationship is one of {', '.join(r.value for r in Relationship)}",
            ) from None
    if party_kind is PartyKind.RELATIVE and related is None:
        raise CaseError("invalid_party", "a relative needs the relationship to the applicant")
    if len(await list_parties(conn, case.id)) >= MAX_PARTIES:
        raise CaseError("too_many_parties", f"a case has at most {MAX_PARTIES} parties")
    party_id = str(uuid.uuid4())
    await conn.execute(
        case_parties.insert().values(
            id=party_id,
            case_id=case.id,
            kind=party_kind.value,
            name=name,
            id_number=id_number,
            relationship=related.value if related else None,
            account_id=None,
            created_at=datetime.now(UTC),
        )
    )
    party = Party(party_id, case.id, party_kind, name, id_number, related, None)
    await journal.append(
        conn,
        action="case.party_added",
        actor_id=actor_id,
        actor_role=actor_role,
        case_id=case.id,
        # No ID number in the journal: it outlives the case file's access rules.
        after={"party_id": party_id, "kind": party_kind.value, "relationship": relationship},
    )
    return party
