"""`notarylink accounts add`: create accounts from the command line (first notary, staff)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import secrets
import sys
from pathlib import Path

from notary.accounts import AccountError, create_account, ensure_office, find_by_login
from notary.db import create_engine, migrate
from notary.passwords import WeakPassword
from notary.roles import Role
from signaling.settings import Settings

DEMO_LOGIN = "notary@example.org"
# The other people of the demo office, so that `make run` shows the whole case flow: the admin
# assigns cases, the supervisor draws them for checks, the site officer opens consulate cases.
DEMO_STAFF: dict[Role, tuple[str, str]] = {
    Role.ADMIN: ("admin@example.org", "示范管理员 Demo Admin"),
    Role.SUPERVISOR: ("supervisor@example.org", "示范监督员 Demo Supervisor"),
    Role.SITE_OFFICER: ("officer@example.org", "示范领事 Demo Site Officer"),
}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    accounts = commands.add_parser("accounts", help="manage accounts")
    actions = accounts.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="create an account; the password is asked for")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--login", required=True, help="e-mail address or phone number")
    add.add_argument("--name", required=True, help="display name")
    add.add_argument("--office", help="office code (created when new); staff need one")
    add.add_argument("--office-name-zh", default="公证处")
    add.add_argument("--office-name-en", default="Notary Office")
    add.add_argument("--timezone", default="Asia/Shanghai", help="the office's IANA time zone")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise AccountError("the two passwords differ")
    return first


async def _add(settings: Settings, args: argparse.Namespace, password: str) -> str:
    engine = create_engine(settings.effective_database_url)
    try:
        async with engine.begin() as conn:
            office_id = None
            if args.office:
                office_id = await ensure_office(
                    conn, args.office, args.office_name_zh, args.office_name_en, args.timezone
                )
            account = await create_account(
                conn,
                role=Role(args.role),
                display_name=args.name,
                login=args.login,
                password=password,
                office_id=office_id,
            )
        return account.id
    finally:
        await engine.dispose()


def run(settings: Settings, args: argparse.Namespace) -> int:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.effective_database_url)
    try:
        password = _read_password(args.password_stdin)
        account_id = asyncio.run(_add(settings, args, password))
    except (AccountError, WeakPassword) as exc:
        print(f"notarylink: {exc}", file=sys.stderr)
        return 2
    print(f"created {args.role} account {account_id} for {args.login}")
    return 0


def demo_password_path(settings: Settings) -> Path:
    return settings.data_dir / "secrets" / "demo-notary-password"


async def seed_demo_notary(settings: Settings) -> Path | None:
    """Development only: a notary to try the platform with, made once; None if one exists."""
    path = demo_password_path(settings)
    engine = create_engine(settings.effective_database_url)
    try:
        async with engine.begin() as conn:
            if await find_by_login(conn, DEMO_LOGIN) is not None:
                return path if path.exists() else None
            office = await ensure_office(
                conn, "DEMO", "示范公证处", "Demo Notary Office", "Asia/Shanghai"
            )
            password = secrets.token_urlsafe(12)
            await create_account(
                conn,
                role=Role.NOTARY,
                display_name="示范公证员 Demo Notary",
                login=DEMO_LOGIN,
                password=password,
                office_id=office,
            )
    finally:
        await engine.dispose()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return path


def demo_staff_password_path(settings: Settings, role: Role) -> Path:
    return settings.data_dir / "secrets" / f"demo-{role.value.replace('_', '-')}-password"


async def seed_demo_staff(settings: Settings) -> dict[Role, Path]:
    """Development only: the demo office's admin, supervisor and site officer, made once each;
    returns the password file of each one that has one."""
    engine = create_engine(settings.effective_database_url)
    made: dict[Role, str] = {}
    try:
        async with engine.begin() as conn:
            office = await ensure_office(
                conn, "DEMO", "示范公证处", "Demo Notary Office", "Asia/Shanghai"
            )
            for role, (login, name) in DEMO_STAFF.items():
                if await find_by_login(conn, login) is not None:
                    continue
                made[role] = secrets.token_urlsafe(12)
                await create_account(
                    conn,
                    role=role,
                    display_name=name,
                    login=login,
                    password=made[role],
                    office_id=office,
                )
    finally:
        await engine.dispose()
    for role, password in made.items():
        path = demo_staff_password_path(settings, role)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600)
        path.write_text(password + "\n")
    paths = {role: demo_staff_password_path(settings, role) for role in DEMO_STAFF}
    return {role: path for role, path in paths.items() if path.exists()}
