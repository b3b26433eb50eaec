"""aftercare: decisions and referrals, deliveries, ratings, complaints, check findings

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_decisions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("notary_id", sa.String(length=36), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('approved', 'refused')", name=op.f("ck_case_decisions_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_decisions_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["notary_id"], ["accounts.id"], name=op.f("fk_case_decisions_notary_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_decisions")),
        sa.UniqueConstraint("case_id", name=op.f("uq_case_decisions_case_id")),
    )
    op.create_table(
        "case_ratings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("applicant_id", sa.String(length=36), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score >= 1 AND score <= 5", name=op.f("ck_case_ratings_score")),
        sa.ForeignKeyConstraint(
            ["applicant_id"], ["accounts.id"], name=op.f("fk_case_ratings_applicant_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_ratings_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_ratings")),
        sa.UniqueConstraint("case_id", name=op.f("uq_case_ratings_case_id")),
    )
    op.create_table(
        "case_referrals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("referred_by", sa.String(length=36), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("second_notary_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("recommendation", sa.String(length=16), nullable=True),
        sa.Column("record", sa.Text(), nullable=True),
        sa.Column("participants", sa.JSON(), nullable=True),
        sa.Column("concluded_by", sa.String(length=36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("concluded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(kind = 'second_notary') = (second_notary_id IS NOT NULL)",
            name=op.f("ck_case_referrals_second_notary"),
        ),
        sa.CheckConstraint(
            "(state = 'concluded') = (concluded_at IS NOT NULL AND record IS NOT NULL)",
            name=op.f("ck_case_referrals_concluded"),
        ),
        sa.CheckConstraint(
            "kind IN ('second_notary', 'collective')", name=op.f("ck_case_referrals_kind")
        ),
        sa.CheckConstraint(
            "recommendation IS NULL OR recommendation IN ('approved', 'refused')",
            name=op.f("ck_case_referrals_recommendation"),
        ),
        sa.CheckConstraint("state IN ('open', 'concluded')", name=op.f("ck_case_referrals_state")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_referrals_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["concluded_by"], ["accounts.id"], name=op.f("fk_case_referrals_concluded_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["referred_by"], ["accounts.id"], name=op.f("fk_case_referrals_referred_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["second_notary_id"],
            ["accounts.id"],
            name=op.f("fk_case_referrals_second_notary_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_referrals")),
    )
    op.create_index(op.f("ix_case_referrals_case_id"), "case_referrals", ["case_id"], unique=False)

    op.create_table(
        "complaints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("applicant_id", sa.String(length=36), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=36), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state = 'open' OR answer IS NOT NULL", name=op.f("ck_complaints_answered")
        ),
        sa.CheckConstraint(
            "state IN ('open', 'answered', 'closed')", name=op.f("ck_complaints_state")
        ),
        sa.ForeignKeyConstraint(
            ["answered_by"], ["accounts.id"], name=op.f("fk_complaints_answered_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["applicant_id"], ["accounts.id"], name=op.f("fk_complaints_applicant_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_complaints_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_complaints_office_id_offices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
    )
    op.create_index(op.f("ix_complaints_case_id"), "complaints", ["case_id"], unique=False)
    op.create_index(op.f("ix_complaints_office_id"), "complaints", ["office_id"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("carrier", sa.String(length=64), nullable=True),
        sa.Column("tracking_number", sa.String(length=64), nullable=True),
        sa.Column("receipt_key", sa.String(length=300), nullable=True),
        sa.Column("receipt_sha256", sa.String(length=64), nullable=True),
        sa.Column("receipt_content_type", sa.String(length=64), nullable=True),
        sa.Column("receipt_size", sa.Integer(), nullable=True),
        sa.Column("receipt_version_id", sa.String(length=200), nullable=True),
        sa.Column("created_by", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "method <> 'post' OR state NOT IN ('dispatched', 'delivered') "
            "OR (carrier IS NOT NULL AND tracking_number IS NOT NULL)",
            name=op.f("ck_deliveries_post_tracked"),
        ),
        sa.CheckConstraint(
            "method = 'post' OR address IS NULL", name=op.f("ck_deliveries_address_for_post")
        ),
        sa.CheckConstraint(
            "method IN ('post', 'electronic', 'pickup')", name=op.f("ck_deliveries_method")
        ),
        sa.CheckConstraint(
            "state IN ('preparing', 'dispatched', 'ready', 'delivered', 'failed')",
            name=op.f("ck_deliveries_state"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_deliveries_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["accounts.id"], name=op.f("fk_deliveries_created_by_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("case_id", name=op.f("uq_deliveries_case_id")),
    )
    op.create_table(
        "check_findings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("check_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("supervisor_id", sa.String(length=36), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "severity IN ('none', 'minor', 'serious')", name=op.f("ck_check_findings_severity")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_check_findings_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["check_id"], ["case_checks.id"], name=op.f("fk_check_findings_check_id_case_checks")
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_id"],
            ["accounts.id"],
            name=op.f("fk_check_findings_supervisor_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_findings")),
    )
    op.create_index(
        op.f("ix_check_findings_check_id"), "check_findings", ["check_id"], unique=False
    )

    op.create_table(
        "delivery_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("actor_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('preparing', 'dispatched', 'ready', 'delivered', 'failed')",
            name=op.f("ck_delivery_events_state"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["accounts.id"], name=op.f("fk_delivery_events_actor_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_events_delivery_id_deliveries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_events")),
    )
    op.create_index(
        op.f("ix_delivery_events_delivery_id"), "delivery_events", ["delivery_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_events_delivery_id"), table_name="delivery_events")

    op.drop_table("delivery_events")
    op.drop_index(op.f("ix_check_findings_check_id"), table_name="check_findings")

    op.drop_table("check_findings")
    op.drop_table("deliveries")
    op.drop_index(op.f("ix_complaints_office_id"), table_name="complaints")
    op.drop_index(op.f("ix_complaints_case_id"), table_name="complaints")

    op.drop_table("complaints")
    op.drop_index(op.f("ix_case_referrals_case_id"), table_name="case_referrals")

    op.drop_table("case_referrals")
    op.drop_table("case_ratings")
    op.drop_table("case_decisions")
