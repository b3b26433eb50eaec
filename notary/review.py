"""Submission and pre-review with one notice (一次性告知).

The notary accepts a submitted case or returns it with ONE notice that lists everything missing
or wrong. A later notice may name only what changed since the previous one (materials added
after it): a notary cannot drip new requests about things the applicant had already handed in.
The applicant resubmits only once every item of the last notice has a newer material.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal
from notary.cases import Case, CaseError, CaseState, transition
from notary.materials import Material, list_materials, missing_requirements
from notary.matters import Matter
from notary.tables import case_notices

MAX_ITEMS = 40
MAX_PROBLEM = 500
MAX_MESSAGE = 2000


@dataclass(frozen=True)
class Notice:
    id: str
    case_id: str
    round: int
    notary_id: str
    items: list[dict[str, Any]]  # {"requirement", "material_id" or None, "problem"}
    message: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "round": self.round,
            "items": self.items,
            "message": self.message,
            "created_at": self.created_at.isoformat(),
        }


def _notice(row: sa.Row[Any]) -> Notice:
    return Notice(
        id=row.id,
        case_id=row.case_id,
        round=row.round,
        notary_id=row.notary_id,
        items=list(row.items),
        message=row.message,
        created_at=row.created_at,
    )


async def list_notices(conn: AsyncConnection, case_id: str) -> list[Notice]:
    query = (
        sa.select(case_notices)
        .where(case_notices.c.case_id == case_id)
        .order_by(case_notices.c.round)
    )
    return [_notice(row) for row in await conn.execute(query)]


def _open_items(last: Notice, materials: list[Material]) -> list[str]:
    """Requirements the last notice named that have no material added after it."""
    fixed = {m.requirement for m in materials if m.created_at > last.created_at}
    return sorted({item["requirement"] for item in last.items} - fixed)


async def submit(
    conn: AsyncConnection, case: Case, matter: Matter, *, actor_id: str, actor_role: str
) -> Case:
    """Submit a draft, or resubmit a returned case once the notice's items are all answered."""
    materials = await list_materials(conn, case.id)
    missing = missing_requirements(matter, materials)
    if missing:
        raise SubmissionIncomplete("materials_missing", "required materials are missing", missing)
    if case.state is CaseState.RETURNED:
        notices = await list_notices(conn, case.id)
        if notices:
            still_open = _open_items(notices[-1], materials)
            if still_open:
                raise SubmissionIncomplete(
                    "notice_items_open", "the notice names items not yet answered", still_open
                )
    reason = "resubmitted after notice" if case.state is CaseState.RETURNED else "submitted"
    return await transition(
        conn, case.id, CaseState.SUBMITTED, actor_id=actor_id, actor_role=actor_role, reason=reason
    )


class SubmissionIncomplete(CaseError):
    def __init__(self, code: str, message: str, requirements: list[str]) -> None:
        super().__init__(code, message)
        self.requirements = requirements


class NoticeRefused(CaseError):
    def __init__(self, code: str, message: str, items: list[int] | None = None) -> None:
        super().__init__(code, message)
        self.items = items or []


def _require_reviewer(case: Case, notary_id: str) -> None:
    if case.state is not CaseState.SUBMITTED:
        raise CaseError("not_submitted", f"a {case.state.value} case is not waiting for review")
    if case.assigned_notary_id != notary_id:
        raise CaseError("not_assigned", "only the notary assigned to the case reviews it")


def _clean_items(matter: Matter, raw_items: list[Any]) -> list[dict[str, Any]]:
    if not raw_items or len(raw_items) > MAX_ITEMS:
        raise NoticeRefused("invalid_notice", f"a notice lists 1 to {MAX_ITEMS} items")
    items: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            raise NoticeRefused("invalid_notice", f"item {index} is not an object", [index])
        requirement = raw.get("requirement")
        problem = raw.get("problem")
        material_id = raw.get("material_id")
        if not isinstance(requirement, str) or matter.requirement(requirement) is None:
            raise NoticeRefused(
                "invalid_notice", f"item {index}: not a material of this matter", [index]
            )
        if not isinstance(problem, str) or not problem.strip() or len(problem) > MAX_PROBLEM:
            raise NoticeRefused(
                "invalid_notice", f"item {index}: a problem of 1 to {MAX_PROBLEM} chars", [index]
            )
        if material_id is not None and not isinstance(material_id, str):
            raise NoticeRefused("invalid_notice", f"item {index}: bad material_id", [index])
        if any(i["requirement"] == requirement for i in items):
            raise NoticeRefused(
                "invalid_notice", f"item {index}: one item per material, please merge", [index]
            )
        items.append(
            {"requirement": requirement, "material_id": material_id, "problem": problem.strip()}
        )
    return items


async def send_notice(
    conn: AsyncConnection,
    case: Case,
    matter: Matter,
    *,
    notary_id: str,
    items: list[Any],
    message: str | None,
) -> Notice:
    """Return the case with one notice; enforce that a later notice names only new materials."""
    _require_reviewer(case, notary_id)
    if message is not None and len(message) > MAX_MESSAGE:
        raise NoticeRefused("invalid_notice", f"a message of at most {MAX_MESSAGE} characters")
    clean = _clean_items(matter, items)
    materials = {m.id: m for m in await list_materials(conn, case.id)}
    for index, item in enumerate(clean):
        named = materials.get(item["material_id"]) if item["material_id"] else None
        if item["material_id"] and (named is None or named.requirement != item["requirement"]):
            raise NoticeRefused(
                "invalid_notice", f"item {index}: no such material for that requirement", [index]
            )
    previous = await list_notices(conn, case.id)
    if previous:
        since = previous[-1].created_at
        stale = [
            index
            for index, item in enumerate(clean)
            if item["material_id"] is None or materials[item["material_id"]].created_at <= since
        ]
        if stale:
            raise NoticeRefused(
                "notice_not_new",
                "after the first notice, a notice may only name materials added since the last "
                "one (everything else belonged in the first notice)",
                stale,
            )
    notice = Notice(
        id=str(uuid.uuid4()),
        case_id=case.id,
        round=len(previous) + 1,
        notary_id=notary_id,
        items=clean,
        message=message.strip() if message else None,
        created_at=datetime.now(UTC),
    )
    await conn.execute(
        case_notices.insert().values(
            id=notice.id,
            case_id=case.id,
            round=notice.round,
            notary_id=notary_id,
            items=clean,
            message=notice.message,
            created_at=notice.created_at,
        )
    )
    await journal.append(
        conn,
        action="case.notice",
        actor_id=notary_id,
        actor_role="notary",
        case_id=case.id,
        after={"round": notice.round, "items": clean},
    )
    await transition(
        conn,
        case.id,
        CaseState.RETURNED,
        actor_id=notary_id,
        actor_role="notary",
        reason=f"notice {notice.round}: {len(clean)} item(s)",
    )
    return notice


async def accept(conn: AsyncConnection, case: Case, *, notary_id: str) -> Case:
    _require_reviewer(case, notary_id)
    return await transition(
        conn,
        case.id,
        CaseState.ACCEPTED,
        actor_id=notary_id,
        actor_role="notary",
        reason="pre-review passed",
    )
