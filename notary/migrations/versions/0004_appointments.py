"""appointments: availability windows, bookings, their slot holds, notifications

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:08:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "availability_windows",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=True),
        sa.Column("on_date", sa.Date(), nullable=True),
        sa.Column("start_minute", sa.SmallInteger(), nullable=False),
        sa.Column("end_minute", sa.SmallInteger(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(weekday IS NULL AND on_date IS NOT NULL) OR "
            "(weekday IS NOT NULL AND on_date IS NULL)",
            name=op.f("ck_availability_windows_weekly_or_once"),
        ),
        sa.CheckConstraint(
            "weekday IS NULL OR (weekday >= 0 AND weekday <= 6)",
            name=op.f("ck_availability_windows_weekday"),
        ),
        sa.CheckConstraint(
            "start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute",
            name=op.f("ck_availability_windows_minutes"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_availability_windows_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_availability_windows_office_id_offices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_windows")),
    )
    op.create_index(
        op.f("ix_availability_windows_account_id"),
        "availability_windows",
        ["account_id"],
        unique=False,
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("active_case_id", sa.String(length=36), nullable=True),
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("notary_id", sa.String(length=36), nullable=False),
        sa.Column("site_officer_id", sa.String(length=36), nullable=True),
        sa.Column("applicant_id", sa.String(length=36), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applicant_timezone", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reschedule_count", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint("state IN ('booked', 'cancelled')", name=op.f("ck_appointments_state")),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_appointments_ends_after_start")),
        sa.CheckConstraint(
            "(state = 'booked') = (active_case_id IS NOT NULL)",
            name=op.f("ck_appointments_active_while_booked"),
        ),
        sa.ForeignKeyConstraint(
            ["applicant_id"], ["accounts.id"], name=op.f("fk_appointments_applicant_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_appointments_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["notary_id"], ["accounts.id"], name=op.f("fk_appointments_notary_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["office_id"], ["offices.id"], name=op.f("fk_appointments_office_id_offices")
        ),
        sa.ForeignKeyConstraint(
            ["site_officer_id"],
            ["accounts.id"],
            name=op.f("fk_appointments_site_officer_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
        sa.UniqueConstraint("active_case_id", name=op.f("uq_appointments_active_case_id")),
    )
    op.create_index(op.f("ix_appointments_case_id"), "appointments", ["case_id"], unique=False)
    op.create_index(op.f("ix_appointments_notary_id"), "appointments", ["notary_id"], unique=False)
    op.create_index(op.f("ix_appointments_starts_at"), "appointments", ["starts_at"], unique=False)
    op.create_table(
        "appointment_holds",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("tick", sa.DateTime(timezone=True), nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_appointment_holds_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_holds_appointment_id_appointments"),
        ),
        sa.PrimaryKeyConstraint("account_id", "tick", name=op.f("pk_appointment_holds")),
    )
    op.create_index(
        op.f("ix_appointment_holds_appointment_id"),
        "appointment_holds",
        ["appointment_id"],
        unique=False,
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=True),
        sa.Column("recipient_id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("dedupe_key", sa.String(length=160), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_notifications_channel")),
        sa.CheckConstraint(
            "kind IN ('booked', 'rescheduled', 'cancelled', 'reminder_24h', 'reminder_1h')",
            name=op.f("ck_notifications_kind"),
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'sent', 'failed', 'cancelled')",
            name=op.f("ck_notifications_state"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_notifications_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"], ["accounts.id"], name=op.f("fk_notifications_recipient_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_notifications_dedupe_key")),
    )
    op.create_index(
        op.f("ix_notifications_appointment_id"), "notifications", ["appointment_id"], unique=False
    )
    op.create_index(
        op.f("ix_notifications_next_attempt_at"),
        "notifications",
        ["next_attempt_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_notifications_next_attempt_at"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_appointment_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_appointment_holds_appointment_id"), table_name="appointment_holds")
    op.drop_table("appointment_holds")
    op.drop_index(op.f("ix_appointments_starts_at"), table_name="appointments")
    op.drop_index(op.f("ix_appointments_notary_id"), table_name="appointments")
    op.drop_index(op.f("ix_appointments_case_id"), table_name="appointments")
    op.drop_table("appointments")
    op.drop_index(op.f("ix_availability_windows_account_id"), table_name="availability_windows")
    op.drop_table("availability_windows")
