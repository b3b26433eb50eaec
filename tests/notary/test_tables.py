"""notary.tables: UTC instants on both databases, and the constraints that refuse bad accounts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from notary.roles import Role
from notary.tables import UTCDateTime, accounts, offices

CST = dt.timezone(dt.timedelta(hours=8))


@pytest.mark.unit
def test_utc_datetime_refuses_naive_values() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(dt.datetime(2024, 1, 1), postgresql.dialect())


@pytest.mark.unit
def test_utc_datetime_stores_utc() -> None:
    local = dt.datetime(2024, 1, 1, 8, 0, tzinfo=CST)
    on_pg = UTCDateTime().process_bind_param(local, postgresql.dialect())
    on_sqlite = UTCDateTime().process_bind_param(local, sqlite.dialect())
    assert on_pg == dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC)
    assert on_sqlite == dt.datetime(2024, 1, 1, 0, 0)  # SQLite keeps no offset: UTC by rule
    back = UTCDateTime().process_result_value(on_sqlite, sqlite.dialect())
    assert back == local
    assert back is not None and back.tzinfo == dt.UTC


def _account(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "role": Role.APPLICANT.value,
        "email": f"{uuid.uuid4().hex[:8]}@example.org",
        "phone": None,
        "display_name": "张三",
        "password_hash": None,
    }
    row.update(overrides)
    return row


async def _insert(engine: AsyncEngine, table: sa.Table, row: dict[str, Any]) -> None:
    async with engine.begin() as connection:
        await connection.execute(table.insert().values(**row))


@pytest.mark.integration
async def test_instants_round_trip_as_aware_utc(engine: AsyncEngine) -> None:
    created = dt.datetime(2024, 6, 1, 9, 30, 15, 123456, tzinfo=CST)
    await _insert(
        engine,
        offices,
        {"code": "GZ", "name_zh": "广州公证处", "name_en": "Guangzhou", "timezone": "Asia/Shanghai"}
        | {"created_at": created},
    )
    await _insert(engine, accounts, _account())  # created_at from the server default
    async with engine.connect() as connection:
        stored = await connection.scalar(sa.select(offices.c.created_at))
        defaulted = await connection.scalar(sa.select(accounts.c.created_at))
    assert stored is not None and defaulted is not None
    assert stored == created and stored.tzinfo == dt.UTC
    assert defaulted.tzinfo == dt.UTC
    assert abs(defaulted - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)


@pytest.mark.integration
async def test_every_role_is_accepted(engine: AsyncEngine) -> None:
    for role in Role:
        await _insert(engine, accounts, _account(role=role.value))


@pytest.mark.integration
@pytest.mark.parametrize(
    "overrides, constraint",
    [
        ({"role": "superuser"}, "ck_accounts_role"),
        ({"email": None, "phone": None}, "ck_accounts_email_or_phone"),
        ({"email": "Someone@Example.org"}, "ck_accounts_email_lowercase"),
        ({"password_hash": "hunter2"}, "ck_accounts_password_argon2"),
    ],
)
async def test_check_constraints_refuse_bad_accounts(
    engine: AsyncEngine, overrides: dict[str, Any], constraint: str
) -> None:
    with pytest.raises(IntegrityError) as caught:
        await _insert(engine, accounts, _account(**overrides))
    assert constraint in str(caught.value)  # the refusal is this constraint's, on both databases


@pytest.mark.integration
async def test_email_and_phone_are_unique(engine: AsyncEngine) -> None:
    await _insert(engine, accounts, _account(email="one@example.org", phone="+8613800138000"))
    with pytest.raises(IntegrityError):
        await _insert(engine, accounts, _account(email="one@example.org"))
    with pytest.raises(IntegrityError):
        await _insert(engine, accounts, _account(email=None, phone="+8613800138000"))
    # Phone alone, e-mail NULL: several accounts may have no e-mail.
    await _insert(engine, accounts, _account(email=None, phone="+8613900139000"))
    await _insert(engine, accounts, _account(email=None, phone="+8613700137000"))


@pytest.mark.integration
async def test_an_argon2_hash_is_accepted(engine: AsyncEngine) -> None:
    hashed = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
    await _insert(engine, accounts, _account(password_hash=hashed))
