"""`notarylink accounts add` creates an account one can log in with; bad input is refused."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from notary.accounts import authenticate
from notary.db import create_engine
from signaling.accounts_cli import DEMO_LOGIN, DEMO_STAFF, seed_demo_notary, seed_demo_staff
from signaling.settings import Settings

pytestmark = pytest.mark.integration


def _accounts(tmp_path: Path, *args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTARYLINK_")}
    env["NOTARYLINK_DATA_DIR"] = str(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "signaling.cli", "accounts", "add", "--password-stdin", *args],
        input=password + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def _can_log_in(url: str, login: str, password: str) -> bool:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            return await authenticate(conn, login, password) is not None
    finally:
        await engine.dispose()


def test_add_a_notary_then_log_in(tmp_path: Path) -> None:
    args = ("--role", "notary", "--login", "Li@Example.org", "--name", "李", "--office", "GZ")
    result = _accounts(tmp_path, *args, password="a good long passphrase")
    assert result.returncode == 0, result.stderr
    assert "a good long passphrase" not in result.stdout + result.stderr
    url = Settings(data_dir=tmp_path).effective_database_url
    assert asyncio.run(_can_log_in(url, "li@example.org", "a good long passphrase"))

    again = _accounts(tmp_path, *args, password="another long passphrase")
    assert again.returncode == 2 and "exists already" in again.stderr


@pytest.mark.parametrize(
    "args, password, message",
    [
        (
            ("--role", "notary", "--login", "x@example.org", "--name", "X"),
            "long enough pass",
            "office",
        ),
        (("--role", "applicant", "--login", "y@example.org", "--name", "Y"), "short", "at least"),
        (
            ("--role", "applicant", "--login", "not-a-login", "--name", "Z"),
            "long enough pass",
            "valid",
        ),
    ],
)
def test_bad_accounts_are_refused(
    tmp_path: Path, args: tuple[str, ...], password: str, message: str
) -> None:
    result = _accounts(tmp_path, *args, password=password)
    assert result.returncode == 2
    assert message in result.stderr


async def test_demo_notary_is_seeded_once_with_a_private_password(tmp_path: Path) -> None:
    from notary.db import migrate

    settings = Settings(data_dir=tmp_path)
    await asyncio.to_thread(migrate, settings.effective_database_url)
    path = await seed_demo_notary(settings)
    assert path is not None and (path.stat().st_mode & 0o777) == 0o600
    password = path.read_text().strip()
    assert await _can_log_in(settings.effective_database_url, DEMO_LOGIN, password)
    assert await seed_demo_notary(settings) == path
    assert path.read_text().strip() == password  # not replaced on the next start


async def test_demo_staff_are_seeded_once_each_with_a_private_password(tmp_path: Path) -> None:
    from notary.db import migrate

    settings = Settings(data_dir=tmp_path)
    await asyncio.to_thread(migrate, settings.effective_database_url)
    await seed_demo_notary(settings)
    paths = await seed_demo_staff(settings)
    assert set(paths) == set(DEMO_STAFF)
    passwords = {}
    for role, path in paths.items():
        assert (path.stat().st_mode & 0o777) == 0o600
        passwords[role] = path.read_text().strip()
        login = DEMO_STAFF[role][0]
        assert await _can_log_in(settings.effective_database_url, login, passwords[role])
    assert len(set(passwords.values())) == len(passwords)  # one password each
    assert await seed_demo_staff(settings) == paths
    assert {r: p.read_text().strip() for r, p in paths.items()} == passwords  # kept
