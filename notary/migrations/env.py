"""Alembic environment for the notary schema, on SQLite or PostgreSQL, through an async engine.

The URL comes from `notary.db.alembic_config(url)` (programmatic use), else from
`-x url=...` or NOTARYLINK_DATABASE_URL (the alembic command line, see alembic.ini).
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from notary import db
from notary.tables import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    url = url or os.environ.get("NOTARYLINK_DATABASE_URL")
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or set NOTARYLINK_DATABASE_URL")
    return str(url)


def _run_offline(url: str) -> None:
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=sqlite,
        # The migration engine emits a real BEGIN on SQLite, so DDL is transactional there too:
        # one transaction for the whole run, all or nothing.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        if not sqlite:
            # Several nodes may start at once; the others wait here, then find nothing to do.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": db.PG_MIGRATION_LOCK_KEY}
            )
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows with broken foreign keys: {broken[:10]}")


async def _run_online(url: str) -> None:
    engine = db.create_migration_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
    finally:
        await engine.dispose()


# Logging is configured only from an ini file (the alembic command line), never when the
# application calls notary.db.migrate, so the application's logging stays as it set it up.
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    _run_offline(_url())
else:
    asyncio.run(_run_online(_url()))
