"""cases: the matter catalog, cases, parties, materials, notices, conflicts and supervisor checks

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported: a migration must keep building what it built when the
# vocabularies in notary/tables.py later grow.
CASE_STATES = (
    "'draft', 'submitted', 'returned', 'accepted', 'scheduled', 'interviewed', 'decided', "
    "'certificate_issued', 'delivered', 'archived'"
)


def _created_at(name: str = "created_at", nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "matters",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("base_fee_cents", sa.Integer(), nullable=False),
        sa.Column("expected_days", sa.Integer(), nullable=False),
        sa.Column("remote_allowed", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("retention_class", sa.String(length=32), nullable=False),
        sa.Column("notice", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("revision", sa.Integer(), server_default="1", nullable=False),
        _created_at("updated_at"),
        sa.Column("updated_by", sa.String(length=36), nullable=True),
        sa.CheckConstraint("base_fee_cents >= 0", name=op.f("ck_matters_fee_not_negative")),
        sa.CheckConstraint("expected_days >= 0", name=op.f("ck_matters_days_not_negative")),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["accounts.id"], name=op.f("fk_matters_updated_by_accounts")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_matters")),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("matter_code", sa.String(length=64), nullable=False),
        sa.Column("applicant_account_id", sa.String(length=36), nullable=False),
        sa.Column("opened_by_id", sa.String(length=36), nullable=True),
        sa.Column("assigned_notary_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("fast_lane", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("elderly", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("disabled_applicant", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("secret", sa.Boolean(), server_default=sa.false(), nullable=False),
        _created_at(),
        _created_at("updated_at"),
        _created_at("submitted_at", nullable=True),
        sa.CheckConstraint(f"state IN ({CASE_STATES})", name=op.f("ck_cases_state")),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_cases_office_id_offices")
        ),
        sa.ForeignKeyConstraint(
            ["matter_code"], ["matters.code"], name=op.f("fk_cases_matter_code_matters")
        ),
        sa.ForeignKeyConstraint(
            ["applicant_account_id"],
            ["accounts.id"],
            name=op.f("fk_cases_applicant_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["opened_by_id"], ["accounts.id"], name=op.f("fk_cases_opened_by_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["assigned_notary_id"],
            ["accounts.id"],
            name=op.f("fk_cases_assigned_notary_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    op.create_index(op.f("ix_cases_office_id"), "cases", ["office_id"], unique=False)
    op.create_index(
        op.f("ix_cases_applicant_account_id"), "cases", ["applicant_account_id"], unique=False
    )
    op.create_index(
        op.f("ix_cases_assigned_notary_id"), "cases", ["assigned_notary_id"], unique=False
    )
    op.create_table(
        "case_parties",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("id_number", sa.String(length=64), nullable=True),
        sa.Column("relationship", sa.String(length=32), nullable=True),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        _created_at(),
        sa.CheckConstraint(
            "kind IN ('applicant', 'agent', 'relative', 'other')",
            name=op.f("ck_case_parties_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_parties_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_case_parties_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_parties")),
    )
    op.create_index(op.f("ix_case_parties_case_id"), "case_parties", ["case_id"], unique=False)
    op.create_table(
        "case_materials",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("requirement", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=True),
        sa.Column("content_type", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("object_key", sa.String(length=300), nullable=True),
        sa.Column("version_id", sa.String(length=200), nullable=True),
        sa.Column("statement", sa.Text(), nullable=True),
        sa.Column("added_by", sa.String(length=36), nullable=False),
        _created_at(),
        sa.CheckConstraint(
            "kind IN ('upload', 'commitment', 'shared_data')",
            name=op.f("ck_case_materials_kind"),
        ),
        sa.CheckConstraint(
            "kind <> 'upload' OR (object_key IS NOT NULL AND sha256 IS NOT NULL)",
            name=op.f("ck_case_materials_upload_stored"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_materials_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["added_by"], ["accounts.id"], name=op.f("fk_case_materials_added_by_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_materials")),
    )
    op.create_index(op.f("ix_case_materials_case_id"), "case_materials", ["case_id"], unique=False)
    op.create_table(
        "case_notices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("notary_id", sa.String(length=36), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        _created_at(),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_notices_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["notary_id"], ["accounts.id"], name=op.f("fk_case_notices_notary_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_notices")),
        sa.UniqueConstraint("case_id", "round", name=op.f("uq_case_notices_case_id")),
    )
    op.create_table(
        "case_conflicts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("notary_id", sa.String(length=36), nullable=False),
        sa.Column("declared_by", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("relationship", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        _created_at(),
        sa.CheckConstraint(
            "kind IN ('relative', 'interest', 'recusal')", name=op.f("ck_case_conflicts_kind")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_conflicts_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["notary_id"], ["accounts.id"], name=op.f("fk_case_conflicts_notary_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["declared_by"], ["accounts.id"], name=op.f("fk_case_conflicts_declared_by_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_conflicts")),
    )
    op.create_index(op.f("ix_case_conflicts_case_id"), "case_conflicts", ["case_id"], unique=False)
    op.create_table(
        "case_checks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("supervisor_id", sa.String(length=36), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_checks_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["supervisor_id"],
            ["accounts.id"],
            name=op.f("fk_case_checks_supervisor_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_checks")),
        sa.UniqueConstraint("case_id", name=op.f("uq_case_checks_case_id")),
    )


def downgrade() -> None:
    op.drop_table("case_checks")
    op.drop_index(op.f("ix_case_conflicts_case_id"), table_name="case_conflicts")
    op.drop_table("case_conflicts")
    op.drop_table("case_notices")
    op.drop_index(op.f("ix_case_materials_case_id"), table_name="case_materials")
    op.drop_table("case_materials")
    op.drop_index(op.f("ix_case_parties_case_id"), table_name="case_parties")
    op.drop_table("case_parties")
    op.drop_index(op.f("ix_cases_assigned_notary_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_applicant_account_id"), table_name="cases")
    op.drop_index(op.f("ix_cases_office_id"), table_name="cases")
    op.drop_table("cases")
    op.drop_table("matters")
