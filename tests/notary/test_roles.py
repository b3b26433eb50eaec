"""notary.roles: the stored role values never change."""

from __future__ import annotations

import pytest

from notary.roles import Role

pytestmark = pytest.mark.unit


def test_role_values_are_the_stored_strings() -> None:
    # These strings are in the database and in the CHECK constraint of migration 0001.
    assert [r.value for r in Role] == [
        "applicant",
        "notary",
        "site_officer",
        "supervisor",
        "admin",
    ]
