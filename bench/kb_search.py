"""Knowledge-base search timings (`ivr.store.knowledge`: LIKE on normalised text) on SQLite and
PostgreSQL, for a generated FAQ of N live entries in Japanese and English.

    .venv/bin/python bench/kb_search.py                  # 5,000 and 50,000 entries, both databases
    .venv/bin/python bench/kb_search.py --entries 20000 --db sqlite

Each entry is about 150 characters of Japanese or English; the queries are a half-width
katakana word, a hiragana word, two kanji words, an English word and a word no entry has
(a full scan that finds nothing). Each query is run 20 times; the median is printed. Prints
numbers; asserts nothing.
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
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ivr.store.db import open_engine
from ivr.store.knowledge import KnowledgeBase, normalise_text
from ivr.store.migrate import migrate
from ivr.store.tables import kb_entries

# the throw-away PostgreSQL of the tests lives in the checkout, not in the installed engine
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.pgcluster import PgCluster

NOW = datetime(2027, 2, 10, tzinfo=UTC)
WORDS_JA = (
    "水道料金 支払い 口座振替 コンビニ クレジットカード 引っ越し 開始 中止 メーター 検針 "
    "漏水 断水 濁り 工事 水圧 名義変更 電話番号 督促 再開 スイドウ 使用量 請求書 領収書 "
    "下水道 基本料金 お客さま番号 ハナコ 夜間 休日 受付 担当 部署"
).split()
WORDS_EN = (
    "water bill payment bank debit store card moving start stop meter reading leak outage "
    "discoloured construction pressure name phone reminder reconnection usage invoice receipt"
).split()
QUERIES = ("ｽｲﾄﾞｳ", "すいどう", "漏水 断水", "invoice", "存在しない語")
REPEAT = 20


def entries(n: int, seed: int = 13) -> list[dict[str, object]]:
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    for i in range(n):
        ja = i % 3 != 2
        words = WORDS_JA if ja else WORDS_EN
        question = ("" if ja else " ").join(rng.choices(words, k=6)) + ("？" if ja else "?")
        answer = ("" if ja else " ").join(rng.choices(words, k=20))
        category = rng.choice(("billing", "moving", "leak", "outage", "meter"))
        rows.append(
            {
                "lang": "ja" if ja else "en",
                "question": question,
                "answer": answer,
                "category": category,
                "department": None,
                "state": "live",
                "search_text": normalise_text(f"{question} {answer} {category}"),
                "created_at": NOW,
                "created_by": "bench",
                "updated_at": NOW,
                "updated_by": "bench",
                "call_id": None,
            }
        )
    return rows


async def bench(url: str, n: int) -> None:
    await migrate(url)
    engine: AsyncEngine = open_engine(url)
    try:
        rows = entries(n)
        async with engine.begin() as conn:
            for start in range(0, len(rows), 1000):
                await conn.execute(sa.insert(kb_entries), rows[start : start + 1000])
        kb = KnowledgeBase(engine)
        for query in QUERIES:
            times = []
            found = 0
            for _ in range(REPEAT):
                t0 = time.perf_counter()
                found = len(await kb.search(query))
                times.append(time.perf_counter() - t0)
            print(f"  {query!r:>16}: {1000 * statistics.median(times):7.2f} ms ({found} shown)")
    finally:
        await engine.dispose()


async def pg_database(server: str) -> str:
    name = f"bench_kb_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        await admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--entries", type=int, action="append")
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", help="a PostgreSQL server where we may CREATE DATABASE")
    args = parser.parse_args()
    sizes = args.entries or [5_000, 50_000]
    if args.db in ("sqlite", "both"):
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                print(f"SQLite, {n} entries", flush=True)
                await bench(f"sqlite+aiosqlite:///{tmp}/bench.sqlite3", n)
    if args.db in ("postgresql", "both"):
        cluster = None
        server = args.pg_url
        if server is None:
            cluster = PgCluster(durable=False)
            server = cluster.start()
        try:
            for n in sizes:
                print(f"PostgreSQL, {n} entries", flush=True)
                await bench(await pg_database(server), n)
        finally:
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    asyncio.run(main())
