"""Report timings over a generated year of the call trail, on SQLite and PostgreSQL.

    .venv/bin/python bench/reports.py                          # 1,000,000 calls, both databases
    .venv/bin/python bench/reports.py --calls 100000 --db sqlite

One year (2026) of generated calls with the March–April peak (tests/support/reportdata.py:
about 7 trail events per call, 4 agent events per answered call; 60 % of the calls recognised
as one of the --accounts demo accounts, some calling again within days) is written straight
to the driver (COPY on PostgreSQL, one executemany per table and day on SQLite), then timed:
the first roll-up of the whole trail (`ivr.reports.rollup.refresh`: what every report would
pay without the roll-up), an incremental refresh after one more day of calls, a month's
report (by day, by 15 min), a year's report (by month, by hour) from the quarter-hour sums,
a year's report for another answer threshold (straight from the per-call roll-up), and the
database size, trail and roll-up apart. PostgreSQL is a private throwaway cluster (fsync
off: the load is faster, the report reads are the same) unless --pg-url is given. Prints
numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ivr.config import ReportsConfig
from ivr.reports.builder import reader, spec_for
from ivr.reports.contacts import one_calendar
from ivr.reports.queries import IntervalName, _request_kinds, build_report
from ivr.reports.rollup import refresh
from ivr.store.db import open_engine
from ivr.store.demo import demo
from ivr.store.migrate import migrate
from ivr.store.tables import service_requests

# the throw-away PostgreSQL of the tests lives in the checkout, not in the installed engine
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from routing.hours import DEFAULT_CALENDARS, calendars_from_config
from tests.support.pgcluster import PgCluster
from tests.support.reportdata import generate, generate_days, write_rows

T = TypeVar("T")
INDEX = "ix_service_requests_created_at"
PHONE = calendars_from_config(DEFAULT_CALENDARS)["phone"]
HOURS = one_calendar(PHONE.is_open)
NOW = datetime(2027, 1, 3, tzinfo=UTC)
TABLES = (
    "calls",
    "call_events",
    "agent_events",
    "report_contacts",
    "report_intervals",
    "report_day_classes",
    "report_agent_time",
    "report_wrap_ups",
)


async def timed(what: str, work: Callable[[], Awaitable[T]]) -> tuple[T, float]:
    start = time.perf_counter()
    result = await work()
    elapsed = time.perf_counter() - start
    print(f"  {what:<44} {elapsed:8.2f} s", flush=True)
    return result, elapsed


async def sizes(engine: AsyncEngine, url: str) -> None:
    async with engine.connect() as conn:
        # our own table names, not input
        counts = {
            t: (await conn.execute(sa.text(f"SELECT count(*) FROM {t}"))).scalar()  # noqa: S608
            for t in TABLES
        }
        if engine.dialect.name == "postgresql":
            total = (
                await conn.execute(sa.text("SELECT pg_database_size(current_database())"))
            ).scalar()
            per = {
                t: (
                    await conn.execute(sa.text("SELECT pg_total_relation_size(:t)"), {"t": t})
                ).scalar()
                for t in TABLES
            }
        else:
            path = Path(str(make_url(url).database))
            total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
            per = {}
            for t in TABLES:
                try:
                    got = await conn.execute(
                        sa.text("SELECT sum(pgsize) FROM dbstat WHERE name = :t OR tbl_name = :t"),
                        {"t": t},
                    )
                    per[t] = got.scalar()
                except sa.exc.OperationalError:
                    per[t] = None
    print(f"  database size {int(total or 0) / 2**20:10.1f} MiB")
    for t in TABLES:
        size = per.get(t)
        shown = f"{int(size) / 2**20:8.1f} MiB" if size else "       ? MiB"
        print(f"    {t:<20} {int(counts[t] or 0):>10} rows {shown}")


async def report(
    engine: AsyncEngine, first: date, last: date, interval: IntervalName, answer_s: float = 20
) -> str:
    spec = spec_for(ReportsConfig(answer_s=answer_s), first, last, interval=interval)
    async with reader(engine) as read:
        result = await build_report(read, spec, NOW)
    r = result.repeats
    return (
        f"{result.total.offered} offered, {result.total.abandoned} abandoned, "
        f"{r.identified} calls of {r.accounts} accounts, {r.repeats} repeats"
    )


async def one_day_more(engine: AsyncEngine, calls: int) -> int:
    """An ordinary open day of calls after the year (as the next day's calls would come)."""
    for _, rows in generate_days(2027, calls, PHONE.is_open, seed=99, prefix="next"):
        if len(rows) >= calls // 400:
            await write_rows(engine, rows)
            return len(rows)
    return 0


async def vacuum(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("VACUUM ANALYZE")


async def request_kinds(engine: AsyncEngine, first: date, last: date) -> int:
    """The report's one query on service_requests (requests by kind and channel)."""
    spec = spec_for(ReportsConfig(), first, last)
    async with reader(engine) as read, read.connect() as conn:
        kinds = await _request_kinds(conn, spec)
    return sum(kinds.values())


async def request_index(engine: AsyncEngine) -> None:
    """Requests by kind for a month and a year, without and with an index on created_at."""
    index = next(i for i in service_requests.indexes if i.name == INDEX)
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: index.drop(sync, checkfirst=True))
    for state in ("without", "with"):
        if state == "with":
            await timed("index on service_requests.created_at", lambda: _create(engine, index))
        for label, first, last in (
            ("March", date(2026, 3, 1), date(2026, 3, 31)),
            ("year", date(2026, 1, 1), date(2026, 12, 31)),
        ):

            async def one(f: date = first, la: date = last) -> int:
                return await request_kinds(engine, f, la)

            n, _ = await timed(f"requests by kind, {label}, {state} index", one)
            print(f"  ({n} requests)")


async def _create(engine: AsyncEngine, index: sa.Index) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: index.create(sync, checkfirst=True))
        if engine.dialect.name == "postgresql":
            await conn.exec_driver_sql("ANALYZE service_requests")
        else:
            await conn.exec_driver_sql("ANALYZE")


