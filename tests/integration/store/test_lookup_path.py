"""The look-up path under trouble: a restarted PostgreSQL, a SQLite writer holding the lock."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC
from pathlib import Path

import pytest
import sqlalchemy as sa

from ivr.callerid import normalise_caller_id
from ivr.store import lookup_path
from ivr.store.accounts import AccountStore, AuditContext, match_caller
from ivr.store.db import open_engine
from ivr.store.lookup_path import JOBS_PER_TURN, SqliteLookupPath
from ivr.store.migrate import migrate
from ivr.store.models import MatchKind
from ivr.store.tables import audit_log
from tests.integration.store.storedata import NOW, cust, seed
from tests.support.pgcluster import PgCluster

pytestmark = pytest.mark.integration

IVR = AuditContext("ivr", "caller-id", call_id="call-1")
# how long the test holds the write lock while a look-up waits for it
LOCK_HELD_S = 0.3


async def test_a_restarted_postgresql_costs_no_failed_lookup() -> None:
    # a cluster of its own: the restart cuts every client's connection
    cluster = PgCluster()
    url = cluster.start()
    try:
        await migrate(url)
        engine = open_engine(url)
        try:
            await seed(engine)
            async with AccountStore(engine) as store:
                assert (await store.match_caller("0935821234", IVR)).kind is MatchKind.ONE
                # the pooled connection now points at a server that is gone
                await asyncio.to_thread(cluster.restart)
                again = await store.match_caller("0935821234", IVR)
                withheld = await store.match_caller("anonymous", IVR)
                found = await store.by_customer_number(cust(5), IVR)
            assert again.kind is MatchKind.ONE
            assert withheld.kind is MatchKind.WITHHELD
            assert found is not None
            async with engine.connect() as conn:
                audited = (
                    await conn.execute(sa.select(audit_log.c.account_id).order_by(audit_log.c.id))
                ).all()
            assert [r.account_id for r in audited] == [1, 1, None, 5]
        finally:
            await engine.dispose()
    finally:
        cluster.stop()


async def test_a_sqlite_lookup_waits_for_a_writer_instead_of_failing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"
    await migrate(url)
    engine = open_engine(url)
    try:
        await seed(engine)
        async with AccountStore(engine) as store:
            async with engine.begin() as conn:
                # an intake in progress holds SQLite's write lock (BEGIN IMMEDIATE)
                await conn.execute(
                    sa.insert(audit_log).values(at=NOW, actor="writer", action="x", reason="y")
                )
                lookup = asyncio.create_task(store.match_caller("0935821234", IVR))
                # a look-up that gave up on the lock ("database is locked") would end here
                done, _ = await asyncio.wait({lookup}, timeout=LOCK_HELD_S)
                assert not done
            match = await lookup
        assert match.kind is MatchKind.ONE
        async with engine.connect() as conn:
            actors = (
                await conn.execute(sa.select(audit_log.c.actor).order_by(audit_log.c.id))
            ).all()
        # the look-up's audit row lands after the writer committed; nothing was lost
        assert [r.actor for r in actors] == ["writer", "ivr"]
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "presented", ["0935821234", "0935550000", "0935559999", "anonymous", "0935"]
)
async def test_the_sqlite_caller_match_on_the_drivers_cursor_is_sqlalchemys(
    tmp_path: Path, presented: str
) -> None:
    # the hot path reads and writes exactly what `accounts.match_caller` does through SQLAlchemy
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"
    await migrate(url)
    engine = open_engine(url)
    caller = normalise_caller_id(presented)
    try:
        await seed(engine)
        path = SqliteLookupPath(engine)
        try:
            fast = await path.match_caller(caller, IVR)
            reference = await path.run(match_caller, caller, IVR)
        finally:
            await path.aclose()
        assert fast == reference
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(audit_log).order_by(audit_log.c.id))).mappings()
            audit = [{k: v for k, v in r.items() if k != "id"} for r in rows]
        half = len(audit) // 2
        assert half == max(len(fast.accounts), 1)
        # the same rows but for the time of the look-up (an aware UTC datetime both ways)
        assert [{**r, "at": None} for r in audit[:half]] == [
            {**r, "at": None} for r in audit[half:]
        ]
        assert all(r["at"].tzinfo is UTC for r in audit)
    finally:
        await engine.dispose()


async def test_a_failing_sqlite_caller_match_raises_sqlalchemys_error_and_writes_nothing(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"
    await migrate(url)
    engine = open_engine(url)
    try:
        await seed(engine)
        async with engine.begin() as conn:
            await conn.exec_driver_sql("DROP TABLE audit_log")
        async with AccountStore(engine) as store:
            with pytest.raises(sa.exc.OperationalError, match="audit_log"):
                await store.match_caller("0935821234", IVR)
            # the transaction was rolled back: the next look-up gets the write lock
            with pytest.raises(sa.exc.OperationalError, match="audit_log"):
                await store.match_caller("0935821234", IVR)
    finally:
        await engine.dispose()


def _audit_row(conn: sa.Connection, actor: str) -> None:
    conn.execute(sa.insert(audit_log).values(at=NOW, actor=actor, action="x", reason="y"))


def _failing_write(conn: sa.Connection) -> None:
    conn.execute(sa.insert(audit_log).values(at=NOW, actor="doomed", action="x", reason="y"))
    raise RuntimeError("the job fails after writing")


async def test_sqlite_jobs_queued_behind_a_writer_share_one_turn_each_in_its_own_transaction(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"
    await migrate(url)
    engine = open_engine(url)
    callers = [normalise_caller_id(n) for n in ("0935821234", "0935550000", "anonymous")]
    try:
        await seed(engine)
        path = SqliteLookupPath(engine)
        try:
            async with engine.begin() as conn:
                # a writer holds the main connection while calls ask for their look-ups
                await conn.execute(
                    sa.insert(audit_log).values(at=NOW, actor="writer", action="x", reason="y")
                )
                lookups = [
                    asyncio.create_task(path.match_caller(c, AuditContext("ivr", "caller-id")))
                    for c in callers
                ]
                doomed = asyncio.create_task(path.run(_failing_write))
                given_up = asyncio.create_task(path.match_caller(callers[0], IVR))
                await asyncio.sleep(0)
                given_up.cancel()
            matches = await asyncio.gather(*lookups)
            with pytest.raises(RuntimeError, match="fails after writing"):
                await doomed
            turns = path.turns
        finally:
            await path.aclose()
        assert [m.kind for m in matches] == [MatchKind.ONE, MatchKind.SEVERAL, MatchKind.WITHHELD]
        # one wait for the writer, one turn for all of them
        assert turns == 1
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(audit_log.c.actor, audit_log.c.call_id).order_by(audit_log.c.id)
                )
            ).all()
        # each look-up's audit rows committed with it; the failed job's row rolled back; the
        # look-up its caller stopped waiting for never ran (and audited nothing)
        assert [r.actor for r in rows] == ["writer", "ivr", "ivr", "ivr", "ivr"]
        assert "call-1" not in {r.call_id for r in rows}
    finally:
        await engine.dispose()


async def test_the_main_connections_other_users_get_in_between_sqlite_turns(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"
    await migrate(url)
    engine = open_engine(url)
    caller = normalise_caller_id("0935821234")
    try:
        await seed(engine)
        path = SqliteLookupPath(engine)
        try:
            # a storm: more look-ups queued than one turn takes
            lookups = [
                asyncio.create_task(path.match_caller(caller, AuditContext("ivr", "caller-id")))
                for _ in range(JOBS_PER_TURN * 4)
            ]
            # the first turn is over: the path holds on to the storm
            await asyncio.wait(lookups, return_when=asyncio.FIRST_COMPLETED)

            async def read_on_the_main_connection() -> int:
                async with engine.connect() as conn:
                    return len((await conn.execute(sa.select(audit_log.c.id))).all())

            # an intake or the notices read on the main connection waits for one turn, not
            # for the whole storm
            audited_when_read = await read_on_the_main_connection()
            await asyncio.gather(*lookups)
        finally:
            await path.aclose()
        assert 0 < audited_when_read < len(lookups)
    finally:
        await engine.dispose()


async def test_a_sqlite_lookup_behind_another_processs_lock_waits_without_stopping_the_calls(
    tmp_path: Path,
) -> None:
    # the standby engine or a `hotline` command (another process: not the main connection's
    # queue) holds SQLite's write lock while a call's look-up comes
    db = tmp_path / "hotline.sqlite3"
    url = f"sqlite+aiosqlite:///{db}"
    await migrate(url)
    engine = open_engine(url)
    other = sqlite3.connect(db, isolation_level=None)
    try:
        await seed(engine)
        path = SqliteLookupPath(engine)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute(
                "INSERT INTO audit_log (at, actor, action, reason) "
                "VALUES ('2027-04-01 09:00:00.000000', 'other process', 'x', 'y')"
            )
            ticks = 0

            async def other_calls() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0.01)

            calls = asyncio.create_task(other_calls())
            # a batch of the trail (through SQLAlchemy) and a call's look-up (on the driver's
            # cursor) share the turn that finds the lock held
            batch = asyncio.create_task(path.run(_audit_row, "batch"))
            lookup = asyncio.create_task(path.match_caller(normalise_caller_id("0935821234"), IVR))
            done, _ = await asyncio.wait({batch, lookup}, timeout=LOCK_HELD_S)
            # it waits for the lock instead of failing ("database is locked"), and the event
            # loop serves the other calls meanwhile (a wait on the loop's thread would stop
            # them for as long as the lock is held)
            assert not done
            assert ticks > 1
            other.execute("COMMIT")
            match = await lookup
            await batch
            calls.cancel()
            waited = path.waited_turns
        finally:
            await path.aclose()
        assert match.kind is MatchKind.ONE
        assert waited == 1
        async with engine.connect() as conn:
            actors = (
                await conn.execute(sa.select(audit_log.c.actor).order_by(audit_log.c.id))
            ).all()
        assert [r.actor for r in actors] == ["other process", "batch", "ivr"]
    finally:
        other.close()
        await engine.dispose()


@pytest.mark.parametrize("checkpoints", [True, False])
async def test_the_sqlite_paths_writes_are_checkpointed_so_the_wal_does_not_keep_growing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checkpoints: bool
) -> None:
    # the path's own connection never checkpoints (that fsyncs on the loop's thread): without
    # the worker thread's checkpoints a storm's look-ups would pile up in the WAL file
    monkeypatch.setattr(lookup_path, "CHECKPOINT_EVERY_S", 0.0 if checkpoints else 1e9)
    db = tmp_path / "hotline.sqlite3"
    url = f"sqlite+aiosqlite:///{db}"
    await migrate(url)
    engine = open_engine(url)
    caller = normalise_caller_id("0935821234")
    try:
        await seed(engine)
        with contextlib.closing(sqlite3.connect(db)) as setup:
            # what the migrations and the seed left in the WAL is not the path's
            setup.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        path = SqliteLookupPath(engine)
        try:
            for _ in range(40):
                assert (await path.match_caller(caller, IVR)).kind is MatchKind.ONE
                await path.checkpointed()
        finally:
            await path.aclose()
        with contextlib.closing(sqlite3.connect(db)) as reader:
            _, frames, _ = reader.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        # each look-up's commit appends a few pages; a checkpointed WAL starts over
        if checkpoints:
            assert frames < 10
        else:
            assert frames >= 40
    finally:
        await engine.dispose()
