"""Who sees which case: least privilege per role, secret files (wills) closest of all.

- applicant: their own cases;
- notary: cases of their office assigned to them;
- site officer: cases they opened on an applicant's behalf, unless secret;
- admin: a summary of their office's cases (to assign them), never the file;
- supervisor: statistics, and the file of cases drawn for a check (never a secret one).
- the second notary asked for an opinion (notary.decision) reads the file while that referral
  is open; callers grant this on read-only routes only (nothing there changes the case).
A secret case's file is seen only by its assigned notary and its applicant.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import sqlalchemy as sa

from notary.cases import Case
from notary.roles import Role
from notary.tables import case_checks, cases


@dataclass(frozen=True)
class Viewer:
    account_id: str
    role: Role
    office_id: int | None


class Sight(Enum):
    NONE = 0
    SUMMARY = 1  # state, matter, flags, dates: enough to assign or count
    FILE = 2  # parties, materials, notices, conflicts


def sight(
    viewer: Viewer, case: Case, *, drawn_for_check: bool = False, second_opinion: bool = False
) -> Sight:
    """What `viewer` may see of `case`. `drawn_for_check`: the case is drawn for a supervisor's
    check (notary.checks.is_drawn); `second_opinion`: the viewer is the second notary of an open
    referral on it (notary.decision.is_second_notary), to be passed for reading only."""
    if viewer.role is Role.APPLICANT:
        return Sight.FILE if case.applicant_account_id == viewer.account_id else Sight.NONE
    if viewer.role is Role.NOTARY:
        if case.office_id != viewer.office_id:
            return Sight.NONE
        if case.assigned_notary_id == viewer.account_id:
            return Sight.FILE
        return Sight.FILE if second_opinion and not case.secret else Sight.NONE
    if viewer.role is Role.SITE_OFFICER:
        opened = case.opened_by_id == viewer.account_id and not case.secret
        return Sight.FILE if opened else Sight.NONE
    if viewer.role is Role.ADMIN:
        return Sight.SUMMARY if case.office_id == viewer.office_id else Sight.NONE
    if viewer.role is Role.SUPERVISOR:
        return Sight.FILE if drawn_for_check and not case.secret else Sight.NONE
    return Sight.NONE


def visible(viewer: Viewer) -> sa.ColumnElement[bool]:
    """The same rule as `sight` (anything above NONE), as a WHERE clause for listings. A second
    notary's reading is not listed here: their queue is notary.decision.awaiting_opinion."""
    if viewer.role is Role.APPLICANT:
        return cases.c.applicant_account_id == viewer.account_id
    if viewer.role is Role.NOTARY:
        return sa.and_(
            cases.c.office_id == viewer.office_id,
            cases.c.assigned_notary_id == viewer.account_id,
        )
    if viewer.role is Role.SITE_OFFICER:
        return sa.and_(cases.c.opened_by_id == viewer.account_id, cases.c.secret.is_(False))
    if viewer.role is Role.ADMIN:
        return cases.c.office_id == viewer.office_id
    if viewer.role is Role.SUPERVISOR:
        drawn = sa.select(case_checks.c.case_id)
        return sa.and_(cases.c.id.in_(drawn), cases.c.secret.is_(False))
    return sa.false()
