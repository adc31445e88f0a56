"""Opening the database: one async engine per process, SQLite (embedded default) or PostgreSQL.

`open_engine` takes a SQLAlchemy URL (``sqlite+aiosqlite:///var/hotline.sqlite3`` or
``postgresql+asyncpg://user@host/db``). SQLite is put in WAL mode with foreign keys on, and waits
for the write lock instead of failing with "database is locked" when the dispatcher and a call
session write at the same moment (every transaction takes the write lock up front).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # take over transaction control from the driver so `sqlite_on_begin` can say IMMEDIATE
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def sqlite_on_begin(conn: sa.Connection) -> None:
    # Every transaction here writes (even a look-up writes its audit row). A deferred transaction
    # that reads and then writes fails with SQLITE_BUSY when another writer got in between, which
    # busy_timeout cannot cure; taking the write lock up front makes writers queue instead.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def open_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An async engine for `url`; for a SQLite file its folder is created. Its errors never
    carry the statement's values (`hide_parameters`): an intake's insert holds names,
    addresses and customer numbers, and an error's text ends up in a log line."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # one connection: SQLite has one writer anyway, and queueing for the pool in asyncio is
        # fair and prompt, where SQLite's busy handler sleeps in steps up to 100 ms (p99 spikes)
        engine = create_async_engine(
            url,
            echo=echo,
            hide_parameters=True,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            # no extra ROLLBACK when the connection goes back to the pool (a thread hop, 0.14 ms):
            # `Connection.close()` already rolls back a transaction it left open, and the look-up
            # path takes this connection just as its turn to write (`ivr.store.lookup_path`)
            pool_reset_on_return=None,
        )
        sa.event.listen(engine.sync_engine, "connect", sqlite_on_connect)
        sa.event.listen(engine.sync_engine, "begin", sqlite_on_begin)
        return engine
    # no ROLLBACK when a connection goes back to the pool: every use here is a `begin()` or
    # `connect()` block, which ends its transaction itself; the reset was one more round trip
    # after every batch of call state and call records
    return create_async_engine(
        url, echo=echo, hide_parameters=True, pool_pre_ping=True, pool_reset_on_return=None
    )
