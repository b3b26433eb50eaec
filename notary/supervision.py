"""Findings of quality checks (双随机): what a supervisor found on a case drawn for a check.

The draw itself is notary.checks (random, once per case, never a secret case). A finding is
recorded only on a drawn case, by a supervisor; findings are never edited (a correction is a
new finding) and each is journaled. A supervisor who belongs to an office checks that office's
cases; one who belongs to none (a justice bureau) checks any.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from notary import journal
from notary.cases import CaseError, get_case
from notary.roles import Role
from notary.tables import case_checks, cases, check_findings

MAX_FINDING = 4000
MAX_FINDINGS_PER_CASE = 50


class Severity(StrEnum):
    NONE = "none"  # checked, nothing wrong
    MINOR = "minor"
    SERIOUS = "serious"


@dataclass(frozen=True)
class Finding:
    id: str
    case_id: str
    supervisor_id: str
    severity: Severity
    text: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case_id": self.case_id,
            "supervisor_id": self.supervisor_id,
            "severity": self.severity.value,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
        }


def _scope(office_id: int | None) -> sa.ColumnElement[bool]:
    return sa.true() if office_id is None else cases.c.office_id == office_id


async def list_findings(conn: AsyncConnection, case_id: str) -> list[Finding]:
    rows = await conn.execute(
        sa.select(check_findings)
        .where(check_findings.c.case_id == case_id)
        .order_by(check_findings.c.created_at)
    )
    return [
        Finding(r.id, r.case_id, r.supervisor_id, Severity(r.severity), r.text, r.created_at)
        for r in rows
    ]


async def record_finding(
    conn: AsyncConnection,
    case_id: str,
    *,
    supervisor_id: str,
    supervisor_office_id: int | None,
    severity: str,
    text: str,
) -> Finding:
    try:
        severity_ = Severity(severity)
    except ValueError:
        raise CaseError("invalid_severity", "severity is none, minor or serious") from None
    text = text.strip()
    if not text or len(text) > MAX_FINDING:
        raise CaseError("invalid_text", f"a finding of 1 to {MAX_FINDING} characters")
    case = await get_case(conn, case_id)
    if case is None or (supervisor_office_id not in (None, case.office_id)):
        raise LookupError(case_id)
    check_id = await conn.scalar(
        sa.select(case_checks.c.id).where(case_checks.c.case_id == case_id)
    )
    if check_id is None:
        raise CaseError("not_drawn", "findings are recorded on cases drawn for a check")
    count = await conn.scalar(sa.select(sa.func.count()).where(check_findings.c.case_id == case_id))
    if (count or 0) >= MAX_FINDINGS_PER_CASE:
        raise CaseError("too_many_findings", f"at most {MAX_FINDINGS_PER_CASE} per case")
    finding = Finding(str(uuid.uuid4()), case_id, supervisor_id, severity_, text, datetime.now(UTC))
    await conn.execute(
        check_findings.insert().values(
            id=finding.id,
            check_id=check_id,
            case_id=case_id,
            supervisor_id=supervisor_id,
            severity=severity_.value,
            text=text,
            created_at=finding.created_at,
        )
    )
    await journal.append(
        conn,
        action="case.check_finding",
        actor_id=supervisor_id,
        actor_role=Role.SUPERVISOR.value,
        case_id=case_id,
        after={
            "finding_id": finding.id,
            "severity": severity_.value,
            "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
        },
    )
    return finding


async def checks_queue(conn: AsyncConnection, *, office_id: int | None) -> list[dict[str, Any]]:
    """Drawn cases in scope with how many findings each has and the worst one: the work list."""
    worst = sa.func.max(
        sa.case(
            (check_findings.c.severity == Severity.SERIOUS.value, 2),
            (check_findings.c.severity == Severity.MINOR.value, 1),
            else_=0,
        )
    )
    query = (
        sa.select(
            case_checks.c.case_id,
            case_checks.c.drawn_at,
            cases.c.office_id,
            cases.c.matter_code,
            cases.c.state,
            sa.func.count(check_findings.c.id).label("findings"),
            worst.label("worst"),
        )
        .join(cases, cases.c.id == case_checks.c.case_id)
        .outerjoin(check_findings, check_findings.c.check_id == case_checks.c.id)
        .where(_scope(office_id))
        .group_by(
            case_checks.c.case_id,
            case_checks.c.drawn_at,
            cases.c.office_id,
            cases.c.matter_code,
            cases.c.state,
        )
        .order_by(case_checks.c.drawn_at.desc(), case_checks.c.case_id)
    )
    names = [s.value for s in Severity]
    return [
        {
            "case_id": row.case_id,
            "drawn_at": row.drawn_at.isoformat(),
            "office_id": row.office_id,
            "matter_code": row.matter_code,
            "state": row.state,
            "findings": int(row.findings),
            "worst": names[int(row.worst)] if row.findings else None,
        }
        for row in await conn.execute(query)
    ]
