"""The reports' roll-up, kept up to date from the trail: `refresh` reads what the call and
agent trails gained since its last run and rewrites the `report_contacts` rows of those calls
and the `report_agent_spans` of those agents.

Why a roll-up: a year is about a million calls and ten million trail events; grouping a million
narrow rows by interval takes PostgreSQL well under a second, reducing ten million events per
call does not. The roll-up is derived data: emptying its tables (`rebuild`) and refreshing
gives the same rows again.

What counts as new: trail rows with an id above the last one read (`report_progress`). A call
is rolled up once it has ended (its row's `ended_at`), or when it has said nothing for
`stale_after_s` (an engine killed and the call never re-adopted): a call detached by one engine
and re-adopted by the next is rolled up when it finally ends, as one contact. An event that comes
after the call ended (a callback that fails hours later) rolls the call up again. One writer
at a time: on PostgreSQL a transaction-level advisory lock, on SQLite the write lock that every
transaction takes (`ivr.store.db`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import TOKYO
from ivr.reports.contacts import CallRow, TrailItem, contact_of, tokyo_slot
from ivr.store.tables import (
    agent_events,
    call_events,
    calls,
    report_agent_spans,
    report_contacts,
    report_progress,
)

# trail events read per transaction, and calls rolled up per statement
WINDOW = 50_000
CHUNK = 2000
# agent events read per transaction
AGENT_CHUNK = 20_000
# a PostgreSQL advisory lock key of our own ("report" in ASCII)
_LOCK_KEY = 0x7265706F7274
CALLS_PROGRESS = "call_events"
AGENTS_PROGRESS = "agent_events"
# how long a call that has not ended may stay silent before it is rolled up as unfinished
STALE_AFTER_S = 6 * 3600


@dataclass(frozen=True, slots=True)
class Refreshed:
    calls: int
    agent_events: int


async def refresh(
    engine: AsyncEngine,
    is_open: Callable[[datetime], bool],
    now: datetime,
    *,
    stale_after_s: float = STALE_AFTER_S,
) -> Refreshed:
    """Bring the roll-up up to date with the trail; how many calls and agent events it read."""
    rolled = await _refresh_calls(engine, is_open, now - timedelta(seconds=stale_after_s))
    spans = await _refresh_agents(engine)
    return Refreshed(rolled, spans)


async def rebuild(engine: AsyncEngine) -> None:
    """Empty the roll-up: the next `refresh` reads the whole trail again."""
    async with engine.begin() as conn:
        for table in (report_contacts, report_agent_spans, report_progress):
            await conn.execute(sa.delete(table))


def _progress(conn: sa.Connection, name: str) -> int:
    value = conn.execute(
        sa.select(report_progress.c.last_id).where(report_progress.c.name == name)
    ).scalar()
    return int(value or 0)


def _set_progress(conn: sa.Connection, name: str, last_id: int) -> None:
    done = conn.execute(
        sa.update(report_progress).where(report_progress.c.name == name).values(last_id=last_id)
    )
    if done.rowcount == 0:
        conn.execute(sa.insert(report_progress).values(name=name, last_id=last_id))


async def _refresh_calls(
    engine: AsyncEngine, is_open: Callable[[datetime], bool], stale_before: datetime
) -> int:
    """Window by window of `WINDOW` trail events, one transaction each (a first roll-up of a
    year never holds SQLite's write lock for long)."""
    rolled = 0
    while True:
        async with engine.begin() as conn:
            got, more = await conn.run_sync(_roll_window, is_open, stale_before)
        rolled += got
        if not more:
            break
    async with engine.begin() as conn:
        rolled += await conn.run_sync(_roll_stale, is_open, stale_before)
    return rolled


def _roll_window(
    conn: sa.Connection, is_open: Callable[[datetime], bool], stale_before: datetime
) -> tuple[int, bool]:
    _lock_sync(conn)
    last = _progress(conn, CALLS_PROGRESS)
    top = conn.execute(sa.select(sa.func.max(call_events.c.id))).scalar()
    if top is None or top <= last:
        return 0, False
    upto = min(int(top), last + WINDOW)
    touched = conn.execute(
        sa.select(call_events.c.call_id)
        .where(call_events.c.id > last, call_events.c.id <= upto)
        .distinct()
    ).scalars()
    rolled = _roll_ids(conn, sorted(set(touched)), is_open, stale_before)
    _set_progress(conn, CALLS_PROGRESS, upto)
    return rolled, upto < top


def _roll_stale(
    conn: sa.Connection, is_open: Callable[[datetime], bool], stale_before: datetime
) -> int:
    _lock_sync(conn)
    return _roll_ids(conn, sorted(_stale_calls(conn, stale_before)), is_open, stale_before)


def _roll_ids(
    conn: sa.Connection,
    ids: Sequence[str],
    is_open: Callable[[datetime], bool],
    stale_before: datetime,
) -> int:
    rolled = 0
    for start in range(0, len(ids), CHUNK):
        rolled += _roll_chunk(conn, ids[start : start + CHUNK], is_open, stale_before)
    return rolled


def _lock_sync(conn: sa.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def _stale_calls(conn: sa.Connection, stale_before: datetime) -> Iterable[str]:
    """Calls that never ended, silent since before `stale_before`, not rolled up yet (looked
    for among the calls of the week before, so the search stays small)."""
    rolled = sa.select(report_contacts.c.call_id).where(report_contacts.c.call_id == calls.c.id)
    return conn.execute(
        sa.select(calls.c.id).where(
            calls.c.ended_at.is_(None),
            calls.c.started_at < stale_before,
            calls.c.started_at >= stale_before - timedelta(days=7),
            ~sa.exists(rolled),
        )
    ).scalars()


def _roll_chunk(
    conn: sa.Connection,
    ids: Sequence[str],
    is_open: Callable[[datetime], bool],
    stale_before: datetime,
) -> int:
    rows = conn.execute(
        sa.select(
            calls.c.id,
            calls.c.started_at,
            calls.c.ended_at,
            calls.c.reason_code,
            calls.c.account_id,
        ).where(calls.c.id.in_(ids))
    ).all()
    trails: dict[str, list[TrailItem]] = {}
    events = conn.execute(
        sa.select(call_events.c.call_id, call_events.c.kind, call_events.c.at, call_events.c.data)
        .where(call_events.c.call_id.in_(ids))
        .order_by(call_events.c.call_id, call_events.c.id)
    )
    for call_id, kind, at, data in events:
        trails.setdefault(call_id, []).append(TrailItem(kind, at, data or {}))
    contacts = []
    for r in rows:
        trail = trails.get(r.id, [])
        last_at = trail[-1].at if trail else r.started_at
        if r.ended_at is None and last_at >= stale_before:
            continue  # still going (or detached, waiting for the next engine)
        call = CallRow(r.id, r.started_at, r.ended_at, r.reason_code, r.account_id)
        contacts.append(contact_of(call, trail, is_open).row())
    conn.execute(sa.delete(report_contacts).where(report_contacts.c.call_id.in_(ids)))
    if contacts:
        conn.execute(sa.insert(report_contacts), contacts)
    return len(contacts)


async def _refresh_agents(engine: AsyncEngine) -> int:
    read = 0
    while True:
        async with engine.begin() as conn:
            got = await conn.run_sync(_roll_agents)
        read += got
        if got < AGENT_CHUNK:
            return read


def _roll_agents(conn: sa.Connection) -> int:
    _lock_sync(conn)
    last = _progress(conn, AGENTS_PROGRESS)
    events = conn.execute(
        sa.select(
            agent_events.c.id,
            agent_events.c.login,
            agent_events.c.at,
            agent_events.c.status,
            agent_events.c.reason,
            agent_events.c.call_id,
        )
        .where(agent_events.c.id > last)
        .order_by(agent_events.c.id)
        .limit(AGENT_CHUNK)
    ).all()
    if not events:
        return 0
    open_spans = {
        r.login: r
        for r in conn.execute(
            sa.select(report_agent_spans).where(report_agent_spans.c.duration_s.is_(None))
        )
    }
    closes: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    opened: dict[str, dict[str, Any]] = {}
    for e in events:
        before = opened.pop(e.login, None)
        if before is not None:
            inserts.extend(_pieces(before, e.at))
        elif e.login in open_spans:
            span = open_spans.pop(e.login)
            closes.append({"span": span.id, "end": e.at, "start": span.started_at})
            inserts.extend(_pieces(_span_values(span), e.at)[1:])
        opened[e.login] = _span(e.login, e.status, e.reason, e.call_id, e.at)
    for close in closes:
        first_piece = _pieces({"started_at": close["start"]}, close["end"])[0]
        conn.execute(
            sa.update(report_agent_spans)
            .where(report_agent_spans.c.id == close["span"])
            .values(duration_s=first_piece["duration_s"])
        )
    rows = inserts + [dict(v, duration_s=None) for v in opened.values()]
    if rows:
        conn.execute(sa.insert(report_agent_spans), rows)
    _set_progress(conn, AGENTS_PROGRESS, int(events[-1].id))
    return len(events)


def _span_values(row: sa.Row[Any]) -> dict[str, Any]:
    return _span(row.login, row.status, row.reason, row.call_id, row.started_at)


def _span(
    login: str, status: str, reason: str | None, call_id: str | None, at: datetime
) -> dict[str, Any]:
    day, _ = tokyo_slot(at)
    return {
        "login": login,
        "status": status,
        "reason": reason,
        "call_id": call_id,
        "started_at": at,
        "epoch_s": int(at.timestamp()),
        "day": day,
    }


def _pieces(span: dict[str, Any], end: datetime) -> list[dict[str, Any]]:
    """The span from its start to `end`, cut at every Tokyo midnight in between."""
    start: datetime = span["started_at"]
    pieces = []
    while True:
        local = start.astimezone(TOKYO)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), TOKYO)
        stop = min(end, midnight)
        piece = dict(span, started_at=start, epoch_s=int(start.timestamp()))
        piece["day"] = local.date().isoformat()
        piece["duration_s"] = max(0.0, (stop - start).total_seconds())
        pieces.append(piece)
        if end <= midnight:
            return pieces
        start = midnight
