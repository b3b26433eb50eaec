"""The roles an account can hold. The values are stored in the database; never rename one."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    APPLICANT = "applicant"  # 当事人
    NOTARY = "notary"  # 公证员
    SITE_OFFICER = "site_officer"  # consular officer or remote service-point staff
    SUPERVISOR = "supervisor"  # justice bureau or notary association
    ADMIN = "admin"  # runs the platform for an office
