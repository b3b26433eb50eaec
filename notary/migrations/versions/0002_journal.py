"""journal: append-only, hash-chained log of every action on every case

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:15:00

Besides the table, triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL) so that the
platform cannot change the journal even by mistake. Someone with direct database access can
still drop or disable them; `notarylink journal verify` detects what they then change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSED = "journal_entries is append-only"

PG_FUNCTION = f"""
CREATE FUNCTION journal_entries_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '{REFUSED}' USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "journal_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("actor_role", sa.String(length=16), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("before_json", sa.Text(), nullable=True),
        sa.Column("after_json", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_journal_entries_seq_positive")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_journal_entries")),
        sa.UniqueConstraint("hash", name=op.f("uq_journal_entries_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_journal_entries_prev_hash")),
    )
    op.create_index(
        op.f("ix_journal_entries_case_id"), "journal_entries", ["case_id"], unique=False
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE "
            "ON journal_entries FOR EACH ROW EXECUTE FUNCTION journal_entries_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE "
            "ON journal_entries FOR EACH STATEMENT EXECUTE FUNCTION journal_entries_refuse_change()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER journal_entries_no_{event.lower()} BEFORE {event} "
                f"ON journal_entries BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"
            )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS journal_entries_no_truncate ON journal_entries")
        op.execute("DROP TRIGGER IF EXISTS journal_entries_append_only ON journal_entries")
        op.execute("DROP FUNCTION IF EXISTS journal_entries_refuse_change()")
    else:
        op.execute("DROP TRIGGER IF EXISTS journal_entries_no_delete")
        op.execute("DROP TRIGGER IF EXISTS journal_entries_no_update")
    op.drop_index(op.f("ix_journal_entries_case_id"), table_name="journal_entries")
    op.drop_table("journal_entries")
