"""Table definitions: what the migrations build, and what autogenerate compares them against.

SQLAlchemy Core only. A new table or column goes here *and* into a new revision under
`notary/migrations/versions/`; `tests/notary/test_migrations.py` fails while the two disagree.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from notary.roles import Role

# Explicit names keep constraints identical on SQLite and PostgreSQL, so a later migration can
# drop or alter one by name on both.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """An instant in time: refuses naive datetimes, stores UTC, always returns aware UTC.

    PostgreSQL keeps `timestamptz` natively; SQLite has no time zone type, so the value is stored
    as UTC text without an offset (which also keeps text ordering equal to time ordering) and
    gets its UTC zone back on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime (e.g. UTC)")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _in_list(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


offices = sa.Table(
    "offices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(32), nullable=False, unique=True),
    sa.Column("name_zh", sa.String(200), nullable=False),
    sa.Column("name_en", sa.String(200), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),  # IANA name, e.g. Asia/Shanghai
    sa.Column("created_at", UTCDateTime, nullable=False, server_default=sa.func.now()),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # str(uuid4()), same text on both databases
    sa.Column("office_id", sa.Integer, sa.ForeignKey("offices.id"), nullable=True, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("email", sa.String(320), nullable=True, unique=True),
    sa.Column("phone", sa.String(32), nullable=True, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    # NULL: the account cannot log in with a password (e.g. join links only).
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False, server_default=sa.func.now()),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.CheckConstraint(f"role IN ({_in_list([r.value for r in Role])})", name="role"),
    sa.CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="email_or_phone"),
    # Uniqueness of email is only meaningful if every writer stores it folded.
    sa.CheckConstraint("email = lower(email)", name="email_lowercase"),
    # Refuses a plaintext password written by mistake.
    sa.CheckConstraint(
        "password_hash IS NULL OR password_hash LIKE '$argon2%'", name="password_argon2"
    ),
)


# --- journal (0002) ---

# Append-only and hash-chained (see notary/journal.py); the migration also installs triggers
# that refuse UPDATE and DELETE. No foreign keys: an entry must stay readable and verifiable
# whatever happens to the rows it talks about (cases come in a later revision anyway).
journal_entries = sa.Table(
    "journal_entries",
    metadata,
    # Assigned by journal.append as previous + 1, so a deleted entry leaves a visible gap.
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("actor_id", sa.String(36), nullable=True),  # None: the platform itself
    sa.Column("actor_role", sa.String(16), nullable=False),
    sa.Column("case_id", sa.String(36), nullable=True, index=True),
    sa.Column("reason", sa.Text, nullable=True),
    # Canonical JSON text, hashed exactly as stored.
    sa.Column("before_json", sa.Text, nullable=True),
    sa.Column("after_json", sa.Text, nullable=True),
    # Unique: two entries can never follow the same one, so the chain cannot fork.
    sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.CheckConstraint("seq >= 1", name="seq_positive"),
)


# --- cases (0003) ---
# The matter catalog (loaded from notary/data/matters.json, editable by an admin), cases and what
# hangs off them. Vocabularies are listed here, not imported from notary.cases, so that the table
# module stays importable from anywhere in notary/ without a cycle.

CASE_STATES = [
    "draft",
    "submitted",
    "returned",
    "accepted",
    "scheduled",
    "interviewed",
    "decided",
    "certificate_issued",
    "delivered",
    "archived",
]
PARTY_KINDS = ["applicant", "agent", "relative", "other"]
MATERIAL_KINDS = ["upload", "commitment", "shared_data"]
CONFLICT_KINDS = ["relative", "interest", "recusal"]

