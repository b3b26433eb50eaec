"""notary/supervision.py: findings on cases drawn for a check, and the supervisor's work list."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import checks, journal, supervision
from notary.cases import CaseError
from tests.notary.aftercare_world import interviewed
from tests.notary.case_world import make_case_world


@pytest.mark.integration
async def test_findings_only_on_drawn_cases(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        world = await make_case_world(conn)
        case = await interviewed(conn, world)
        record = {"supervisor_id": world.supervisor, "supervisor_office_id": world.office}
        with pytest.raises(CaseError) as undrawn:
            await supervision.record_finding(conn, case.id, severity="none", text="ok", **record)
        assert undrawn.value.code == "not_drawn"
        assert await checks.draw(conn, supervisor_id=world.supervisor, count=5) == [case.id]
        for severity, text, code in [
            ("fatal", "x", "invalid_severity"),
            ("minor", " ", "invalid_text"),
            ("minor", "x" * (supervision.MAX_FINDING + 1), "invalid_text"),
        ]:
            with pytest.raises(CaseError) as bad:
                await supervision.record_finding(
                    conn, case.id, severity=severity, text=text, **record
                )
            assert bad.value.code == code
        with pytest.raises(LookupError):  # another office's supervisor
            await supervision.record_finding(
                conn,
                case.id,
                supervisor_id=world.supervisor,
                supervisor_office_id=world.other_office,
                severity="none",
                text="ok",
            )
        assert await supervision.checks_queue(conn, office_id=world.office) == [
            {
                "case_id": case.id,
                "drawn_at": (await supervision.checks_queue(conn, office_id=None))[0]["drawn_at"],
                "office_id": world.office,
                "matter_code": "kinship",
                "state": "interviewed",
                "findings": 0,
                "worst": None,
            }
        ]
        await supervision.record_finding(
            conn, case.id, severity="minor", text="notice sent late", **record
        )
        serious = await supervision.record_finding(
            conn, case.id, severity="serious", text="identity check skipped", **record
        )
        assert [f.severity.value for f in await supervision.list_findings(conn, case.id)] == [
            "minor",
            "serious",
        ]
        [row] = await supervision.checks_queue(conn, office_id=None)
        assert (row["findings"], row["worst"]) == (2, "serious")
        assert await supervision.checks_queue(conn, office_id=world.other_office) == []
        entry = (await journal.entries_for_case(conn, case.id))[-1]
        assert entry.action == "case.check_finding" and entry.after is not None
        assert entry.after["finding_id"] == serious.id and "skipped" not in str(entry.after)
