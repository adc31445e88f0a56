"""`DbCallMemory`: the calls' restart state (flow state, queue place, conversation) in the
`call_memory` table, written in batches (`ivr.calls.memory.CallMemory`).

A call takes a step every few seconds and keeps its state after each one; at a peak that is
hundreds of small writes a second, which SQLite (one writer) would serialise one transaction at a
time. So `keep` returns at once and a writer task commits everything kept during the last
`FLUSH_INTERVAL_S` in ONE transaction (the newest value per call and key wins): a few
transactions a second however many calls run. `keep_durably` waits for its batch to commit.
`aclose` writes what is left, so a normal stop loses nothing; a SIGKILL loses at most the last
interval (the re-adopted call then resumes one step earlier). A database that fails is retried
every `RETRY_S`, keeping the newest values; callers never wait on it longer than
`DURABLE_WRITE_TIMEOUT_S`.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.batching import CLOSE_TIMEOUT_S, BatchLoop
from ivr.store.driver import DriverStatement, sqlite_driver
from ivr.store.tables import call_memory

if TYPE_CHECKING:
    from ivr.store.lookup_path import LookupPath

log = logging.getLogger(__name__)

# what a SIGKILL may lose at most; also how long a durable write waits for its batch to start
FLUSH_INTERVAL_S = 0.05
# a failed batch is tried again after this long (the database restarting, a lock held)
RETRY_S = 1.0
# `keep_durably` gives up waiting after this long: the call goes on; the write is still retried
DURABLE_WRITE_TIMEOUT_S = 2.0


class DbCallMemory:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        interval_s: float = FLUSH_INTERVAL_S,
        writes: LookupPath | None = None,
    ) -> None:
        self._engine = engine
        # where the batches are written: the look-up path's one transaction (on SQLite one hop
        # to its worker thread for the whole batch, instead of one aiosqlite hop per statement
        # and for BEGIN and COMMIT: 2.2 -> 0.95 ms of CPU per batch), or `engine` itself
        self._writes = writes
        # call id -> key -> value, not yet written
        self._pending: dict[str, dict[str, str]] = {}
        # calls whose rows are to be deleted (before the batch's upserts)
        self._forgotten: set[str] = set()
        self._loop = BatchLoop(
            "call-memory",
            self._write_batch,
            lambda: bool(self._pending or self._forgotten),
            interval_s=interval_s,
            retry_s=RETRY_S,
        )

    @property
    def batches(self) -> int:
        return self._loop.batches

    @property
    def failed_batches(self) -> int:
        return self._loop.failed_batches

    def start(self) -> None:
        self._loop.start()

    async def aclose(self) -> None:
        """Write what is still pending, then stop the writer."""
        await self._loop.aclose()

    # ------------------------------------------------------------------ the port

    def keep(self, call_id: str, key: str, value: str) -> None:
        self._pending.setdefault(call_id, {})[key] = value
        self._loop.poke()

    async def keep_durably(self, call_id: str, key: str, value: str) -> None:
        self.keep(call_id, key, value)
        if not await self._loop.stored(DURABLE_WRITE_TIMEOUT_S):
            log.warning("call state not yet stored; the call goes on, the write is retried")

    async def flush(self) -> None:
        if not await self._loop.stored(CLOSE_TIMEOUT_S):
            log.error("call state not stored on stop: the database did not answer")

    async def recall(self, call_id: str, key: str) -> str:
        pending = self._pending.get(call_id, {})
        if key in pending:
            return pending[key]
        if call_id in self._forgotten:
            return ""
        async with self._engine.connect() as conn:
            value = (
                await conn.execute(
                    sa.select(call_memory.c.value).where(
                        call_memory.c.call_id == call_id, call_memory.c.key == key
                    )
                )
            ).scalar_one_or_none()
        return value or ""

    def forget(self, call_id: str) -> None:
        self._pending.pop(call_id, None)
        self._forgotten.add(call_id)
        self._loop.poke()

    async def forget_all_but(self, call_ids: Iterable[str]) -> int:
        present = set(call_ids)
        async with self._engine.connect() as conn:
            kept = (await conn.execute(sa.select(call_memory.c.call_id).distinct())).scalars()
            gone = {c for c in kept if c not in present and c not in self._pending}
        self._forgotten |= gone
        if gone:
            self._loop.poke()
        return len(gone)

    # ------------------------------------------------------------------ the writer

    async def _write_batch(self) -> bool:
        pending, self._pending = self._pending, {}
        forgotten, self._forgotten = self._forgotten, set()
        now = datetime.now(UTC)
        rows = [
            {"call_id": call_id, "key": key, "value": value, "updated_at": now}
            for call_id, values in pending.items()
            for key, value in values.items()
        ]
        try:
            if self._writes is not None:
                await self._writes.run(_write_rows, forgotten, rows)
            else:
                async with self._engine.begin() as conn:
                    await conn.run_sync(_write_rows, forgotten, rows)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("call state batch not written (%s); retrying", type(exc).__name__)
            self._merge_back(pending, forgotten)
            return False
        return True

    def _merge_back(self, pending: dict[str, dict[str, str]], forgotten: set[str]) -> None:
        # what was kept since the batch was taken is newer and wins
        for call_id, values in pending.items():
            if call_id in self._forgotten:
                continue
            newer = self._pending.setdefault(call_id, {})
            for key, value in values.items():
                newer.setdefault(key, value)
        self._forgotten |= forgotten


def _write_rows(conn: sa.Connection, forgotten: set[str], rows: list[dict[str, Any]]) -> None:
    """One batch in the caller's transaction: the forgotten calls' rows go before the upserts."""
    driver = sqlite_driver(conn)
    if driver is not None:
        _write_on_driver(driver.cursor(), forgotten, rows)
        return
    if forgotten:
        conn.execute(sa.delete(call_memory).where(call_memory.c.call_id.in_(sorted(forgotten))))
    if rows:
        conn.execute(_upsert(conn.dialect.name), rows)


def _write_on_driver(
    cursor: sqlite3.Cursor, forgotten: set[str], rows: list[dict[str, Any]]
) -> None:
    """`_write_rows` on the sqlite3 cursor: the same statements and rows (ivr.store.driver)."""
    delete, upsert = _sqlite_statements()
    try:
        if forgotten:
            delete.execute(cursor, {"ids": sorted(forgotten)})
        if rows:
            upsert.executemany(cursor, rows)
    finally:
        cursor.close()


@functools.cache
def _sqlite_statements() -> tuple[DriverStatement, DriverStatement]:
    dialect = sqlite.dialect()
    ids = sa.func.json_each(sa.bindparam("ids", type_=sa.JSON)).table_valued("value")
    delete = sa.delete(call_memory).where(call_memory.c.call_id.in_(sa.select(ids.c.value)))
    return DriverStatement(delete, dialect), DriverStatement(_upsert("sqlite"), dialect)


def _upsert(dialect: str) -> Any:
    # built once per dialect: building it and its cache key cost ~0.2 ms, in every batch
    stmt = _UPSERTS.get(dialect)
    if stmt is None:
        insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
        new = insert(call_memory)
        stmt = _UPSERTS[dialect] = new.on_conflict_do_update(
            index_elements=[call_memory.c.call_id, call_memory.c.key],
            set_={"value": new.excluded.value, "updated_at": new.excluded.updated_at},
        )
    return stmt


_UPSERTS: dict[str, Any] = {}
