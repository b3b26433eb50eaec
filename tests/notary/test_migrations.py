"""notary/migrations: the revisions build notary.tables, both ways, on both databases."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from notary import db
from notary.tables import metadata
from tests.notary.conftest import run_in_fresh_loop

TABLES = {"offices", "accounts", "journal_entries"}
TABLES |= {"matters", "cases", "case_parties", "case_materials", "case_notices"}  # 0003
TABLES |= {"case_conflicts", "case_checks"}  # 0003
TABLES |= {"availability_windows", "appointments", "appointment_holds", "notifications"}  # 0004
TABLES |= {"payments", "certificate_counters", "certificates"}  # 0005
TABLES |= {"case_decisions", "case_referrals", "deliveries", "delivery_events"}  # 0006
TABLES |= {"case_ratings", "complaints", "check_findings"}  # 0006


def _inspect(url: str, read: Any) -> Any:
    """Run `read(sync_connection)` against the database at `url` and return its result."""

    async def go() -> Any:
        engine = db.create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(read)
        finally:
            await engine.dispose()

    return run_in_fresh_loop(go)


def _table_names(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


@pytest.mark.unit
def test_one_linear_history_with_a_single_head() -> None:
    script = ScriptDirectory.from_config(db.alembic_config("sqlite+aiosqlite://"))
    assert len(script.get_heads()) == 1
    assert script.get_current_head() == db.head_revision()
    for revision in script.walk_revisions():
        assert not isinstance(revision.down_revision, tuple | list), "merge revisions need review"


@pytest.mark.integration
def test_upgrade_downgrade_upgrade(database_url: str) -> None:
    db.migrate(database_url)
    assert _inspect(database_url, _table_names) == TABLES | {"alembic_version"}
    assert db.current_revision(database_url) == db.head_revision()

    db.downgrade(database_url, "base")
    assert _inspect(database_url, _table_names) == {"alembic_version"}
    assert db.current_revision(database_url) is None

    db.migrate(database_url)
    assert _inspect(database_url, _table_names) == TABLES | {"alembic_version"}
    assert db.current_revision(database_url) == db.head_revision()


BROKEN_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("SELECT * FROM no_such_table")


def downgrade() -> None:
    pass
"""


@pytest.mark.integration
def test_a_failing_migration_leaves_the_database_as_it_was(
    database_url: str, tmp_path: Path
) -> None:
    # One transaction for the whole run, on SQLite too: 0001 and the broken one both roll back.
    scripts = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    broken = BROKEN_REVISION.format(down=db.head_revision())
    (scripts / "versions" / "9999_broken.py").write_text(broken)
    config = db.alembic_config(database_url)
    config.set_main_option("script_location", str(scripts))

    with pytest.raises(sa.exc.DBAPIError, match="no_such_table"):
        command.upgrade(config, "head")

    assert db.current_revision(database_url) is None
    assert _inspect(database_url, _table_names) == set()


@pytest.mark.integration
def test_head_matches_the_metadata(migrated_url: str) -> None:
    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    assert _inspect(migrated_url, diff) == []


@pytest.mark.integration
def test_constraint_names_follow_the_naming_convention(migrated_url: str) -> None:
    # Autogenerate compares neither CHECK constraints nor most names; check them directly so a
    # later migration can drop any of them by the same name on both databases.
    def names(connection: Connection) -> dict[str, set[str | None]]:
        inspector = sa.inspect(connection)
        found: dict[str, set[str | None]] = {}
        for table in TABLES:
            found[table] = (
                {c["name"] for c in inspector.get_check_constraints(table)}
                | {c["name"] for c in inspector.get_unique_constraints(table)}
                | {c["name"] for c in inspector.get_foreign_keys(table)}
                | {i["name"] for i in inspector.get_indexes(table)}
                | {inspector.get_pk_constraint(table)["name"]}
            )
        return found

    expected = {
        table: {c.name for c in metadata.tables[table].constraints}
        | {i.name for i in metadata.tables[table].indexes}
        for table in TABLES
    }
    assert _inspect(migrated_url, names) == expected


@pytest.mark.unit
@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgresql+asyncpg://postgres@127.0.0.1:5432/test", "CONSTRAINT ck_accounts_role"),
        ("sqlite+aiosqlite:////tmp/never-opened.db", "CREATE TABLE accounts"),
    ],
)
def test_offline_mode_writes_the_sql_without_a_database(url: str, expected: str) -> None:
    config = db.alembic_config(url)
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    assert expected in config.output_buffer.getvalue()
