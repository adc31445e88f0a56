"""The leader lock: which of several engines on one PostgreSQL (and one Asterisk) acts on calls.

`hotline run` on PostgreSQL takes the lock before it builds the engine; `hotline run --standby`
waits for it, polling every `LeaderTiming.poll_s`, and takes over when the active engine dies.
The lock is a PostgreSQL *session* advisory lock held on a connection of its own, plus a
generation number in the one-row table `engine_leader`, raised by every engine that takes the
lock (with its host, pid and the time it took over, for `hotline status`).

Why an advisory lock and not a lease row renewed by the active engine: a killed process's
socket is closed by its kernel, PostgreSQL ends that session at once and the lock is free
within milliseconds; a lease would have to expire first, and the take-over would always cost
its whole length. What a lease gives for free, a bound on how long a cut-off engine may go on
acting, comes from fencing here:

- The active engine verifies, on the lock's own connection, every `check_s`, that its session
  still holds the lock and that the generation is still its own (`Leader.watch`). Its right to
  act (`Leader.holds`, checked by the supervisor before it handles any ARI event) lasts
  `valid_s` from the start of the last check that confirmed it; the ARI client asks it too
  before it sends any request (`AriClient.may_act`), so a session's own timer or a background
  job cannot act without it either. A check that fails, or that
  does not answer before that right runs out, ends the engine at once (`on_lost`: `hotline
  run` exits as if killed; the calls stay in Asterisk for the engine that has the lock).
- An engine that takes the lock touches no call until `valid_s` has passed (`settle`; it
  opens its database, flows and agents meanwhile, then connects the ARI application), so an
  engine that lost the lock without noticing (its database link cut) has stopped acting by
  then. PostgreSQL notices a dead peer itself only after its TCP keepalives and
  `tcp_user_timeout` (set on the lock's connection, `SERVER_SETTINGS`), seconds later still.

Two engines therefore never act on one call at once, without a generation check in every state
write: the checks happen where acting starts (the ARI events and requests), and the time bound
covers the rest. SQLite deployments have one engine and no lock.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ivr.errors import HotlineError
from ivr.store.migrate import migrate

log = logging.getLogger(__name__)

# the lock's session notices a dead engine's machine within ~4 s (keepalives when idle, the
# user timeout when a check's answer is not acknowledged)
SERVER_SETTINGS = {
    "application_name": "hotline-leader",
    "tcp_keepalives_idle": "2",
    "tcp_keepalives_interval": "1",
    "tcp_keepalives_count": "2",
    "tcp_user_timeout": "4000",
}


class AnotherEngineActive(HotlineError):
    """`hotline run` without --standby found the lock taken by another engine."""

    def __init__(self, holder: Holder | None) -> None:
        self.holder = holder
        who = describe(holder) if holder is not None else "another engine"
        super().__init__(f"{who} is active")


@dataclass(frozen=True)
class LeaderTiming:
    """How often the standby polls, how often the active engine checks its lock, and how long
    a confirmation lets it act (`valid_s`; also what a new leader waits before acting)."""

    poll_s: float = 0.2
    check_s: float = 0.4
    # longer than the event loop stalls at start (the collector's pass after building the
    # engine took 1.6 s on a loaded 2-core machine, and a confirmation overdue because of it
    # ended a healthy engine); a new leader's wait is mostly hidden by opening its data side
    valid_s: float = 2.5
    # the database away while waiting: the standby tries again after this
    retry_s: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.check_s < self.valid_s:
            raise ValueError("check_s must be shorter than valid_s")


@dataclass(frozen=True)
class Holder:
    """The engine that took the lock last: its generation, host, pid and since when; `held`
    says whether its session still holds the lock (False: it is gone and nobody took over)."""

    generation: int
    host: str
    pid: int
    since: datetime
    held: bool = True


def describe(holder: Holder) -> str:
    return (
        f"engine {holder.host} pid {holder.pid} (generation {holder.generation}, since "
        f"{holder.since.isoformat(timespec='seconds')})"
    )


class LeaderLock(Protocol):
    """The lock in the database (PostgreSQL's `PgLeaderLock`; unit tests use a fake)."""

    async def try_acquire(self) -> Holder | None:
        """Take the lock if it is free: the new generation (ours), else None."""
        ...

    async def verify(self, generation: int) -> bool:
        """Whether our session still holds the lock at `generation`; raises if it cannot
        tell (the connection is gone)."""
        ...

    async def holder(self) -> Holder | None:
        """Who took the lock last (None: nobody ever did)."""
        ...

    async def release(self) -> None: ...


class Leader:
    """Taking and keeping the leader lock (see the module docstring)."""

    def __init__(
        self,
        lock: LeaderLock,
        on_lost: Callable[[str], None],
        timing: LeaderTiming | None = None,
    ) -> None:
        self._lock = lock
        self._on_lost = on_lost
        self.timing = timing or LeaderTiming()
        self.generation: int | None = None
        self._taken_at = float("-inf")
        self._valid_until = float("-inf")
        #: set once `settle` confirmed the lock: the engine may touch calls from then on
        self.settled = asyncio.Event()

    def holds(self) -> bool:
        """Whether this engine may act on calls now."""
        return asyncio.get_running_loop().time() < self._valid_until

    async def acquire(self, *, wait: bool) -> Holder:
        """`take` the lock, then `settle`."""
        got = await self.take(wait=wait)
        await self.settle()
        return got

    async def take(self, *, wait: bool) -> Holder:
        """Take the lock (waiting for it if `wait`, else `AnotherEngineActive`). This engine
        may not act yet: `settle` first (what needs no calls can be opened meanwhile)."""
        waiting_for: int | None = None
        while True:
            try:
                got = await self._lock.try_acquire()
                if got is not None:
                    break
                if not wait:
                    raise AnotherEngineActive(await self._lock.holder())
                waiting_for = await self._note_waiting(waiting_for)
            except (sa.exc.SQLAlchemyError, OSError) as exc:
                if not wait:
                    raise
                log.warning("leader lock: database unavailable (%s)", type(exc).__name__)
                await asyncio.sleep(self.timing.retry_s)
                continue
            await asyncio.sleep(self.timing.poll_s)
        self.generation = got.generation
        self._taken_at = asyncio.get_running_loop().time()
        log.info("leader lock taken: generation %d", got.generation)
        return got

    async def settle(self) -> None:
        """Wait until `valid_s` has passed since the lock was taken (a cut-off former leader
        has stopped by then) and confirm the lock is still ours: from now on `holds`, for
        `valid_s` unless `watch` runs."""
        if self.generation is None:
            raise RuntimeError("the leader lock is not taken")
        loop = asyncio.get_running_loop()
        await asyncio.sleep(max(0.0, self._taken_at + self.timing.valid_s - loop.time()))
        started = loop.time()
        if not await self._lock.verify(self.generation):
            raise RuntimeError("the leader lock was lost while taking it")
        self._valid_until = started + self.timing.valid_s
        self.settled.set()

    async def _note_waiting(self, logged: int | None) -> int | None:
        """Log who is active, once per generation; the generation logged."""
        holder = await self._lock.holder()
        if holder is None or holder.generation == logged:
            return logged
        log.info("standby: waiting while %s is active", describe(holder))
        return holder.generation

    async def watch(self) -> None:
        """`settle` if not done yet, then confirm the lock every `check_s` until cancelled;
        on a failed or late check the right to act ends and `on_lost` is called (then this
        returns)."""
        if self.generation is None:
            raise RuntimeError("the leader lock is not taken")
        if not self.settled.is_set():
            try:
                await self.settle()
            except (RuntimeError, sa.exc.SQLAlchemyError, OSError) as exc:
                self._lost(f"the lock could not be confirmed after taking it ({exc})")
                return
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            reason = await self._check(self.generation)
            if reason is not None:
                self._lost(reason)
                return
            self._valid_until = started + self.timing.valid_s
            await asyncio.sleep(self.timing.check_s)

    def _lost(self, reason: str) -> None:
        self._valid_until = float("-inf")
        log.critical("leader lock lost: %s; this engine stops acting", reason)
        self._on_lost(reason)

    async def _check(self, generation: int) -> str | None:
        """None if the lock is confirmed in time, else why not."""
        try:
            async with asyncio.timeout_at(self._valid_until):
                confirmed = await self._lock.verify(generation)
        except TimeoutError:
            return "the database did not confirm the lock in time"
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            return f"the lock's connection failed ({type(exc).__name__})"
        if not confirmed:
            return "another engine holds the lock"
        return None

    async def release(self) -> None:
        """Give the lock up (a clean stop: the standby takes over at once)."""
        self._valid_until = float("-inf")
        self.generation = None
        self.settled.clear()
        await self._lock.release()


# ---------------------------------------------------------------------------- PostgreSQL

# the lock is pg_advisory_lock(int4, int4) on ("HTLN" = 0x48544C4E, 1: the leader's slot);
# pg_locks shows such a lock as classid and objid with objsubid 2
_TRY = sa.text("SELECT pg_try_advisory_lock(1213484110, 1)")
_UNLOCK = sa.text("SELECT pg_advisory_unlock(1213484110, 1)")
_TAKE = sa.text(
    "INSERT INTO engine_leader (id, generation, host, pid, since)"
    " VALUES (1, 1, :host, :pid, now() AT TIME ZONE 'UTC')"
    " ON CONFLICT (id) DO UPDATE SET generation = engine_leader.generation + 1,"
    " host = excluded.host, pid = excluded.pid, since = excluded.since"
    " RETURNING generation, host, pid, since"
)
_VERIFY = sa.text(
    "SELECT generation FROM engine_leader WHERE id = 1 AND EXISTS (SELECT 1 FROM pg_locks"
    " WHERE locktype = 'advisory' AND granted AND classid = 1213484110 AND objid = 1"
    " AND objsubid = 2 AND pid = pg_backend_pid())"
)
_HOLDER = sa.text(
    "SELECT generation, host, pid, since, EXISTS (SELECT 1 FROM pg_locks"
    " WHERE locktype = 'advisory' AND granted AND classid = 1213484110 AND objid = 1"
    " AND objsubid = 2) AS held FROM engine_leader WHERE id = 1"
)


class PgLeaderLock:
    """The leader lock in PostgreSQL, on a connection of its own (autocommit)."""

    def __init__(self, url: str, *, host: str | None = None, pid: int | None = None) -> None:
        self._db: AsyncEngine = create_async_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"server_settings": SERVER_SETTINGS},
        )
        self._url = url
        self.host = host or socket.gethostname()
        self.pid = pid if pid is not None else os.getpid()
        self._conn: AsyncConnection | None = None

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await self._db.connect()
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except (sa.exc.SQLAlchemyError, OSError):
                await conn.invalidate()

    async def try_acquire(self) -> Holder | None:
        conn = await self._connection()
        try:
            if not (await conn.execute(_TRY)).scalar_one():
                return None
            row = await self._take(conn)
        except (sa.exc.SQLAlchemyError, OSError):
            await self._drop()
            raise
        return Holder(int(row.generation), str(row.host), int(row.pid), _utc(row.since))

    async def _take(self, conn: AsyncConnection) -> sa.Row[Any]:
        """Raise the generation (under the lock); on a database not migrated yet, migrate
        first: two engines started at once on a new database migrate in turn."""
        params = {"host": self.host, "pid": self.pid}
        try:
            return (await conn.execute(_TAKE, params)).one()
        except sa.exc.ProgrammingError:
            await migrate(self._url)
        return (await conn.execute(_TAKE, params)).one()

    async def verify(self, generation: int) -> bool:
        if self._conn is None:
            return False
        found = (await self._conn.execute(_VERIFY)).scalar_one_or_none()
        return found == generation

    async def holder(self) -> Holder | None:
        try:
            return await read_holder(await self._connection())
        except sa.exc.ProgrammingError:
            # no engine_leader table yet: the engine that has the lock is migrating
            await self._drop()
            return None

    async def release(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.execute(_UNLOCK)
            except (sa.exc.SQLAlchemyError, OSError):
                log.warning("leader lock: could not unlock; closing its session frees it")
            await self._drop()
        await self._db.dispose()


async def read_holder(conn: AsyncConnection) -> Holder | None:
    """Who took the lock last, and whether their session still holds it (`hotline status`)."""
    row = (await conn.execute(_HOLDER)).one_or_none()
    if row is None:
        return None
    return Holder(int(row.generation), str(row.host), int(row.pid), _utc(row.since), bool(row.held))


def _utc(naive: datetime) -> datetime:
    return naive.replace(tzinfo=UTC)
