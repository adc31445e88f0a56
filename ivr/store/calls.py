"""The append-only contact trail: one `calls` row per call, `call_events` appended as it goes.

Reports and the wallboard are computed from these rows, so nothing here updates or deletes an
event; the call row itself only gets its end time, account and reason code filled in. The engine
hands over trail entries as they happen (`CallOpened`, `TrailEvent`, `AccountMatched`,
`CallClosed`), each with its own time, and `CallLog.append_many` writes a batch of them, of many
calls, in one transaction, in the order they were handed over.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.callerid import CallerId
from ivr.store.driver import DriverStatement, sqlite_driver
from ivr.store.tables import accounts, call_events, calls

KIND_MAX = 32
# the call row of a call whose opening this engine never saw (a trail entry of a call that an
# engine of before the streamed trail started): its caller is not known here
UNKNOWN_CALLER_KIND = "unknown"

if TYPE_CHECKING:
    from ivr.store.lookup_path import LookupPath


@dataclass(frozen=True, slots=True)
class CallEvent:
    id: int
    call_id: str
    at: datetime
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CallOpened:
    """A call session began: the call row is created unless an earlier engine created it (the
    call was re-adopted), with an ``entered_ivr`` event at `at`."""

    call_id: str
    caller: CallerId
    at: datetime


@dataclass(frozen=True, slots=True)
class TrailEvent:
    call_id: str
    kind: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AccountMatched:
    """The caller was recognised as the holder of `customer_number` (by caller ID or by the
    number they keyed): the call row gets the account, the trail an ``account_matched`` event
    saying how (the number itself is not copied into the trail)."""

    call_id: str
    customer_number: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallClosed:
    """A session ended: ``ended`` (the call is over) or, `ended` False, ``detached`` (the engine
    left the call in Asterisk for the next engine). `caller` and `started_at` create the call row
    if no `CallOpened` of this call was ever written."""

    call_id: str
    at: datetime
    ended: bool
    reason_code: str | None
    caller: CallerId
    started_at: datetime


TrailEntry = CallOpened | TrailEvent | AccountMatched | CallClosed


class CallLog:
    def __init__(self, engine: AsyncEngine, *, writes: LookupPath | None = None) -> None:
        self._engine = engine
        # where `append_many` writes (the call recorder's batches): the look-up path's one
        # transaction, on SQLite one hop for the whole batch (see `DbCallMemory`), or `engine`
        self._writes = writes

    async def append_many(self, entries: Sequence[TrailEntry]) -> None:
        """Several calls' entries in ONE transaction (a handful of statements however many),
        events in the order given."""
        if not entries:
            return
        if self._writes is not None:
            await self._writes.run(_append_entries, entries)
        else:
            async with self._engine.begin() as conn:
                await conn.run_sync(_append_entries, entries)

    async def events(self, call_id: str) -> list[CallEvent]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(call_events)
                    .where(call_events.c.call_id == call_id)
                    .order_by(call_events.c.id)
                )
            ).mappings()
            return [CallEvent(**dict(r)) for r in rows]


def _append_entries(conn: sa.Connection, entries: Sequence[TrailEntry]) -> None:
    """`CallLog.append_many` in the caller's transaction."""
    ids = sorted({e.call_id for e in entries})
    driver = sqlite_driver(conn)
    if driver is not None:
        _append_on_driver(driver.cursor(), ids, entries)
        return
    known = set((conn.execute(sa.select(calls.c.id).where(calls.c.id.in_(ids)))).scalars())
    rows = _TrailRows()
    for e in entries:
        rows.add(e, known)
    if rows.new_calls:
        conn.execute(sa.insert(calls), rows.new_calls)
    if rows.events:
        conn.execute(sa.insert(call_events), rows.events)
    if rows.matches:
        _write_matches(conn, rows.matches)
    if rows.closes:
        _write_closes(conn, rows.closes)


def _append_on_driver(
    cursor: sqlite3.Cursor, ids: list[str], entries: Sequence[TrailEntry]
) -> None:
    """`_append_entries` on the sqlite3 cursor: the same statements and rows (ivr.store.driver)."""
    sql = _sqlite_trail()
    try:
        known = {row[0] for row in sql.known.execute(cursor, {"ids": ids})}
        rows = _TrailRows()
        for e in entries:
            rows.add(e, known)
        if rows.new_calls:
            sql.new_call.executemany(cursor, rows.new_calls)
        if rows.events:
            sql.event.executemany(cursor, rows.events)
        if rows.matches:
            sql.match.executemany(cursor, rows.matches)
        if rows.closes:
            sql.close.executemany(cursor, rows.closes)
    finally:
        cursor.close()


