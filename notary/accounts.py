"""Accounts: who may log in, with which role, for which office."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from notary.passwords import hash_password, needs_rehash, rehash, verify_password
from notary.roles import Role
from notary.tables import accounts, offices

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")
_PHONE = re.compile(r"^\+?[0-9]{6,20}$")


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class Account:
    id: str
    role: Role
    display_name: str
    email: str | None
    phone: str | None
    office_id: int | None
    disabled: bool


def normalize_login(login: str) -> tuple[str, str]:
    """('email', folded address) or ('phone', digits with optional +), else AccountError."""
    login = login.strip()
    if "@" in login:
        if not _EMAIL.match(login):
            raise AccountError("not a valid e-mail address")
        return "email", login.lower()
    phone = re.sub(r"[\s()-]", "", login)
    if not _PHONE.match(phone):
        raise AccountError("not a valid e-mail address or phone number")
    return "phone", phone


def _account(row: sa.Row[Any]) -> Account:
    return Account(
        id=row.id,
        role=Role(row.role),
        display_name=row.display_name,
        email=row.email,
        phone=row.phone,
        office_id=row.office_id,
        disabled=row.disabled,
    )


async def ensure_office(
    conn: AsyncConnection, code: str, name_zh: str, name_en: str, timezone: str
) -> int:
    found = await conn.scalar(sa.select(offices.c.id).where(offices.c.code == code))
    if found is not None:
        return int(found)
    result = await conn.execute(
        offices.insert().values(code=code, name_zh=name_zh, name_en=name_en, timezone=timezone)
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


async def create_account(
    conn: AsyncConnection,
    *,
    role: Role,
    display_name: str,
    login: str,
    password: str | None,
    office_id: int | None = None,
) -> Account:
    kind, value = normalize_login(login)
    if not display_name.strip():
        raise AccountError("a display name is required")
    if role in (Role.NOTARY, Role.SITE_OFFICER, Role.ADMIN) and office_id is None:
        raise AccountError(f"a {role.value} account belongs to an office")
    values = {
        "id": str(uuid.uuid4()),
        "role": role.value,
        "display_name": display_name.strip(),
        "email": value if kind == "email" else None,
        "phone": value if kind == "phone" else None,
        "password_hash": hash_password(password) if password is not None else None,
        "office_id": office_id,
        "created_at": datetime.now(UTC),
    }
    try:
        await conn.execute(accounts.insert().values(**values))
    except IntegrityError as exc:
        raise AccountError(f"an account with this {kind} exists already") from exc
    found = await find_by_login(conn, login)
    assert found is not None
    return found


async def find_by_login(conn: AsyncConnection, login: str) -> Account | None:
    kind, value = normalize_login(login)
    column = accounts.c.email if kind == "email" else accounts.c.phone
    row = (await conn.execute(sa.select(accounts).where(column == value))).first()
    return _account(row) if row else None


async def get_account(conn: AsyncConnection, account_id: str) -> Account | None:
    row = (await conn.execute(sa.select(accounts).where(accounts.c.id == account_id))).first()
    return _account(row) if row else None


async def authenticate(conn: AsyncConnection, login: str, password: str) -> Account | None:
    """The account when the password is right and the account enabled; None otherwise.

    Every failure looks the same to the caller and takes the same time (one argon2 verify).
    """
    try:
        kind, value = normalize_login(login)
    except AccountError:
        verify_password(None, password)
        return None
    column = accounts.c.email if kind == "email" else accounts.c.phone
    row = (await conn.execute(sa.select(accounts).where(column == value))).first()
    stored = row.password_hash if row is not None else None
    if not verify_password(stored, password) or row is None or row.disabled:
        return None
    if stored is not None and needs_rehash(
        stored
    ):  # argon2 parameters were raised since this hash was made
        await conn.execute(
            accounts.update().where(accounts.c.id == row.id).values(password_hash=rehash(password))
        )
    return _account(row)
