"""Engines, a health probe and schema migrations for SQLite (embedded) and PostgreSQL.

Supported URLs: `sqlite+aiosqlite:////abs/path/notarylink.db` and
`postgresql+asyncpg://user[:password]@host:port/db`.

The migration functions (`migrate`, `downgrade`, `current_revision`) are synchronous and may be
called from any thread. Alembic's environment runs its own event loop, which cannot nest inside a
running one, so when they are called from a thread that is running an event loop they do their
work in a short-lived worker thread and block the caller until it is done. That is fine at
start-up, before serving; anywhere else use `await asyncio.to_thread(migrate, url)`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, pool, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
SUPPORTED_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")

SQLITE_BUSY_TIMEOUT_MS = 10_000  # wait this long for another writer instead of failing at once
PG_CONNECT_TIMEOUT_S = 10  # a dead server fails start-up and health checks quickly
# Key of the PostgreSQL advisory lock that serializes migrators (several nodes starting at once).
PG_MIGRATION_LOCK_KEY = 0x4E4F_5441_5259  # "NOTARY"

T = TypeVar("T")

# Alembic keeps its running migration context in a module-global proxy, so two migrations in
# one process must not overlap. (Across processes the database locks; see env.py.)
_alembic_lock = threading.Lock()


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or did not answer; the message says which and why."""


def parse_url(url: str) -> URL:
    """The URL as SQLAlchemy reads it; ValueError for anything but the two supported drivers."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {exc}") from None
    if parsed.drivername not in SUPPORTED_DRIVERS:
        raise ValueError(
            f"unsupported database URL scheme {parsed.drivername!r}: expected "
            "sqlite+aiosqlite:////abs/path.db or postgresql+asyncpg://user@host:port/db"
        )
    return parsed


def create_engine(url: str) -> AsyncEngine:
    """The application's engine: foreign keys on, WAL and a busy timeout on SQLite.

    SQLite transactions begin IMMEDIATE, i.e. holding the write lock: a deferred transaction
    that reads, then writes after another connection committed, fails at once with "database is
    locked" (the busy timeout cannot help a lock upgrade), which turned concurrent case
    transitions into errors. Writers queue instead; the embedded database is for one node.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(parsed)
        _configure_sqlite(engine, foreign_keys=True, begin="BEGIN IMMEDIATE")
        return engine
    return create_async_engine(
        parsed,
        pool_size=10,
        max_overflow=10,
        pool_timeout=30,
        pool_recycle=1800,  # below common idle-connection cut-offs of proxies and load balancers
        pool_pre_ping=True,  # a restarted server costs one reconnect, not a failed request
        connect_args={
            "timeout": PG_CONNECT_TIMEOUT_S,
            "server_settings": {"application_name": "notarylink"},
        },
    )


def create_migration_engine(url: str) -> AsyncEngine:
    """A one-off engine for Alembic (used by `notary/migrations/env.py`).

    On SQLite, foreign keys are off while migrating: batch mode rebuilds a table by copy, drop
    and rename, and with foreign keys on, dropping a parent table would delete or refuse its
    children's rows. env.py runs `PRAGMA foreign_key_check` before committing instead.
    `BEGIN IMMEDIATE` takes the write lock up front so that two migrators queue, and the second
    reads the version the first wrote.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(parsed, poolclass=pool.NullPool)
        _configure_sqlite(engine, foreign_keys=False, begin="BEGIN IMMEDIATE")
        return engine
    return create_async_engine(
        parsed, poolclass=pool.NullPool, connect_args={"timeout": PG_CONNECT_TIMEOUT_S}
    )


def _configure_sqlite(engine: AsyncEngine, *, foreign_keys: bool, begin: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The sqlite3 driver's own transaction handling skips BEGIN before SELECT and DDL; we
        # emit BEGIN ourselves (below) so reads are repeatable and migrations are atomic.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            # WAL lets readers proceed while one writer writes. synchronous stays FULL (the
            # default): a committed case record must survive a power cut.
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)


async def ping(engine: AsyncEngine) -> None:
    """Run `SELECT 1`; raise DatabaseUnavailable (password masked) if that fails."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect or answer means the same to the caller
        cause = getattr(exc, "orig", None) or exc
        raise DatabaseUnavailable(
            f"database {engine.url!r} is not reachable: {type(cause).__name__}: {cause}"
        ) from exc


# --- migrations --------------------------------------------------------------------------------


def alembic_config(url: str) -> Config:
    """An Alembic Config built in code (no alembic.ini needed); env.py reads the URL from it."""
    parse_url(url)  # fail here, with a clear message, rather than inside Alembic
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["url"] = url
    return config


def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = ScriptDirectory.from_config(alembic_config("sqlite+aiosqlite://")).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found under {MIGRATIONS_DIR}")
    return head


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (default: the newest). Idempotent."""
    config = alembic_config(url)
    _blocking(lambda: _locked(command.upgrade, config, revision))


def downgrade(url: str, revision: str) -> None:
    """Downgrade to `revision` ("base" drops every table). For development and tests only."""
    config = alembic_config(url)
    _blocking(lambda: _locked(command.downgrade, config, revision))


def current_revision(url: str) -> str | None:
    """The revision the database is at; None for an empty (never migrated) database."""
    parsed = parse_url(url)
    database = parsed.database or ""
    on_disk = parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if on_disk and not Path(database).exists():
        return None  # asking must not create the file as a side effect
    return _blocking(lambda: asyncio.run(_current_revision(url)))


async def _current_revision(url: str) -> str | None:
    engine = create_migration_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def _locked(alembic_command: Callable[[Config, str], None], config: Config, revision: str) -> None:
    with _alembic_lock:
        alembic_command(config, revision)


def _blocking(work: Callable[[], T]) -> T:
    """Run `work` here, or in a worker thread if this thread is running an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="notary-migrate") as executor:
        return executor.submit(work).result()
