import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from notary.accounts import (
    AccountError,
    authenticate,
    create_account,
    ensure_office,
    find_by_login,
    normalize_login,
)
from notary.roles import Role
from notary.tables import accounts

PASSWORD = "a long enough passphrase"


@pytest.mark.unit
@pytest.mark.parametrize(
    "login, expected",
    [
        (" Notary@Example.ORG ", ("email", "notary@example.org")),
        ("+86 138-0013-8000", ("phone", "+8613800138000")),
        ("(010) 6512 3456", ("phone", "01065123456")),
    ],
)
def test_normalize_login(login: str, expected: tuple[str, str]) -> None:
    assert normalize_login(login) == expected


@pytest.mark.unit
@pytest.mark.parametrize("login", ["", "no-at-sign", "a@b", "12", "+86 abc"])
def test_normalize_login_refuses_junk(login: str) -> None:
    with pytest.raises(AccountError):
        normalize_login(login)


async def test_create_and_authenticate(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        office = await ensure_office(
            conn, "GZ-NANFANG", "南方公证处", "Nanfang Notary Office", "Asia/Shanghai"
        )
        assert await ensure_office(conn, "GZ-NANFANG", "x", "y", "Asia/Shanghai") == office
        created = await create_account(
            conn,
            role=Role.NOTARY,
            display_name="李公证员",
            login="Li@Example.org",
            password=PASSWORD,
            office_id=office,
        )
    async with engine.begin() as conn:
        assert (await authenticate(conn, "li@example.org", PASSWORD)) == created
        assert await authenticate(conn, "li@example.org", "a wrong passphrase!") is None
        assert await authenticate(conn, "nobody@example.org", PASSWORD) is None
        assert await authenticate(conn, "not a login", PASSWORD) is None
        stored = await conn.scalar(sa.select(accounts.c.password_hash))
    assert PASSWORD not in stored and stored.startswith("$argon2id$")


async def test_duplicate_login_and_missing_office_are_refused(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await create_account(
            conn, role=Role.APPLICANT, display_name="王", login="+8613800138000", password=PASSWORD
        )
    async with engine.begin() as conn:
        with pytest.raises(AccountError, match="exists already"):
            await create_account(
                conn,
                role=Role.APPLICANT,
                display_name="王二",
                login="+86 138 0013 8000",
                password=PASSWORD,
            )
    async with engine.begin() as conn:
        with pytest.raises(AccountError, match="belongs to an office"):
            await create_account(
                conn, role=Role.NOTARY, display_name="X", login="x@example.org", password=PASSWORD
            )


async def test_disabled_account_cannot_log_in(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        account = await create_account(
            conn, role=Role.APPLICANT, display_name="Z", login="z@example.org", password=PASSWORD
        )
        await conn.execute(
            accounts.update().where(accounts.c.id == account.id).values(disabled=True)
        )
    async with engine.begin() as conn:
        assert await authenticate(conn, "z@example.org", PASSWORD) is None
        found = await find_by_login(conn, "Z@example.org")
        assert found is not None and found.disabled
