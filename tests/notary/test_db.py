"""notary.db: engines, ping, and the migration entry points (migrate, downgrade, revisions)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from notary import db
from notary.tables import accounts


@pytest.mark.unit
@pytest.mark.parametrize(
    "url",
    ["sqlite:////tmp/x.db", "postgresql://postgres@127.0.0.1/test", "mysql+aiomysql://h/d", "x"],
)
def test_only_the_two_async_drivers_are_accepted(url: str) -> None:
    with pytest.raises(ValueError, match=r"database URL"):
        db.create_engine(url)
    with pytest.raises(ValueError, match=r"database URL"):
        db.migrate(url)


@pytest.mark.unit
def test_postgresql_engine_has_a_bounded_pre_pinged_pool() -> None:
    engine = db.create_engine("postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    assert isinstance(engine.pool, sa.pool.QueuePool)
    assert engine.pool.size() == 10
    assert engine.pool._pre_ping


@pytest.mark.integration
async def test_ping_answers(migrated_url: str) -> None:
    engine = db.create_engine(migrated_url)
    try:
        await db.ping(engine)
    finally:
        await engine.dispose()


@pytest.mark.unit
async def test_ping_names_the_server_and_reason_and_hides_the_password() -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    engine = db.create_engine("postgresql+asyncpg://postgres:s3cret@127.0.0.1:1/test")
    try:
        with pytest.raises(db.DatabaseUnavailable) as caught:
            await db.ping(engine)
    finally:
        await engine.dispose()
    message = str(caught.value)
    assert "127.0.0.1:1/test" in message
    assert "not reachable" in message
    assert "s3cret" not in message


@pytest.mark.unit
async def test_ping_fails_clearly_on_a_sqlite_file_that_cannot_be_opened(tmp_path: Path) -> None:
    engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    try:
        with pytest.raises(db.DatabaseUnavailable, match="unable to open database file"):
            await db.ping(engine)
    finally:
        await engine.dispose()
    # aiosqlite does not await the stop of a connection that failed to open; let its worker
    # thread finish while this test's loop is open, or it reports against a closed loop later.
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)"):
            thread.join(timeout=5)


@pytest.mark.integration
async def test_ping_fails_clearly_on_a_missing_postgresql_database(postgres_admin_url: str) -> None:
    url = postgres_admin_url.rsplit("/", 1)[0] + f"/no_such_db_{uuid.uuid4().hex[:8]}"
    engine = db.create_engine(url)
    try:
        with pytest.raises(db.DatabaseUnavailable, match="does not exist"):
            await db.ping(engine)
    finally:
        await engine.dispose()


@pytest.mark.integration
async def test_sqlite_engine_sets_wal_foreign_keys_and_busy_timeout(sqlite_url: str) -> None:
    engine = db.create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert (await pragma("PRAGMA journal_mode")).scalar() == "wal"
            assert (await pragma("PRAGMA foreign_keys")).scalar() == 1
            assert (await pragma("PRAGMA busy_timeout")).scalar() == db.SQLITE_BUSY_TIMEOUT_MS
    finally:
        await engine.dispose()


@pytest.mark.integration
async def test_sqlite_ddl_is_transactional(sqlite_url: str) -> None:
    # The driver's legacy mode would have committed the CREATE TABLE on its own.
    engine = db.create_engine(sqlite_url)
    try:
        with pytest.raises(RuntimeError, match="abort"):
            async with engine.begin() as connection:
                await connection.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
                raise RuntimeError("abort")
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert "scratch" not in names
    finally:
        await engine.dispose()


@pytest.mark.integration
async def test_sqlite_read_then_write_transactions_queue_instead_of_failing(
    sqlite_url: str,
) -> None:
    """Read a counter, let the other transaction run, then write it back incremented.

    Deferred transactions (plain BEGIN) fail here with "database is locked": the second one
    cannot upgrade its read lock once the first committed. The engine begins IMMEDIATE, so the
    second waits for the first, reads the new value, and no update is lost.
    """
    engine = db.create_engine(sqlite_url)
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("CREATE TABLE counter (n INTEGER NOT NULL)")
            await connection.exec_driver_sql("INSERT INTO counter VALUES (0)")

        async def increment() -> None:
            async with engine.begin() as connection:
                n = (await connection.exec_driver_sql("SELECT n FROM counter")).scalar_one()
                await asyncio.sleep(0.05)  # the other transaction gets its turn here
                await connection.exec_driver_sql(f"UPDATE counter SET n = {n + 1}")

        await asyncio.gather(*(increment() for _ in range(5)))
        async with engine.connect() as connection:
            assert (await connection.exec_driver_sql("SELECT n FROM counter")).scalar_one() == 5
    finally:
        await engine.dispose()


@pytest.mark.integration
async def test_foreign_keys_are_enforced(engine: AsyncEngine) -> None:
    row = {
        "id": str(uuid.uuid4()),
        "office_id": 999_999,
        "role": "applicant",
        "email": "a@example.org",
        "display_name": "A",
    }
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(accounts.insert().values(**row))


@pytest.mark.integration
def test_migrate_is_idempotent_and_reports_revisions(database_url: str) -> None:
    assert db.current_revision(database_url) is None
    db.migrate(database_url)
    db.migrate(database_url)
    assert db.current_revision(database_url) == db.head_revision()
    db.downgrade(database_url, "base")
    assert db.current_revision(database_url) is None


@pytest.mark.unit
def test_asking_the_revision_of_a_missing_sqlite_file_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "notarylink.db"
    assert db.current_revision(f"sqlite+aiosqlite:///{path}") is None
    assert not path.exists()


@pytest.mark.integration
async def test_migrate_works_from_inside_a_running_event_loop(database_url: str) -> None:
    db.migrate(database_url)  # blocks this loop by design; start-up use only
    assert db.current_revision(database_url) == db.head_revision()
    await asyncio.to_thread(db.migrate, database_url)


@pytest.mark.integration
def test_concurrent_migrators_in_one_process_take_turns(database_url: str) -> None:
    with ThreadPoolExecutor(max_workers=3) as executor:
        for future in [executor.submit(db.migrate, database_url) for _ in range(3)]:
            future.result()
    assert db.current_revision(database_url) == db.head_revision()


@pytest.mark.integration
def test_concurrent_migrator_processes_queue_instead_of_colliding(database_url: str) -> None:
    # Several nodes (or the CLI and a starting server) migrating the same database at once.
    code = "import sys; from notary import db; db.migrate(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, database_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr.decode()
    assert db.current_revision(database_url) == db.head_revision()
