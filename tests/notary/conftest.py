"""Database fixtures: a SQLite file per test, and a fresh PostgreSQL database per test.

PostgreSQL is taken from NOTARYLINK_TEST_POSTGRES_URL (default: trust auth on 127.0.0.1:5432,
database `test`). Each test gets its own `notarylink_test_<unix time>_<random>` database, dropped
afterwards, so reruns start clean and concurrent runs do not meet; databases that a killed run
left behind are dropped by the next run once they are an hour old. Without a server those tests
are skipped with the reason shown.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import pool
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from notary import db

POSTGRES_URL = os.environ.get(
    "NOTARYLINK_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)

PREFIX = "notarylink_test_"
STALE_AFTER_S = 3600  # far longer than any test; younger ones may belong to a concurrent run

T = TypeVar("T")


def run_in_fresh_loop(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine in its own loop and thread: safe from sync fixtures and from async tests."""

    async def main() -> T:
        return await factory()

    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, main()).result()


async def _admin(url: str, *statements: str) -> list[str]:
    """Run statements in autocommit (CREATE/DROP DATABASE refuse a transaction); first column."""
    engine = create_async_engine(
        url, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool, connect_args={"timeout": 5}
    )
    rows: list[str] = []
    try:
        async with engine.connect() as connection:
            for statement in statements:
                result = await connection.exec_driver_sql(statement)
                if result.returns_rows:
                    rows.extend(str(row[0]) for row in result)
    finally:
        await engine.dispose()
    return rows


def _stale(name: str, now: float) -> bool:
    stamp = name.removeprefix(PREFIX).split("_", 1)[0]
    return stamp.isdigit() and now - int(stamp) > STALE_AFTER_S


async def _drop_stale_databases(url: str) -> None:
    names = await _admin(url, f"SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'")
    now = time.time()
    drops = [f'DROP DATABASE IF EXISTS "{n}" WITH (FORCE)' for n in names if _stale(n, now)]
    await _admin(url, *drops)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    try:
        run_in_fresh_loop(lambda: _drop_stale_databases(POSTGRES_URL))
    except Exception as exc:
        cause = getattr(exc, "orig", None) or exc
        where = make_url(POSTGRES_URL)
        pytest.skip(
            f"PostgreSQL not reachable at {where.host}:{where.port}: {type(cause).__name__}: "
            f"{cause}"
        )
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    name = f"{PREFIX}{int(time.time())}_{uuid.uuid4().hex[:12]}"
    run_in_fresh_loop(lambda: _admin(postgres_admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        run_in_fresh_loop(
            lambda: _admin(postgres_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'notarylink.db'}"


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.integration),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each kind, one test run per kind."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def migrated_url(database_url: str) -> str:
    db.migrate(database_url)
    return database_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """The application's engine on a database migrated to head."""
    engine = db.create_engine(migrated_url)
    try:
        yield engine
    finally:
        await engine.dispose()
