"""`notarylink journal verify|head`: exit codes, JSON report, anchors, on both databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from notary import db, journal
from notary.db import create_engine
from signaling.journal_cli import parse_anchor
from tests.notary.conftest import (  # noqa: F401 (fixtures)
    postgres_admin_url,
    postgres_url,
    run_in_fresh_loop,
    sqlite_url,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    found: str = request.getfixturevalue(
        f"{request.param}_url" if request.param == "sqlite" else "postgres_url"
    )
    db.migrate(found)
    return found


def _cli(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTARYLINK_")}
    env["NOTARYLINK_DATA_DIR"] = str(tmp_path)
    env["NOTARYLINK_DATABASE_URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "signaling.cli", "journal", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def _run_sql(url: str, *statements: str) -> None:
    async def go() -> None:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    await conn.exec_driver_sql(statement)
        finally:
            await engine.dispose()

    run_in_fresh_loop(go)


def _append(url: str, count: int) -> list[journal.JournalEntry]:
    async def go() -> list[journal.JournalEntry]:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                return [
                    await journal.append(
                        conn, action="case.create", actor_id=f"a{i}", actor_role="applicant"
                    )
                    for i in range(count)
                ]
        finally:
            await engine.dispose()

    return run_in_fresh_loop(go)


def _tamper(url: str, statement: str) -> None:
    if url.startswith("postgresql"):
        _run_sql(url, "ALTER TABLE journal_entries DISABLE TRIGGER USER", statement)
    else:
        _run_sql(url, "DROP TRIGGER journal_entries_no_update", statement)


def test_an_intact_journal_verifies_and_head_prints_an_anchor(url: str, tmp_path: Path) -> None:
    entries = _append(url, 3)
    head = _cli(url, tmp_path, "head")
    assert head.returncode == 0, head.stderr
    assert head.stdout.strip() == f"3:{entries[-1].hash}"

    result = _cli(url, tmp_path, "verify", "--anchor", head.stdout.strip())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout and "3 entries" in result.stdout


def test_an_edited_entry_fails_with_the_reason_as_json(url: str, tmp_path: Path) -> None:
    _append(url, 3)
    _tamper(url, "UPDATE journal_entries SET actor_id = 'someone-else' WHERE seq = 2")
    result = _cli(url, tmp_path, "verify", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["entries"] == 3
    assert [(p["seq"], p["kind"]) for p in report["problems"]] == [(2, "hash_mismatch")]

    text = _cli(url, tmp_path, "verify")
    assert text.returncode == 1 and "[FAILED] entry 2: hash_mismatch" in text.stdout


def test_bad_anchor_and_unreachable_database_exit_2(url: str, tmp_path: Path) -> None:
    bad = _cli(url, tmp_path, "verify", "--anchor", "3:nothex")
    assert bad.returncode == 2 and "SEQ:HASH" in bad.stderr

    gone = "postgresql+asyncpg://nobody:s3cret-pw@127.0.0.1:9/none"
    result = _cli(gone, tmp_path, "verify")
    assert result.returncode == 2 and "cannot read the journal" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout


@pytest.mark.unit
def test_parse_anchor() -> None:
    assert parse_anchor(" 12:" + "AB" * 32) == (12, "ab" * 32)
    for bad in ("0:" + "a" * 64, "12", "x:" + "a" * 64, "1:" + "a" * 63):
        with pytest.raises(ValueError):
            parse_anchor(bad)
