"""Caller-ID look-up latency and intake throughput on SQLite and PostgreSQL.

    .venv/bin/python bench/lookup.py                      # 1,000,000 accounts, both databases
    .venv/bin/python bench/lookup.py --accounts 50000 --db sqlite

Each look-up is what the IVR does when a call arrives: normalise the caller ID, find the accounts
(with premises and phones), write the audit row, commit. Intake throughput counts requests
committed together with their billing outbox row. The baseline, timed in the same run and
interleaved with the look-up path, is the same statements issued one driver call at a time on the
main async engine (how look-ups ran before `ivr.store.lookup_path`); the reference is a bare
`SELECT 1` through the main engine (with its pool ping and reset).
PostgreSQL is a private throwaway cluster with PostgreSQL's durable defaults (fsync, synchronous
commit) unless --pg-url is given; SQLite runs in WAL mode with synchronous=NORMAL, as the engine
does. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ivr.callerid import normalise_caller_id
from ivr.domain import RequestKind
from ivr.intake.service import IntakeRequest, IntakeService
from ivr.store.accounts import AccountStore, AuditContext, match_caller
from ivr.store.db import open_engine
from ivr.store.demo import demo
from ivr.store.migrate import migrate
from ivr.store.tables import accounts, phones, premises

# the throw-away PostgreSQL of the tests lives in the checkout, not in the installed engine
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.pgcluster import PgCluster


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(url: str, label: str, args: argparse.Namespace) -> None:
    await migrate(url)
    engine = open_engine(url)
    try:
        await _load_demo(engine, label, args)
        await _settle(engine)
        rnd = random.Random(1)
        presented, vacant, custs = await _samples(engine, rnd, args)
        store = AccountStore(engine)
        ctx = AuditContext("ivr", "bench")
        await _sequential_lookups(engine, store, ctx, presented, label)
        await _concurrent_lookups(store, ctx, presented, label, args)
        intake = IntakeService(engine, business_days=lambda a, b: (b - a).days)
        start_day = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
        request = _intake_requests(custs, vacant, start_day)
        await _intake_throughput(intake, request, label, args)
        await _lookups_among_writers(intake, request, store, ctx, presented, label, args)
        await store.aclose()
    finally:
        await engine.dispose()


async def _load_demo(engine: AsyncEngine, label: str, args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 5 or done == total:
            last[0] = now
            print(f"  [{label}] demo {done:,}/{total:,} ({now - t0:.0f} s)", flush=True)

    await demo(engine, args.accounts, progress=progress, chunk=50_000)
    load_s = time.perf_counter() - t0
    print(
        f"[{label}] demo load: {args.accounts:,} accounts in {load_s:.1f} s "
        f"({args.accounts / load_s:,.0f} accounts/s)"
    )


async def _settle(engine: AsyncEngine) -> None:
    # a production database is settled: statistics gathered, the bulk load checkpointed
    # (right after a 1 M-row COPY, autovacuum and the checkpoint land in the timed look-ups)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM ANALYZE")
            await conn.exec_driver_sql("CHECKPOINT")
    else:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")


async def _samples(
    engine: AsyncEngine, rnd: random.Random, args: argparse.Namespace
) -> tuple[list[str], list[int], list[tuple[str, int]]]:
    """Caller numbers to look up, vacant premises, and (customer number, premise) to move from."""
    async with engine.connect() as conn:
        max_phone = (await conn.execute(sa.select(sa.func.max(phones.c.id)))).scalar_one()
        ids = [rnd.randint(1, max_phone) for _ in range(args.lookups)]
        known = list(
            (await conn.execute(sa.select(phones.c.e164).where(phones.c.id.in_(ids)))).scalars()
        )
        vacant = list(
            (
                await conn.execute(
                    sa.select(premises.c.id).where(premises.c.account_id.is_(None)).limit(1000)
                )
            ).scalars()
        )
        custs = [
            (r[0], r[1])
            for r in await conn.execute(
                sa.select(accounts.c.customer_number, sa.func.min(premises.c.id))
                .join(premises, premises.c.account_id == accounts.c.id)
                .where(accounts.c.status == "active")
                .group_by(accounts.c.customer_number)
                .limit(1000)
            )
        ]
    # national format as Asterisk presents it, plus ~10 % unknown numbers
    presented = ["0" + e[3:] for e in known]
    presented += [f"093{rnd.randint(1000000, 1999999)}" for _ in range(len(presented) // 10)]
    rnd.shuffle(presented)
    return presented, vacant, custs


async def _sequential_lookups(
    engine: AsyncEngine, store: AccountStore, ctx: AuditContext, presented: list[str], label: str
) -> None:
    async def before(number: str) -> None:
        # the baseline: the same statements on the main async engine, one driver call each
        # (through aiosqlite every statement, fetch and commit is a thread hop)
        async with engine.begin() as conn:
            await conn.run_sync(match_caller, normalise_caller_id(number), ctx)

    async def floor(_number: str) -> None:
        async with engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    for number in presented[:50]:  # warm the pools and caches
        await store.match_caller(number, ctx)
        await before(number)
    # interleaved, so drift on a shared machine hits every variant alike
    variants: dict[str, Callable[[str], Awaitable[object]]] = {
        "look-up path": lambda n: store.match_caller(n, ctx),
        "baseline: per-statement async (before)": before,
        "reference: SELECT 1 through the main engine": floor,
    }
    lat: dict[str, list[float]] = {name: [] for name in variants}
    for i, number in enumerate(presented):
        names = list(variants)
        for name in names[i % len(names) :] + names[: i % len(names)]:
            s = time.perf_counter()
            await variants[name](number)
            lat[name].append((time.perf_counter() - s) * 1000)
    for name, values in lat.items():
        print(
            f"[{label}] caller-ID look-up, {name} ({len(values):,} calls, sequential): "
            f"p50 {statistics.median(values):.2f} ms  p99 {pct(values, 99):.2f} ms  "
            f"max {max(values):.2f} ms"
        )


async def _concurrent_lookups(
    store: AccountStore,
    ctx: AuditContext,
    presented: list[str],
    label: str,
    args: argparse.Namespace,
) -> None:
    conc: list[float] = []

    async def worker(chunk: list[str]) -> None:
        for number in chunk:
            s = time.perf_counter()
            await store.match_caller(number, ctx)
            conc.append((time.perf_counter() - s) * 1000)

    t1 = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for w in range(args.concurrency):
            tg.create_task(worker(presented[w :: args.concurrency]), name=f"lookup-{w}")
    wall = time.perf_counter() - t1
    print(
        f"[{label}] caller-ID look-up path ({args.concurrency} concurrent): "
        f"p50 {statistics.median(conc):.2f} ms  p99 {pct(conc, 99):.2f} ms  "
        f"{len(conc) / wall:,.0f} look-ups/s"
    )


def _intake_requests(
    custs: list[tuple[str, int]], vacant: list[int], start_day: str
) -> Callable[[int], IntakeRequest]:
    def request(i: int) -> IntakeRequest:
        if i % 2:
            return IntakeRequest(
                RequestKind.LEAK,
                "ivr",
                "ivr",
                {"address": f"本町{i}丁目", "description": "漏水"},
            )
        return IntakeRequest(
            RequestKind.TRANSFER,
            "web",
            "web:bench",
            {
                "customer_number": custs[i % len(custs)][0],
                "premise_id": custs[i % len(custs)][1],
                "stop_date": start_day,
                "start_date": start_day,
                "new_premise_id": vacant[i % len(vacant)],
            },
        )

    return request


async def _intake_throughput(
    intake: IntakeService,
    request: Callable[[int], IntakeRequest],
    label: str,
    args: argparse.Namespace,
) -> None:
    t2 = time.perf_counter()
    for i in range(args.intakes):
        await intake.submit(request(i))
    seq = args.intakes / (time.perf_counter() - t2)

    async def intake_worker(w: int) -> None:
        for i in range(w, args.intakes, args.concurrency):
            await intake.submit(request(i))

    t3 = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for w in range(args.concurrency):
            tg.create_task(intake_worker(w), name=f"intake-{w}")
    par = args.intakes / (time.perf_counter() - t3)
    print(
        f"[{label}] intake committed with outbox row (half leaks, half transfers = 2 rows): "
        f"{seq:,.0f} req/s sequential, {par:,.0f} req/s with {args.concurrency} concurrent"
    )


async def _lookups_among_writers(
    intake: IntakeService,
    request: Callable[[int], IntakeRequest],
    store: AccountStore,
    ctx: AuditContext,
    presented: list[str],
    label: str,
    args: argparse.Namespace,
) -> None:
    # look-ups while two writers submit intakes (an agent and the web): the audit insert
    # shares the write lock with them on SQLite
    mixed: list[float] = []
    stop = asyncio.Event()

    async def writer(w: int) -> None:
        i = w
        while not stop.is_set():
            await intake.submit(request(i))
            i += 2

    async def looker() -> None:
        for number in presented[: args.lookups // 5]:
            s = time.perf_counter()
            await store.match_caller(number, ctx)
            mixed.append((time.perf_counter() - s) * 1000)
        stop.set()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(writer(0), name="writer-0")
        tg.create_task(writer(1), name="writer-1")
        tg.create_task(looker(), name="looker")
    print(
        f"[{label}] caller-ID look-up path while 2 intake writers run: "
        f"p50 {statistics.median(mixed):.2f} ms  p99 {pct(mixed, 99):.2f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=5_000)
    parser.add_argument("--intakes", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--pg-url", help="an existing server where we may CREATE DATABASE")
    args = parser.parse_args()
    kinds = args.db.split(",")
    if "sqlite" in kinds:
        with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
            await run(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}", "sqlite", args)
    if "postgresql" in kinds:
        cluster = None if args.pg_url else PgCluster(durable=True)
        server = args.pg_url or (cluster.start() if cluster else "")
        name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
        admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
        try:
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            url = make_url(server).set(database=name).render_as_string(hide_password=False)
            await run(url, "postgresql", args)
            async with admin.connect() as conn:
                await conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await admin.dispose()
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    asyncio.run(main())
