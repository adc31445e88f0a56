"""`hotline db init | migrate | demo --accounts N` (also `hotline demo`).

`add_commands(subparsers)` registers the commands; each handler takes the parsed namespace and
returns the process exit code. The database is `database.url` of the config file given with
``--config`` (or config.yaml / $HOTLINE_CONFIG). Output lists ids, states and confirmation numbers
only: no customer numbers, names or phone numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO, TypeVar

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import load_config
from ivr.errors import ConfigError
from ivr.store.db import is_sqlite, open_engine
from ivr.store.demo import demo
from ivr.store.migrate import head_revision, migrate
from ivr.store.tables import premises

T = TypeVar("T")


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = subparsers.add_parser("db", help="create or upgrade the database schema")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    init = db_sub.add_parser("init", help="create the schema (safe to repeat)")
    init.set_defaults(func=run_db_init)
    up = db_sub.add_parser("migrate", help="upgrade the schema to the newest revision")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.set_defaults(func=run_db_migrate)

    # `hotline demo` and `hotline db demo` are the same command
    for where in (subparsers, db_sub):
        dem = where.add_parser("demo", help="fill the database with generated demo accounts")
        dem.add_argument("--accounts", type=_positive, default=1000, help="accounts to add")
        dem.add_argument("--seed", type=int, default=2004, help="random seed (deterministic data)")
        dem.set_defaults(func=run_demo)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def database_url(args: argparse.Namespace) -> str:
    return load_config(getattr(args, "config", None)).database.url


def existing_database(args: argparse.Namespace) -> str:
    """The configured database's URL for a command that reads what the engine wrote; a
    `ConfigError` (exit 2, one line) if there is none yet: never creates the file."""
    url = database_url(args)
    parsed = make_url(url)
    if is_sqlite(url) and parsed.database and parsed.database != ":memory:":
        if not Path(parsed.database).is_file():
            raise ConfigError(
                f"database.url: no database at {parsed.database} yet "
                "(`hotline db migrate` or scripts/start creates it)"
            )
    if with_engine(url, _revision) is None:
        raise ConfigError("database.url: the database has no tables yet (run `hotline db migrate`)")
    return url


async def _revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def with_engine(url: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = open_engine(url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except (OperationalError, InterfaceError, OSError) as exc:
        # the server down, a wrong password, a folder that cannot be written: one line, no URL
        # (it may carry the password) and no SQL parameters
        raise ConfigError(
            f"database.url: cannot open the database ({type(exc).__name__})"
        ) from None


def run_db_init(args: argparse.Namespace) -> int:
    url = database_url(args)
    revision = asyncio.run(migrate(url, "head"))
    print(f"database ready at revision {revision}")
    return 0


def run_db_migrate(args: argparse.Namespace) -> int:
    url = database_url(args)
    revision = asyncio.run(migrate(url, args.revision))
    print(f"database at revision {revision} (newest: {head_revision()})")
    return 0


class ProgressBar:
    """A one-line progress bar on a terminal stream (`demo` progress callback)."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        # looked up when used: sys.stderr may be replaced after the bar is made (tests do)
        self._stream = stream
        self.width = width

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr

    def __call__(self, done: int, total: int) -> None:
        share = done / total if total else 1.0
        filled = int(share * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} accounts")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def run_demo(args: argparse.Namespace) -> int:
    url = database_url(args)
    asyncio.run(migrate(url))
    bar = ProgressBar()
    written = with_engine(
        url, lambda engine: demo(engine, args.accounts, seed=args.seed, progress=bar)
    )
    print(f"added {written} demo accounts")
    meters = with_engine(url, vacant_meters)
    if meters:
        # what a tester keys for a start or an in-city move by phone
        print("vacant homes (meter numbers) to try a start or a move: " + ", ".join(meters))
    return 0


async def vacant_meters(engine: AsyncEngine, limit: int = 3) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(premises.c.meter_number)
            .where(premises.c.account_id.is_(None))
            .order_by(premises.c.id)
            .limit(limit)
        )
        return [str(r.meter_number) for r in rows]
