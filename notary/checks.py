"""Supervision: random case checks (双随机) and statistics, without opening secret files."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal
from notary.cases import CaseError, CaseState
from notary.tables import case_checks, cases

MAX_DRAW = 50
_random = random.SystemRandom()  # a draw nobody can predict or replay to pick cases


class DrawConflict(CaseError):
    """Another draw took one of the same cases meanwhile (case_checks.case_id is unique): the
    caller's transaction is spoiled; drawing again picks among what is left."""

    def __init__(self) -> None:
        super().__init__("draw_conflict", "another draw took some of these cases; draw again")


async def draw(
    conn: AsyncConnection, *, supervisor_id: str, count: int, office_id: int | None = None
) -> list[str]:
    """Draw up to `count` cases at random among those past the draft and not drawn before.

    Secret cases (wills) are never drawn: their file is closed to everyone but two people.
    Raises DrawConflict when a concurrent draw committed one of the chosen cases first
    (PostgreSQL; SQLite's single writer serializes draws); the caller rolls back.
    """
    if not 1 <= count <= MAX_DRAW:
        raise ValueError(f"draw 1 to {MAX_DRAW} cases")
    query = sa.select(cases.c.id).where(
        cases.c.state != CaseState.DRAFT.value,
        cases.c.secret.is_(False),
        cases.c.id.not_in(sa.select(case_checks.c.case_id)),
    )
    if office_id is not None:
        query = query.where(cases.c.office_id == office_id)
    pool = list((await conn.scalars(query)).all())
    chosen = _random.sample(pool, min(count, len(pool)))
    now = datetime.now(UTC)
    for case_id in chosen:
        try:
            await conn.execute(
                case_checks.insert().values(
                    id=str(uuid.uuid4()), case_id=case_id, supervisor_id=supervisor_id, drawn_at=now
                )
            )
        except IntegrityError:
            raise DrawConflict() from None
        await journal.append(
            conn,
            action="case.drawn_for_check",
            actor_id=supervisor_id,
            actor_role="supervisor",
            case_id=case_id,
        )
    return chosen


async def is_drawn(conn: AsyncConnection, case_id: str) -> bool:
    found = await conn.scalar(sa.select(case_checks.c.id).where(case_checks.c.case_id == case_id))
    return found is not None


async def statistics(
    conn: AsyncConnection, *, office_id: int | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Counts by state and matter, and how long submitted cases have waited (no personal data)."""
    scope = sa.true() if office_id is None else cases.c.office_id == office_id
    by_state = {
        row.state: row.n
        for row in await conn.execute(
            sa.select(cases.c.state, sa.func.count().label("n"))
            .where(scope)
            .group_by(cases.c.state)
        )
    }
    by_matter = {
        row.matter_code: row.n
        for row in await conn.execute(
            sa.select(cases.c.matter_code, sa.func.count().label("n"))
            .where(scope)
            .group_by(cases.c.matter_code)
        )
    }
    waiting = (
        await conn.scalars(
            sa.select(cases.c.submitted_at).where(scope, cases.c.state == CaseState.SUBMITTED.value)
        )
    ).all()
    now = now or datetime.now(UTC)
    hours = [(now - t).total_seconds() / 3600 for t in waiting if t is not None]
    flagged = await conn.scalar(
        sa.select(sa.func.count()).where(
            scope, sa.or_(cases.c.fast_lane, cases.c.elderly, cases.c.disabled_applicant)
        )
    )
    return {
        "cases_by_state": {s.value: by_state.get(s.value, 0) for s in CaseState},
        "cases_by_matter": by_matter,
        "priority_cases": int(flagged or 0),
        "waiting_for_review": {
            "count": len(hours),
            "max_hours": round(max(hours), 1) if hours else 0.0,
            "mean_hours": round(sum(hours) / len(hours), 1) if hours else 0.0,
        },
        "drawn_for_check": int(
            await conn.scalar(sa.select(sa.func.count()).select_from(case_checks)) or 0
        ),
    }
