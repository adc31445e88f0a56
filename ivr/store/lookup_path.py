"""The way account look-ups reach the database — the caller-ID match sits in front of every call.

A caller hears nothing until the match returns, so look-ups get their own path, chosen by dialect:

- **SQLite**: the whole look-up (select, audit insert, commit) runs on one synchronous connection
  of the path's own, on the event loop's thread, taking the SQLite write lock without waiting.
  Through aiosqlite every statement, fetch and commit is its own hop between the event loop and
  the driver's thread (about ten per look-up, 0.1-0.25 ms each on a busy 2-core machine). With
  one hop to a worker thread per turn instead, at 1,000,000 accounts p50 went from 1.9 to
  0.8 ms and p99 from 3.5 to 1.7 ms (`bench/lookup.py`); but that hop was still a third of the
  path's CPU at a peak (waking the thread, the GIL passed back and forth, the futures chained
  back): run in place, the engine slept and woke 7.4 times per call at 40 calls/s instead of
  14.7 and spent 8 % less CPU per call (`bench/load.py --compare`, engine over Asterisk CPU per
  call 0.312 -> 0.288, about 0.45 ms of 5.8). A turn's work
  is short (a look-up is an indexed read and one insert; a batch a few hundred rows, a commit
  into the WAL without fsync), so it runs in place. What may be slow goes to the worker
  thread instead, where it can wait without freezing the calls: a turn that finds the write lock
  held (another process: the standby engine, a `hotline` command) hands its jobs there, where
  the connection waits for the lock as long as the other connections do; and checkpoints, which
  fsync, run there on a connection of their own (this one never checkpoints itself).
  The path writes only while holding the main engine's single connection: SQLite has one
  writer, and queueing for that connection in asyncio is fair, where SQLite's busy handler polls
  in steps of up to 100 ms and let two busy intake writers starve a look-up for 0.7 s at the p99.
  The turn is taken as the pool's raw connection (no `AsyncConnection` around it: a third of the
  CPU), and the caller-ID match, on every call, runs on the driver's cursor: the same two
  statements, compiled once by SQLAlchemy with their bind and result processors, in the same
  BEGIN IMMEDIATE transaction, at half the CPU of SQLAlchemy's execution layer
  (`SqliteCallerMatch`). What is queued for the path while it works (look-ups, the call
  memory's and the call trail's batches) is taken together, one transaction each, on one turn:
  per turn there is one wait for the main connection however many calls asked.
- **PostgreSQL**: the match and its audit rows are ONE statement (the audit insert is a
  data-modifying CTE) on an autocommit connection: one round trip instead of five (pool ping,
  BEGIN, SELECT, INSERT, COMMIT) and still atomic; p50 1.9 -> 0.9 ms, p99 2.9 -> 1.5 ms. This
  pool does not ping a connection before lending it; a connection found dead is dropped and the
  look-up runs once more, so a restarted database server costs one retry, not a failed call.

Other look-ups (by customer number) run as one unit on the same path: a turn on SQLite,
one transaction on the main engine on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ivr.callerid import CallerId
from ivr.store.accounts import (
    BY_PHONE,
    MATCHED_PHONE,
    AuditContext,
    accounts_from_phone_rows,
    audit_rows,
    caller_match,
)
from ivr.store.db import SQLITE_BUSY_TIMEOUT_MS, sqlite_on_begin, sqlite_on_connect
from ivr.store.models import Account, CallerMatch
from ivr.store.tables import audit_log

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# how long a turn handed to the worker thread may wait for its connection (it is used by one
# turn at a time, so only a turn stuck behind the write lock for the whole busy timeout would)
SQLITE_POOL_TIMEOUT_S = SQLITE_BUSY_TIMEOUT_MS / 1000 + 5
# jobs taken on one turn at most: the main connection's other users (intake, the outbox) wait
# for one turn, so it stays short however long the queue
JOBS_PER_TURN = 64
# a turn in the worker thread cancelled (the engine stopping) keeps the write lock this long at
# most for its thread
TURN_KEPT_AFTER_CANCEL_S = 1.0
# the path's connection never checkpoints the WAL itself (that fsyncs, on the loop's thread): the
# worker thread does, PASSIVE (never waiting for readers or writers), at most this often while
# the path writes. The other connections keep SQLite's own automatic checkpoints.
CHECKPOINT_EVERY_S = 1.0


class LookupPath(Protocol):
    async def match_caller(self, caller: CallerId, ctx: AuditContext) -> CallerMatch: ...

    async def run(
        self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`fn(conn, *args)` in one transaction; its result."""
        ...

    async def aclose(self) -> None: ...