matters = sa.Table(
    "matters",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("name_zh", sa.String(200), nullable=False),
    sa.Column("name_en", sa.String(200), nullable=False),
    sa.Column("base_fee_cents", sa.Integer, nullable=False),  # fen (CNY 0.01)
    sa.Column("expected_days", sa.Integer, nullable=False),
    sa.Column("remote_allowed", sa.Boolean, nullable=False),
    sa.Column("secret", sa.Boolean, nullable=False),  # wills: only notary and applicant see it
    sa.Column("retention_class", sa.String(32), nullable=False),
    # The complete notice (materials, conditions, steps) in both languages, as validated by
    # notary.matters; the columns above repeat what queries filter or join on.
    sa.Column("notice", sa.JSON, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("revision", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("updated_by", sa.String(36), sa.ForeignKey("accounts.id"), nullable=True),
    sa.CheckConstraint("base_fee_cents >= 0", name="fee_not_negative"),
    sa.CheckConstraint("expected_days >= 0", name="days_not_negative"),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),  # str(uuid4())
    sa.Column("office_id", sa.Integer, sa.ForeignKey("offices.id"), nullable=False, index=True),
    sa.Column("matter_code", sa.String(64), sa.ForeignKey("matters.code"), nullable=False),
    sa.Column(
        "applicant_account_id",
        sa.String(36),
        sa.ForeignKey("accounts.id"),
        nullable=False,
        index=True,
    ),
    # A site officer who opened the case on the applicant's behalf; NULL when self-service.
    sa.Column("opened_by_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column(
        "assigned_notary_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=True, index=True
    ),
    sa.Column("state", sa.String(24), nullable=False),
    sa.Column("fast_lane", sa.Boolean, nullable=False, server_default=sa.false()),  # 绿色通道
    sa.Column("elderly", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("disabled_applicant", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("secret", sa.Boolean, nullable=False, server_default=sa.false()),  # from the matter
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("submitted_at", UTCDateTime, nullable=True),  # last (re)submission: waiting time
    sa.CheckConstraint(f"state IN ({_in_list(CASE_STATES)})", name="state"),
)

case_parties = sa.Table(
    "case_parties",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("id_number", sa.String(64), nullable=True),
    sa.Column("relationship", sa.String(32), nullable=True),  # to the applicant, for relatives
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(f"kind IN ({_in_list(PARTY_KINDS)})", name="kind"),
)

case_materials = sa.Table(
    "case_materials",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("requirement", sa.String(64), nullable=False),  # a material code of the matter
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("file_name", sa.String(200), nullable=True),  # shown to people; never a store key
    sa.Column("content_type", sa.String(64), nullable=True),
    sa.Column("size", sa.Integer, nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True),
    sa.Column("object_key", sa.String(300), nullable=True),
    sa.Column("version_id", sa.String(200), nullable=True),
    sa.Column("statement", sa.Text, nullable=True),  # the commitment text the applicant signed
    sa.Column("added_by", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(f"kind IN ({_in_list(MATERIAL_KINDS)})", name="kind"),
    sa.CheckConstraint(
        "kind <> 'upload' OR (object_key IS NOT NULL AND sha256 IS NOT NULL)", name="upload_stored"
    ),
)

case_notices = sa.Table(
    "case_notices",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("round", sa.Integer, nullable=False),  # 1 = the one complete notice
    sa.Column("notary_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("items", sa.JSON, nullable=False),
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("case_id", "round"),
)

case_conflicts = sa.Table(
    "case_conflicts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("notary_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("declared_by", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("relationship", sa.String(32), nullable=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(f"kind IN ({_in_list(CONFLICT_KINDS)})", name="kind"),
)

case_checks = sa.Table(
    "case_checks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("supervisor_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("drawn_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("case_id"),  # a case is drawn for a check at most once
)


# --- appointments (0004) ---
# Availability is wall-clock time in the office's zone (a weekly rule or one date); bookings and
# reminders are instants. Double booking is refused by the database itself: each booked person
# holds one row per GRID_MINUTES tick of the slot, and (account_id, tick) is the primary key.

APPOINTMENT_STATES = ["booked", "cancelled"]
NOTIFICATION_CHANNELS = ["email", "sms"]
NOTIFICATION_KINDS = ["booked", "rescheduled", "cancelled", "reminder_24h", "reminder_1h"]
NOTIFICATION_STATES = ["pending", "sent", "failed", "cancelled"]

availability_windows = sa.Table(
    "availability_windows",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("office_id", sa.Integer, sa.ForeignKey("offices.id"), nullable=False),
    # A notary, or a site officer for three-party (consulate) interviews.
    sa.Column(
        "account_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False, index=True
    ),
    sa.Column("weekday", sa.SmallInteger, nullable=True),  # 0 = Monday; NULL for one date
    sa.Column("on_date", sa.Date, nullable=True),  # one date; NULL for a weekly window
    sa.Column("start_minute", sa.SmallInteger, nullable=False),  # local minutes after midnight
    sa.Column("end_minute", sa.SmallInteger, nullable=False),  # 1440 = midnight at the end
    sa.Column("valid_from", sa.Date, nullable=True),  # weekly windows: first and last local date
    sa.Column("valid_until", sa.Date, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(
        "(weekday IS NULL AND on_date IS NOT NULL) OR (weekday IS NOT NULL AND on_date IS NULL)",
        name="weekly_or_once",
    ),
    sa.CheckConstraint("weekday IS NULL OR (weekday >= 0 AND weekday <= 6)", name="weekday"),
    sa.CheckConstraint(
        "start_minute >= 0 AND end_minute <= 1440 AND start_minute < end_minute", name="minutes"
    ),
)

appointments = sa.Table(
    "appointments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
    # The case id while booked, NULL once cancelled: at most one live appointment per case
    # (a unique column admits any number of NULLs on both databases).
    sa.Column("active_case_id", sa.String(36), nullable=True, unique=True),
    sa.Column("office_id", sa.Integer, sa.ForeignKey("offices.id"), nullable=False),
    sa.Column("notary_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("site_officer_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("applicant_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("starts_at", UTCDateTime, nullable=False, index=True),
    sa.Column("ends_at", UTCDateTime, nullable=False),
    sa.Column("applicant_timezone", sa.String(64), nullable=False),  # IANA, for display
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("reschedule_count", sa.SmallInteger, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("cancelled_at", UTCDateTime, nullable=True),
    sa.Column("cancel_reason", sa.String(500), nullable=True),
    sa.CheckConstraint(f"state IN ({_in_list(APPOINTMENT_STATES)})", name="state"),
    sa.CheckConstraint("starts_at < ends_at", name="ends_after_start"),
    sa.CheckConstraint(
        "(state = 'booked') = (active_case_id IS NOT NULL)", name="active_while_booked"
    ),
)

appointment_holds = sa.Table(
    "appointment_holds",
    metadata,
    sa.Column("account_id", sa.String(36), sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("tick", UTCDateTime, primary_key=True),  # start of a GRID_MINUTES tick
    sa.Column(
        "appointment_id",
        sa.String(36),
        sa.ForeignKey("appointments.id"),
        nullable=False,
        index=True,
    ),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "appointment_id", sa.String(36), sa.ForeignKey("appointments.id"), nullable=True, index=True
    ),
    sa.Column("recipient_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),
    # Makes creating the same notification twice a no-op (e.g. a retried request).
    sa.Column("dedupe_key", sa.String(160), nullable=False, unique=True),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Column("state", sa.String(12), nullable=False),
    sa.Column("attempts", sa.SmallInteger, nullable=False, server_default="0"),
    # When a dispatcher may next try it; moved forward when claimed, so that two dispatchers
    # never send it at the same time, and after a failure (back-off).
    sa.Column("next_attempt_at", UTCDateTime, nullable=False, index=True),
    sa.Column("last_error", sa.String(200), nullable=True),
    sa.Column("sent_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(f"channel IN ({_in_list(NOTIFICATION_CHANNELS)})", name="channel"),
    sa.CheckConstraint(f"kind IN ({_in_list(NOTIFICATION_KINDS)})", name="kind"),
    sa.CheckConstraint(f"state IN ({_in_list(NOTIFICATION_STATES)})", name="state"),
)


# --- fees and certificates (0005) ---

PAYMENT_METHODS = ["cash", "bank_transfer", "card", "wechat_pay", "alipay", "waived"]

# Payments recorded by staff (no gateway): one row per payment, never edited; journaled.
payments = sa.Table(
    "payments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("amount_fen", sa.Integer, nullable=False),  # 1/100 yuan
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("reference", sa.String(128), nullable=True),  # receipt or transaction number
    sa.Column("recorded_by", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    sa.CheckConstraint(f"method IN ({_in_list(PAYMENT_METHODS)})", name="method"),
)

# The last certificate number used per office and year; bumped in the issuing transaction, so
# numbers have neither gaps nor duplicates (a rolled-back issue gives its number back).
certificate_counters = sa.Table(
    "certificate_counters",
    metadata,
    sa.Column("office_id", sa.Integer, sa.ForeignKey("offices.id"), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("last_seq", sa.Integer, nullable=False),
)

certificates = sa.Table(
    "certificates",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("number", sa.String(64), nullable=False, unique=True),  # OFFICE-YEAR-SEQUENCE
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, unique=True),
    sa.Column("office_id", sa.Integer, sa.ForeignKey("offices.id"), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("matter_code", sa.String(64), nullable=False),
    # SHA-256 of the verification code: the code is printed, not kept in the clear.
    sa.Column("code_sha256", sa.String(64), nullable=False),
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("issued_by", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("pdf_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("pdf", sa.LargeBinary, nullable=False),  # the signed PDF as issued
    sa.UniqueConstraint("office_id", "year", "seq"),
)


# --- aftercare (0006) ---
# What happens once the interview is over: the decision (and the second opinion or collective
# discussion behind a difficult one), delivery of the certificate, the applicant's rating and
# complaints, and the findings of supervisors on cases drawn for a check (case_checks, 0003).

DECISION_OUTCOMES = ["approved", "refused"]
REFERRAL_KINDS = ["second_notary", "collective"]
REFERRAL_STATES = ["open", "concluded"]
DELIVERY_METHODS = ["post", "electronic", "pickup"]
DELIVERY_STATES = ["preparing", "dispatched", "ready", "delivered", "failed"]
COMPLAINT_STATES = ["open", "answered", "closed"]
FINDING_SEVERITIES = ["none", "minor", "serious"]

case_decisions = sa.Table(
    "case_decisions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    # One decision per case: a decision is never edited, a wrong one is a new case (appeal).
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, unique=True),
    sa.Column("notary_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(f"outcome IN ({_in_list(DECISION_OUTCOMES)})", name="outcome"),
)

case_referrals = sa.Table(
    "case_referrals",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("referred_by", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("question", sa.Text, nullable=False),  # why the case is difficult
    # second_notary: who gives the second opinion; NULL for a collective discussion.
    sa.Column("second_notary_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    # Filled when concluded: the recommended outcome, the opinion or the minutes, and for a
    # collective discussion its participants (names and roles, as they were in the room).
    sa.Column("recommendation", sa.String(16), nullable=True),
    sa.Column("record", sa.Text, nullable=True),
    sa.Column("participants", sa.JSON, nullable=True),
    sa.Column("concluded_by", sa.String(36), sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("concluded_at", UTCDateTime, nullable=True),
    sa.CheckConstraint(f"kind IN ({_in_list(REFERRAL_KINDS)})", name="kind"),
    sa.CheckConstraint(f"state IN ({_in_list(REFERRAL_STATES)})", name="state"),
    sa.CheckConstraint(
        f"recommendation IS NULL OR recommendation IN ({_in_list(DECISION_OUTCOMES)})",
        name="recommendation",
    ),
    sa.CheckConstraint(
        "(kind = 'second_notary') = (second_notary_id IS NOT NULL)", name="second_notary"
    ),
    sa.CheckConstraint(
        "(state = 'concluded') = (concluded_at IS NOT NULL AND record IS NOT NULL)",
        name="concluded",
    ),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, unique=True),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("address", sa.Text, nullable=True),  # post only
    sa.Column("carrier", sa.String(64), nullable=True),
    sa.Column("tracking_number", sa.String(64), nullable=True),
    # The signed receipt (post) as stored in the object store, checked like a material.
    sa.Column("receipt_key", sa.String(300), nullable=True),
    sa.Column("receipt_sha256", sa.String(64), nullable=True),
    sa.Column("receipt_content_type", sa.String(64), nullable=True),
    sa.Column("receipt_size", sa.Integer, nullable=True),
    sa.Column("receipt_version_id", sa.String(200), nullable=True),
    sa.Column("created_by", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(f"method IN ({_in_list(DELIVERY_METHODS)})", name="method"),
    sa.CheckConstraint(f"state IN ({_in_list(DELIVERY_STATES)})", name="state"),
    sa.CheckConstraint("method = 'post' OR address IS NULL", name="address_for_post"),
    sa.CheckConstraint(
        "method <> 'post' OR state NOT IN ('dispatched', 'delivered') "
        "OR (carrier IS NOT NULL AND tracking_number IS NOT NULL)",
        name="post_tracked",
    ),
)

delivery_events = sa.Table(
    "delivery_events",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "delivery_id", sa.String(36), sa.ForeignKey("deliveries.id"), nullable=False, index=True
    ),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("note", sa.String(500), nullable=True),
    sa.Column("actor_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.CheckConstraint(f"state IN ({_in_list(DELIVERY_STATES)})", name="state"),
)

case_ratings = sa.Table(
    "case_ratings",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, unique=True),
    sa.Column("applicant_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("score", sa.SmallInteger, nullable=False),  # 1..5; 好/中/差 is derived from it
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("score >= 1 AND score <= 5", name="score"),
)

complaints = sa.Table(
    "complaints",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("office_id", sa.Integer, sa.ForeignKey("offices.id"), nullable=False, index=True),
    sa.Column("applicant_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("answer", sa.Text, nullable=True),
    sa.Column("answered_by", sa.String(36), sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("answered_at", UTCDateTime, nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(f"state IN ({_in_list(COMPLAINT_STATES)})", name="state"),
    sa.CheckConstraint("state = 'open' OR answer IS NOT NULL", name="answered"),
)

check_findings = sa.Table(
    "check_findings",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "check_id", sa.String(36), sa.ForeignKey("case_checks.id"), nullable=False, index=True
    ),
    sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("supervisor_id", sa.String(36), sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(f"severity IN ({_in_list(FINDING_SEVERITIES)})", name="severity"),
)
