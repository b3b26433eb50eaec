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