@dataclass(frozen=True)
class _TrailStatements:
    known: DriverStatement
    new_call: DriverStatement
    event: DriverStatement
    match: DriverStatement
    close: DriverStatement


@functools.cache
def _sqlite_trail() -> _TrailStatements:
    dialect = sqlite.dialect()
    ids = sa.func.json_each(sa.bindparam("ids", type_=sa.JSON)).table_valued("value")
    return _TrailStatements(
        known=DriverStatement(
            sa.select(calls.c.id).where(calls.c.id.in_(sa.select(ids.c.value))), dialect
        ),
        new_call=DriverStatement(sa.insert(calls), dialect, _CALL_COLUMNS),
        event=DriverStatement(sa.insert(call_events), dialect, _EVENT_COLUMNS),
        match=DriverStatement(_MATCH, dialect),
        close=DriverStatement(_CLOSE, dialect),
    )


@dataclass
class _TrailRows:
    """The rows and updates one batch of trail entries comes to."""

    new_calls: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    matches: list[dict[str, Any]] = field(default_factory=list)
    closes: list[dict[str, Any]] = field(default_factory=list)

    def add(self, e: TrailEntry, known: set[str]) -> None:
        if e.call_id not in known:
            known.add(e.call_id)
            self.new_calls.append(_call_row(e))
            if isinstance(e, CallOpened):
                self.events.append(_event(e.call_id, "entered_ivr", e.at))
        if isinstance(e, TrailEvent):
            self.events.append(_event(e.call_id, e.kind[:KIND_MAX], e.at, dict(e.data)))
        elif isinstance(e, AccountMatched):
            self.events.append(_event(e.call_id, "account_matched", e.at, {"by": e.by}))
            self.matches.append({"call": e.call_id, "number": e.customer_number})
        elif isinstance(e, CallClosed):
            self.events.append(_event(e.call_id, "ended" if e.ended else "detached", e.at))
            self.closes.append(
                {
                    "call": e.call_id,
                    "ended": e.at if e.ended else None,
                    "reason": e.reason_code[:KIND_MAX] if e.reason_code else None,
                }
            )


_MATCHED_ACCOUNT = (
    sa.select(accounts.c.id)
    .where(accounts.c.customer_number == sa.bindparam("number"))
    .scalar_subquery()
)
_MATCH = (
    sa.update(calls)
    .where(calls.c.id == sa.bindparam("call"))
    # a number that matches no account leaves what was there
    .values(account_id=sa.func.coalesce(_MATCHED_ACCOUNT, calls.c.account_id))
)
_CLOSE = (
    sa.update(calls)
    .where(calls.c.id == sa.bindparam("call"))
    .values(
        ended_at=sa.bindparam("ended", type_=calls.c.ended_at.type),
        # a session without an outcome keeps what an earlier engine wrote
        reason_code=sa.func.coalesce(
            sa.bindparam("reason", type_=calls.c.reason_code.type), calls.c.reason_code
        ),
    )
)
_CALL_COLUMNS = ("id", "caller_e164", "caller_kind", "started_at")
_EVENT_COLUMNS = ("call_id", "at", "kind", "data")


def _write_matches(conn: sa.Connection, matches: list[dict[str, Any]]) -> None:
    conn.execute(_MATCH, matches)


def _write_closes(conn: sa.Connection, closes: list[dict[str, Any]]) -> None:
    conn.execute(_CLOSE, closes)


def _call_row(entry: TrailEntry) -> dict[str, Any]:
    if isinstance(entry, CallOpened | CallClosed):
        caller = entry.caller
        started = entry.started_at if isinstance(entry, CallClosed) else entry.at
        return {
            "id": entry.call_id,
            "caller_e164": caller.e164,
            "caller_kind": str(caller.kind),
            "started_at": started,
        }
    return {
        "id": entry.call_id,
        "caller_e164": None,
        "caller_kind": UNKNOWN_CALLER_KIND,
        "started_at": entry.at,
    }


def _event(
    call_id: str, kind: str, at: datetime, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {"call_id": call_id, "at": at, "kind": kind, "data": data or {}}
