"""Schema migrations, run programmatically (the `hotline db init|migrate` commands call these).

Alembic's environment lives in `ivr/store/migrations/`; no alembic.ini is needed. Each function
opens its own engine, runs Alembic on a synchronous view of one async connection, and closes it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from ivr.store.db import open_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migration scripts found")
    return head


async def migrate(url: str, revision: str = "head") -> str:
    """Upgrade the database at `url` to `revision`; returns the revision it is at afterwards."""
    engine = open_engine(url)
    try:
        async with engine.begin() as conn:

            def upgrade(sync_conn: Connection) -> str | None:
                command.upgrade(alembic_config(sync_conn), revision)
                return MigrationContext.configure(sync_conn).get_current_revision()

            current = await conn.run_sync(upgrade)
    finally:
        await engine.dispose()
    return current or "base"


async def init(url: str) -> str:
    """Create the schema in an empty (or new SQLite) database; same as migrating to head.

    Safe to repeat: an already-initialised database is left as it is (or upgraded).
    """
    return await migrate(url, "head")


async def current_revision(url: str) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    engine = open_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: MigrationContext.configure(c).get_current_revision()
            )
    finally:
        await engine.dispose()
