"""`hotline db init | migrate | demo --accounts N` (also `hotline demo`), `hotline billing ...`.

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
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import load_config
from ivr.intake.outbox import pending, retry
from ivr.intake.payload import billing_request_schema_json
from ivr.store.db import open_engine
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

    billing = subparsers.add_parser("billing", help="the billing outbox")
    b_sub = billing.add_subparsers(dest="billing_command", metavar="ACTION", required=True)
    pend = b_sub.add_parser("pending", help="list requests not yet delivered to billing")
    pend.add_argument("--no-dead", action="store_true", help="leave out dead letters")
    pend.set_defaults(func=run_billing_pending)
    again = b_sub.add_parser("retry", help="make dead (or the given) outbox rows due again now")
    again.add_argument("ids", nargs="*", type=int, help="outbox row ids (default: every dead one)")
    again.set_defaults(func=run_billing_retry)
    schema = b_sub.add_parser("schema", help="print the JSON Schema of what billing receives")
    schema.add_argument("-o", "--output", help="write to this file instead of stdout")
    schema.set_defaults(func=run_billing_schema)


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def _database_url(args: argparse.Namespace) -> str:
    return load_config(getattr(args, "config", None)).database.url


def _with_engine(url: str, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def main() -> T:
        engine = open_engine(url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def run_db_init(args: argparse.Namespace) -> int:
    url = _database_url(args)
    revision = asyncio.run(migrate(url, "head"))
    print(f"database ready at revision {revision}")
    return 0


def run_db_migrate(args: argparse.Namespace) -> int:
    url = _database_url(args)
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
    url = _database_url(args)
    asyncio.run(migrate(url))
    bar = ProgressBar()
    written = _with_engine(
        url, lambda engine: demo(engine, args.accounts, seed=args.seed, progress=bar)
    )
    print(f"added {written} demo accounts")
    meters = _with_engine(url, vacant_meters)
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


def run_billing_pending(args: argparse.Namespace) -> int:
    url = _database_url(args)
    rows = _with_engine(url, lambda engine: pending(engine, include_dead=not args.no_dead))
    if not rows:
        print("nothing pending: billing has every request")
        return 0
    print(
        f"{'id':>6} {'request':>8} {'kind':<15} {'conf':<8} {'state':<8} {'tries':>5}  next / error"
    )
    for row in rows:
        kind = str(row.payload.get("kind", ""))
        confirmation = str(row.payload.get("confirmation", ""))
        when = row.next_attempt_at.isoformat(timespec="seconds")
        error = f"  {row.last_error}" if row.last_error else ""
        print(
            f"{row.id:>6} {row.request_id:>8} {kind:<15} {confirmation:<8} {row.state:<8} "
            f"{row.attempts:>5}  {when}{error}"
        )
    dead = sum(1 for r in rows if r.state == "dead")
    print(f"{len(rows)} not delivered ({dead} dead; `hotline billing retry` revives them)")
    return 0


def run_billing_retry(args: argparse.Namespace) -> int:
    url = _database_url(args)
    ids: list[int] | None = list(args.ids) if args.ids else None
    count = _with_engine(url, lambda engine: retry(engine, ids))
    print(f"{count} outbox row(s) due again now")
    return 0


def run_billing_schema(args: argparse.Namespace) -> int:
    text = billing_request_schema_json()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