def open_lookup_path(engine: AsyncEngine) -> LookupPath:
    """The look-up path for the database behind `engine` (which stays the caller's to dispose)."""
    if engine.dialect.name == "sqlite":
        return SqliteLookupPath(engine)
    if engine.dialect.name == "postgresql":
        return PostgresLookupPath(engine)
    raise ValueError(f"unsupported database dialect {engine.dialect.name!r}")


@dataclass(slots=True)
class _Job:
    """One unit of work for the SQLite worker, in a transaction of its own: `work(conn)` on a
    SQLAlchemy connection, or with `raw` on the sqlite3 connection itself."""

    work: Callable[[Any], Any]
    done: asyncio.Future[Any]
    raw: bool = False


class SqliteLookupPath:
    def __init__(self, engine: AsyncEngine) -> None:
        self._gate = engine
        database = engine.url.database
        if not database or database == ":memory:":
            # a second connection would open a second, empty in-memory database
            raise ValueError("the SQLite look-up path needs a database file, not :memory:")
        self._database = database
        self._engine = sa.create_engine(
            engine.url.set(drivername="sqlite+pysqlite"),
            pool_size=1,
            max_overflow=0,
            pool_timeout=SQLITE_POOL_TIMEOUT_S,
            # used on the loop's thread and, for a turn that must wait, on the worker thread:
            # by one turn at a time (`_work`), never by two threads at once
            connect_args={"check_same_thread": False},
        )
        sa.event.listen(self._engine, "connect", sqlite_on_connect)
        sa.event.listen(self._engine, "connect", _never_wait_nor_checkpoint)
        sa.event.listen(self._engine, "begin", sqlite_on_begin)
        # one thread, for the turns that wait for the write lock and for checkpoints
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hotline-lookup")
        self._caller_match = SqliteCallerMatch(self._engine.dialect)
        self._queue: deque[_Job] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._checkpoint: asyncio.Future[None] | None = None
        self._checkpointed_at = 0.0
        self._checkpointer: sqlite3.Connection | None = None
        # turns taken (each one wait for the main connection), and of them those handed to the
        # worker thread because another process held the write lock
        self.turns = 0
        self.waited_turns = 0

    async def run(
        self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        def in_transaction(conn: sa.Connection) -> T:
            with conn.begin():
                return fn(conn, *args, **kwargs)

        result: T = await self._submit(in_transaction)
        return result

    async def match_caller(self, caller: CallerId, ctx: AuditContext) -> CallerMatch:
        def match(conn: sqlite3.Connection) -> CallerMatch:
            return self._caller_match.run(conn, caller, ctx, datetime.now(UTC))

        result: CallerMatch = await self._submit(match, raw=True)
        return result

    def _submit(self, work: Callable[[Any], Any], *, raw: bool = False) -> asyncio.Future[Any]:
        """Queue `work` for the next turn. Cancelling the returned future before its turn
        drops the job (a look-up nobody waits for writes no audit row); once its turn has it,
        it runs to its end."""
        loop = asyncio.get_running_loop()
        job = _Job(work, loop.create_future(), raw)
        self._queue.append(job)
        if self._worker is None:
            self._worker = loop.create_task(self._work(), name="sqlite-lookup-path")
        return job.done

    async def _work(self) -> None:
        try:
            while self._queue:
                # the main engine's only connection, taken but unused, is the turn to write
                # (module doc); given back after every turn, so its other users get in
                turn = await self._gate.raw_connection()
                try:
                    await self._turn()
                finally:
                    # back to the pool as it came (the engine resets nothing on return)
                    turn.close()
                # the pool hands a returned connection to whoever takes it first, not to the
                # task it woke: let that task run before asking again, or it waits for ever
                await asyncio.sleep(0)
        except BaseException as exc:
            # no turn to be had (or the loop is closing): nobody queued gets an answer
            for job in self._queue:
                if not job.done.done():
                    job.done.set_exception(exc)
            self._queue.clear()
            if not isinstance(exc, Exception):
                raise
        finally:
            self._worker = None

    async def _turn(self) -> None:
        jobs = self._take()
        if not jobs:
            return
        self.turns += 1
        outcomes = self._run_jobs(jobs, waiting=False)
        if len(outcomes) < len(jobs):
            # the write lock is another process's: the rest of the turn waits for it in the
            # thread, as long as SQLite's busy timeout, while the calls go on
            self.waited_turns += 1
            outcomes += await self._in_thread(jobs[len(outcomes) :])
        _settle(jobs, outcomes)
        self._checkpoint_now_and_then()

    async def _in_thread(self, jobs: list[_Job]) -> list[tuple[bool, Any]]:
        loop = asyncio.get_running_loop()
        done = loop.run_in_executor(self._thread, self._run_jobs, jobs, True)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            # the thread finishes its transactions anyway: keep the turn until it has (an
            # async writer would otherwise poll for the lock), but not for ever
            await asyncio.wait({done}, timeout=TURN_KEPT_AFTER_CANCEL_S)
            raise

    def _take(self) -> list[_Job]:
        jobs: list[_Job] = []
        while self._queue and len(jobs) < JOBS_PER_TURN:
            job = self._queue.popleft()
            if not job.done.done():
                jobs.append(job)
        return jobs

    def _run_jobs(self, jobs: list[_Job], waiting: bool) -> list[tuple[bool, Any]]:
        """Each job in turn; its result or error. Not `waiting` (on the loop's thread): stops
        before the first job that found the write lock held (it wrote nothing)."""
        if waiting:
            self._set_busy_timeout(SQLITE_BUSY_TIMEOUT_MS)
        outcomes: list[tuple[bool, Any]] = []
        try:
            for job in jobs:
                try:
                    outcomes.append((True, self._run_job(job)))
                except Exception as exc:
                    if not waiting and _is_busy(exc):
                        break
                    outcomes.append((False, exc))
        finally:
            if waiting:
                self._set_busy_timeout(0)
        return outcomes

    def _run_job(self, job: _Job) -> Any:
        if not job.raw:
            with self._engine.connect() as conn:
                return job.work(conn)
        raw = self._engine.raw_connection()
        try:
            return job.work(_driver(raw))
        finally:
            raw.close()

    def _set_busy_timeout(self, ms: int) -> None:
        raw = self._engine.raw_connection()
        try:
            _driver(raw).execute(f"PRAGMA busy_timeout={ms}")
        finally:
            raw.close()

    def _checkpoint_now_and_then(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._checkpointed_at < CHECKPOINT_EVERY_S:
            return
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        self._checkpointed_at = now
        self._checkpoint = loop.run_in_executor(self._thread, self._checkpoint_wal)

    def _checkpoint_wal(self) -> None:
        """In the worker thread: a PASSIVE checkpoint (it copies what no reader still needs and
        waits for nobody), on a connection of its own."""
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(
                self._database, isolation_level=None, check_same_thread=False
            )
        try:
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            # the next one tries again; the other connections still checkpoint on their own
            log.warning("WAL checkpoint failed (%s)", type(exc).__name__)

    async def checkpointed(self) -> None:
        """Wait for the checkpoint under way, if there is one."""
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._checkpoint)

    async def aclose(self) -> None:
        if self._worker is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._worker)
        loop = asyncio.get_running_loop()
        await self.checkpointed()
        await loop.run_in_executor(self._thread, self._close_connections)
        self._thread.shutdown(wait=True)

    def _close_connections(self) -> None:
        self._engine.dispose()
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None