async def bench(url: str, calls: int, accounts: int) -> None:
    await migrate(url)
    engine = open_engine(url)
    try:
        last_print = [time.perf_counter()]

        def progress(day: date, written: int) -> None:
            if time.perf_counter() - last_print[0] > 15:
                last_print[0] = time.perf_counter()
                print(f"    … {day.isoformat()}: {written} calls", flush=True)

        await timed(f"{accounts} demo accounts", lambda: demo(engine, accounts))
        written, took = await timed(
            f"generate and write {calls} calls",
            lambda: generate(
                engine, 2026, calls, PHONE.is_open, progress=progress, accounts=accounts
            ),
        )
        print(f"  ({written} calls written: {written / took:.0f} calls/s)")
        done, took = await timed(
            "first roll-up of the whole trail", lambda: refresh(engine, HOURS, NOW)
        )
        print(
            f"  ({done.calls} calls, {done.agent_events} agent events: "
            f"{done.calls / took:.0f} calls/s)"
        )
        if engine.dialect.name == "postgresql":
            # what autovacuum does to a year of tables (visibility map, planner statistics)
            await timed("VACUUM ANALYZE", lambda: vacuum(engine))
        print(f"  (one more day: {await one_day_more(engine, calls)} calls)")
        more, _ = await timed(
            "incremental refresh after one more day", lambda: refresh(engine, HOURS, NOW)
        )
        print(f"  ({more.calls} calls, {more.agent_events} agent events)")
        await timed("refresh with nothing new", lambda: refresh(engine, HOURS, NOW))
        periods: list[tuple[str, date, date, IntervalName]] = [
            ("month report (March, by day)", date(2026, 3, 1), date(2026, 3, 31), "day"),
            ("month report (March, by 15 min)", date(2026, 3, 1), date(2026, 3, 31), "15"),
            ("year report (by month)", date(2026, 1, 1), date(2026, 12, 31), "month"),
            ("year report (by hour)", date(2026, 1, 1), date(2026, 12, 31), "60"),
        ]
        for label, first, last, interval in periods:

            async def one(f: date = first, la: date = last, i: IntervalName = interval) -> str:
                return await report(engine, f, la, i)

            summary, _ = await timed(label, one)
            print(f"  ({summary})")

        async def direct() -> str:
            return await report(engine, date(2026, 1, 1), date(2026, 12, 31), "month", 30)

        await timed("year report, T = 30 s (from the contacts)", direct)
        await request_index(engine)
        await sizes(engine, url)
    finally:
        await engine.dispose()


async def pg_database(server: str) -> str:
    name = f"bench_reports_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        await admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument(
        "--accounts", type=int, default=200_000, help="demo accounts the callers are recognised as"
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", help="a PostgreSQL server where we may CREATE DATABASE")
    args = parser.parse_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"SQLite, {args.calls} calls", flush=True)
            await bench(f"sqlite+aiosqlite:///{tmp}/bench.sqlite3", args.calls, args.accounts)
    if args.db in ("postgresql", "both"):
        cluster = None
        server = args.pg_url
        if server is None:
            cluster = PgCluster(durable=False)
            server = cluster.start()
        try:
            print(f"PostgreSQL, {args.calls} calls", flush=True)
            await bench(await pg_database(server), args.calls, args.accounts)
        finally:
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    asyncio.run(main())