def _never_wait_nor_checkpoint(dbapi_conn: Any, _record: Any) -> None:
    # on the loop's thread this connection must not wait for a lock (a turn that would is handed
    # to the worker thread) nor fsync a checkpoint (the worker thread does)
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _driver(raw: Any) -> sqlite3.Connection:
    driver = raw.driver_connection
    if not isinstance(driver, sqlite3.Connection):  # pragma: no cover - pysqlite's own
        raise TypeError(f"not a sqlite3 connection: {driver!r}")
    return driver


def _is_busy(exc: BaseException) -> bool:
    """SQLite said SQLITE_BUSY (another connection holds the lock): nothing was written."""
    error = exc.orig if isinstance(exc, DBAPIError) else exc
    return (
        isinstance(error, sqlite3.Error) and (error.sqlite_errorcode & 0xFF) == sqlite3.SQLITE_BUSY
    )


def _settle(jobs: list[_Job], outcomes: list[tuple[bool, Any]]) -> None:
    for job, (ok, value) in zip(jobs, outcomes, strict=True):
        if job.done.done():
            continue  # its caller stopped waiting
        if ok:
            job.done.set_result(value)
        else:
            job.done.set_exception(value)


class SqliteCallerMatch:
    """`accounts.match_caller` on a sqlite3 connection's own cursor, in its own transaction.

    The statements are SQLAlchemy's (`BY_PHONE`, the audit insert), compiled once for the dialect;
    values go through the same bind and result processors SQLAlchemy would apply (the audit
    time, `overdue_since`), so rows read and written are the same as through `sa.Connection`.
    A driver error comes out as SQLAlchemy's wrapper of it (`DBAPIError.instance`), as there.
    """

    def __init__(self, dialect: sa.Dialect) -> None:
        select = BY_PHONE.compile(dialect=dialect)
        self._select_sql = select.string
        # the CASE ordering's literals are bound parameters too; only the number changes
        fixed = select.construct_params({"e164": ""})
        self._select_params = [(name, fixed[name]) for name in select.positiontup or ()]
        self._result = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in BY_PHONE.selected_columns
        ]
        insert = sa.insert(audit_log).compile(dialect=dialect, column_keys=list(_AUDIT_COLUMNS))
        self._insert_sql = insert.string
        self._insert_order = list(insert.positiontup or ())
        self._bind = {
            name: audit_log.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self._insert_order
        }

    def run(
        self, conn: sqlite3.Connection, caller: CallerId, ctx: AuditContext, at: datetime
    ) -> CallerMatch:
        cursor = conn.cursor()
        statement: str = "BEGIN IMMEDIATE"
        params: tuple[object, ...] = ()
        try:
            cursor.execute(statement)
            found: tuple[Account, ...] = ()
            if caller.e164 is not None:
                statement = self._select_sql
                params = tuple(
                    caller.e164 if name == "e164" else value for name, value in self._select_params
                )
                cursor.execute(statement, params)
                found = accounts_from_phone_rows(self._rows(cursor))
            statement = self._insert_sql
            rows = audit_rows(ctx, "lookup_caller", [a.id for a in found] or [None], at)
            cursor.executemany(statement, [self._bound(row) for row in rows])
            statement, params = "COMMIT", ()
            cursor.execute(statement)
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise DBAPIError.instance(
                    statement, params, exc, sqlite3.Error, hide_parameters=True
                ) from exc
            raise
        finally:
            cursor.close()
        return caller_match(caller, found)

    def _rows(self, cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
        names = [d[0] for d in cursor.description]
        procs = self._result
        return [
            {
                name: value if proc is None else proc(value)
                for name, proc, value in zip(names, procs, row, strict=True)
            }
            for row in cursor.fetchall()
        ]

    def _bound(self, row: dict[str, object]) -> tuple[object, ...]:
        out = []
        for name in self._insert_order:
            proc = self._bind[name]
            out.append(row[name] if proc is None else proc(row[name]))
        return tuple(out)


_AUDIT_COLUMNS = ("at", "actor", "account_id", "action", "reason", "call_id")


# The caller-ID match with its audit rows in one statement: one row per matched account, or one
# row without an account when nobody matched. PostgreSQL runs a data-modifying CTE exactly once
# whether or not the outer query reads it.
_MATCHED_IDS = (
    sa.select(MATCHED_PHONE.c.account_id)
    .where(MATCHED_PHONE.c.e164 == sa.bindparam("e164"))
    .distinct()
    .cte("matched_ids")
)
_AUDITED_IDS = sa.union_all(
    sa.select(_MATCHED_IDS.c.account_id),
    sa.select(sa.cast(sa.null(), sa.Integer).label("account_id")).where(
        ~sa.exists().select_from(_MATCHED_IDS)
    ),
).subquery("audited_ids")
_AUDIT_MATCH = (
    sa.insert(audit_log)
    .from_select(
        ["at", "actor", "account_id", "action", "reason", "call_id"],
        sa.select(
            sa.bindparam("at", type_=audit_log.c.at.type),
            sa.bindparam("actor", type_=audit_log.c.actor.type),
            _AUDITED_IDS.c.account_id,
            sa.literal("lookup_caller", audit_log.c.action.type),
            sa.bindparam("reason", type_=audit_log.c.reason.type),
            sa.bindparam("call_id", type_=audit_log.c.call_id.type),
        ),
    )
    .cte("audit")
)
MATCH_AND_AUDIT = BY_PHONE.add_cte(_MATCHED_IDS).add_cte(_AUDIT_MATCH)


class PostgresLookupPath:
    def __init__(self, engine: AsyncEngine) -> None:
        self._main = engine
        self._fast = create_async_engine(
            engine.url, isolation_level="AUTOCOMMIT", pool_pre_ping=False, hide_parameters=True
        )

    async def _once_more_if_dropped(self, attempt: Callable[[], Awaitable[T]]) -> T:
        try:
            return await attempt()
        except DBAPIError as exc:
            # the pool has discarded the dead connection(s); the next attempt opens a new one
            if not exc.connection_invalidated:
                raise
        return await attempt()

    async def match_caller(self, caller: CallerId, ctx: AuditContext) -> CallerMatch:
        at = datetime.now(UTC)
        if caller.e164 is None:
            row = audit_rows(ctx, "lookup_caller", [None], at)

            async def audit_only() -> None:
                async with self._fast.connect() as conn:
                    await conn.execute(sa.insert(audit_log), row)

            await self._once_more_if_dropped(audit_only)
            return caller_match(caller, ())
        params: dict[str, Any] = {
            "e164": caller.e164,
            "at": at,
            "actor": ctx.actor[:100],
            "reason": ctx.reason[:200],
            "call_id": ctx.call_id,
        }

        async def match() -> list[sa.RowMapping]:
            async with self._fast.connect() as conn:
                return list((await conn.execute(MATCH_AND_AUDIT, params)).mappings())

        rows = await self._once_more_if_dropped(match)
        return caller_match(caller, accounts_from_phone_rows(rows))

    async def run(
        self, fn: Callable[Concatenate[sa.Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        async with self._main.begin() as conn:
            return await conn.run_sync(fn, *args, **kwargs)

    async def aclose(self) -> None:
        await self._fast.dispose()
