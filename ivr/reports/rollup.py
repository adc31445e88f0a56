"""The reports' roll-up, kept up to date from the trail: `refresh` reads what the call and
agent trails gained since its last run and rewrites the `report_contacts` rows of those calls
and the agents' time per day (`report_agent_time`, `report_agent_open`, `report_wrap_ups`).

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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import TOKYO
from ivr.reports import sums
from ivr.reports.contacts import CallRow, OpeningHours, TrailItem, contact_of
from ivr.store.tables import (
    agent_events,
    call_events,
    calls,
    report_agent_open,
    report_agent_time,
    report_contacts,
    report_day_classes,
    report_intervals,
    report_progress,
    report_wrap_ups,
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


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The service-level answer threshold and the short-abandon threshold that
    `report_intervals` is summed for."""

    answer_s: float = 20.0
    short_abandon_s: float = 6.0


async def refresh(
    engine: AsyncEngine,
    hours: OpeningHours,
    now: datetime,
    *,
    stale_after_s: float = STALE_AFTER_S,
    thresholds: Thresholds = Thresholds(),
) -> Refreshed:
    """Bring the roll-up up to date with the trail; how many calls and agent events it read.
    Other `thresholds` than last time sum `report_intervals` anew (one pass over the
    contacts)."""
    async with engine.begin() as conn:
        await conn.run_sync(_use_thresholds, thresholds)
    rolled = await _refresh_calls(engine, hours, now - timedelta(seconds=stale_after_s), thresholds)
    spans = await _refresh_agents(engine, thresholds)
    return Refreshed(rolled, spans)


_ANSWER = "interval_answer_ms"
_SHORT = "interval_short_ms"


def stored_thresholds(conn: sa.Connection) -> Thresholds | None:
    """What `report_intervals` is summed for (None: not summed yet)."""
    rows = dict(
        conn.execute(
            sa.select(report_progress.c.name, report_progress.c.last_id).where(
                report_progress.c.name.in_([_ANSWER, _SHORT])
            )
        ).all()
    )
    if len(rows) < 2:
        return None
    return Thresholds(rows[_ANSWER] / 1000, rows[_SHORT] / 1000)


def _use_thresholds(conn: sa.Connection, thresholds: Thresholds) -> None:
    _lock_sync(conn)
    if stored_thresholds(conn) == thresholds:
        return
    days = conn.execute(sa.select(report_contacts.c.day).distinct()).scalars().all()
    conn.execute(sa.delete(report_intervals))
    conn.execute(sa.delete(report_day_classes))
    _set_progress(conn, _ANSWER, round(thresholds.answer_s * 1000))
    _set_progress(conn, _SHORT, round(thresholds.short_abandon_s * 1000))
    _sum_days(conn, set(days), thresholds)


def _sum_days(conn: sa.Connection, days: set[str], thresholds: Thresholds) -> None:
    """`report_intervals` and `report_day_classes` of Tokyo `days` summed again from their
    contacts."""
    if not days:
        return
    ordered = sorted(days)
    _sum_intervals(conn, ordered, thresholds)
    _sum_classes(conn, ordered)


def _sum_intervals(conn: sa.Connection, ordered: list[str], thresholds: Thresholds) -> None:
    c = report_contacts.c
    slot = c.minute // 15
    queue = sa.func.coalesce(c.queue, "")
    for start in range(0, len(ordered), 100):
        chunk = ordered[start : start + 100]
        conn.execute(sa.delete(report_intervals).where(report_intervals.c.day.in_(chunk)))
        select = (
            sa.select(
                c.day,
                slot,
                queue,
                c.in_hours,
                *sums.queue_sums(thresholds.answer_s, thresholds.short_abandon_s, sums.inbound()),
                *sums.call_sums(),
            )
            .where(c.day.in_(chunk))
            .group_by(c.day, slot, queue, c.in_hours)
        )
        columns = ["day", "slot", "queue", "in_hours", *sums.QUEUE_SUMS, *sums.CALL_SUMS]
        conn.execute(sa.insert(report_intervals).from_select(columns, select))


CLASS_KEYS = ("reason_code", "wrap_reason", "department", "agent")


def _sum_classes(conn: sa.Connection, ordered: list[str]) -> None:
    c = report_contacts.c
    keys = [sa.func.coalesce(c[name], "") for name in CLASS_KEYS]
    answered = sa.and_(c.outcome == "answered", c.agent.is_not(None))
    for start in range(0, len(ordered), 100):
        chunk = ordered[start : start + 100]
        conn.execute(sa.delete(report_day_classes).where(report_day_classes.c.day.in_(chunk)))
        select = (
            sa.select(
                c.day,
                c.in_hours,
                *keys,
                sa.func.count(),
                sums.count(c.transferred.is_(True)),
                sums.count(answered),
                sums.seconds(answered, c.talk_s),
                sums.seconds(answered, c.hold_s),
                sums.seconds(answered, c.wrap_s),
            )
            .where(c.day.in_(chunk))
            .group_by(c.day, c.in_hours, *keys)
        )
        columns = [
            "day",
            "in_hours",
            *CLASS_KEYS,
            "calls",
            "transferred",
            "handled",
            "talk_s",
            "hold_s",
            "wrap_s",
        ]
        conn.execute(sa.insert(report_day_classes).from_select(columns, select))


async def rebuild(engine: AsyncEngine) -> None:
    """Empty the roll-up: the next `refresh` reads the whole trail again."""
    async with engine.begin() as conn:
        tables = (
            report_contacts,
            report_intervals,
            report_day_classes,
            report_agent_time,
            report_agent_open,
            report_wrap_ups,
            report_progress,
        )
        for table in tables:
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
    engine: AsyncEngine,
    hours: OpeningHours,
    stale_before: datetime,
    thresholds: Thresholds,
) -> int:
    """Window by window of `WINDOW` trail events, one transaction each (a first roll-up of a
    year never holds SQLite's write lock for long)."""
    rolled = 0
    while True:
        async with engine.begin() as conn:
            got, more = await conn.run_sync(_roll_window, hours, stale_before, thresholds)
        rolled += got
        if not more:
            break
    async with engine.begin() as conn:
        rolled += await conn.run_sync(_roll_stale, hours, stale_before, thresholds)
    return rolled


def _roll_window(
    conn: sa.Connection,
    hours: OpeningHours,
    stale_before: datetime,
    thresholds: Thresholds,
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
    rolled = _roll_ids(conn, sorted(set(touched)), hours, stale_before, thresholds)
    _set_progress(conn, CALLS_PROGRESS, upto)
    return rolled, upto < top


def _roll_stale(
    conn: sa.Connection,
    hours: OpeningHours,
    stale_before: datetime,
    thresholds: Thresholds,
) -> int:
    _lock_sync(conn)
    stale = sorted(_stale_calls(conn, stale_before))
    return _roll_ids(conn, stale, hours, stale_before, thresholds)


def _roll_ids(
    conn: sa.Connection,
    ids: Sequence[str],
    hours: OpeningHours,
    stale_before: datetime,
    thresholds: Thresholds,
) -> int:
    """Roll up the calls `ids`, then sum the days they fall on again."""
    rolled = 0
    days: set[str] = set()
    for start in range(0, len(ids), CHUNK):
        rolled += _roll_chunk(conn, ids[start : start + CHUNK], hours, stale_before, days)
    _sum_days(conn, days, thresholds)
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


def calls_with_trails(
    conn: sa.Connection, ids: Sequence[str]
) -> list[tuple[CallRow, list[TrailItem]]]:
    """The calls `ids` (those that exist) with their whole trails, in the order written."""
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
    return [
        (CallRow(r.id, r.started_at, r.ended_at, r.reason_code, r.account_id), trails.get(r.id, []))
        for r in rows
    ]


def _roll_chunk(
    conn: sa.Connection,
    ids: Sequence[str],
    hours: OpeningHours,
    stale_before: datetime,
    days: set[str],
) -> int:
    """Roll up the calls `ids`; the Tokyo days whose sums change are added to `days`."""
    trails = calls_with_trails(conn, ids)
    wrapped = dict(
        conn.execute(
            sa.select(report_wrap_ups.c.call_id, sa.func.sum(report_wrap_ups.c.seconds))
            .where(report_wrap_ups.c.call_id.in_(ids))
            .group_by(report_wrap_ups.c.call_id)
        ).all()
    )
    contacts = []
    for call, trail in trails:
        last_at = trail[-1].at if trail else call.started_at
        if call.ended_at is None and last_at >= stale_before:
            continue  # still going (or detached, waiting for the next engine)
        contact = contact_of(call, trail, hours, wrap_s=float(wrapped.get(call.call_id) or 0.0))
        contacts.append(contact.row())
    days.update(
        conn.execute(
            sa.select(report_contacts.c.day).where(report_contacts.c.call_id.in_(ids)).distinct()
        ).scalars()
    )
    days.update(row["day"] for row in contacts)
    conn.execute(sa.delete(report_contacts).where(report_contacts.c.call_id.in_(ids)))
    if contacts:
        conn.execute(sa.insert(report_contacts), contacts)
    return len(contacts)


async def _refresh_agents(engine: AsyncEngine, thresholds: Thresholds) -> int:
    read = 0
    while True:
        async with engine.begin() as conn:
            got = await conn.run_sync(_roll_agents, thresholds)
        read += got
        if got < AGENT_CHUNK:
            return read


@dataclass(frozen=True, slots=True)
class _Open:
    status: str
    reason: str
    call_id: str | None
    since: datetime


def _roll_agents(conn: sa.Connection, thresholds: Thresholds) -> int:
    """The next agent events: each closes the agent's open state (its seconds go to the days
    it spans; a wrap-up's also to its call) and opens the next."""
    _lock_sync(conn)
    last = _progress(conn, AGENTS_PROGRESS)
    e = agent_events.c
    events = conn.execute(
        sa.select(e.id, e.login, e.at, e.status, e.reason, e.call_id)
        .where(e.id > last)
        .order_by(e.id)
        .limit(AGENT_CHUNK)
    ).all()
    if not events:
        return 0
    o = report_agent_open.c
    state = {
        r.login: _Open(r.status, r.reason, r.call_id, r.since)
        for r in conn.execute(sa.select(report_agent_open))
    }
    seconds: dict[tuple[str, str, str, str], float] = {}
    wraps: list[dict[str, Any]] = []
    for ev in events:
        before = state.get(ev.login)
        if before is not None:
            for day, length in day_pieces(before.since, ev.at):
                key = (ev.login, day, before.status, before.reason)
                seconds[key] = seconds.get(key, 0.0) + length
            if before.status == "wrap_up" and before.call_id:
                length = max(0.0, (ev.at - before.since).total_seconds())
                wraps.append({"call": before.call_id, "login": ev.login, "seconds": length})
        state[ev.login] = _Open(ev.status, ev.reason or "", ev.call_id, ev.at)
    _add_time(conn, seconds)
    _add_wraps(conn, wraps, thresholds)
    logins = sorted({ev.login for ev in events})
    conn.execute(sa.delete(report_agent_open).where(o.login.in_(logins)))
    conn.execute(
        sa.insert(report_agent_open),
        [
            {
                "login": n,
                "status": s.status,
                "reason": s.reason,
                "call_id": s.call_id,
                "since": s.since,
            }
            for n, s in ((n, state[n]) for n in logins)
        ],
    )
    _set_progress(conn, AGENTS_PROGRESS, int(events[-1].id))
    return len(events)


def _add_time(conn: sa.Connection, seconds: dict[tuple[str, str, str, str], float]) -> None:
    if not seconds:
        return
    t = report_agent_time
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(t)
    upsert = insert.on_conflict_do_update(
        index_elements=["login", "day", "status", "reason"],
        set_={"seconds": t.c.seconds + insert.excluded.seconds},
    )
    rows = [
        {"login": login, "day": day, "status": status, "reason": reason, "seconds": secs}
        for (login, day, status, reason), secs in seconds.items()
    ]
    conn.execute(upsert, rows)


def _add_wraps(conn: sa.Connection, wraps: list[dict[str, Any]], thresholds: Thresholds) -> None:
    """A wrap-up that ended: into its call's contact (if rolled up already) and its day's
    sums, and kept, so a contact rolled up later sums it."""
    if not wraps:
        return
    calls_wrapped = sorted({w["call"] for w in wraps})
    days: set[str] = set()
    conn.execute(
        sa.insert(report_wrap_ups),
        [{"call_id": w["call"], "login": w["login"], "seconds": w["seconds"]} for w in wraps],
    )
    conn.execute(
        sa.update(report_contacts)
        .where(report_contacts.c.call_id == sa.bindparam("call"))
        .values(wrap_s=report_contacts.c.wrap_s + sa.bindparam("seconds", type_=sa.Float)),
        [{"call": w["call"], "seconds": w["seconds"]} for w in wraps],
    )
    c = report_contacts.c
    for start in range(0, len(calls_wrapped), CHUNK):
        chunk = calls_wrapped[start : start + CHUNK]
        days.update(conn.execute(sa.select(c.day).where(c.call_id.in_(chunk)).distinct()).scalars())
    _sum_days(conn, days, thresholds)


def day_pieces(start: datetime, end: datetime) -> list[tuple[str, float]]:
    """The seconds from `start` to `end` per Tokyo day (cut at every midnight between)."""
    pieces = []
    while True:
        local = start.astimezone(TOKYO)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), TOKYO)
        stop = min(end, midnight)
        pieces.append((local.date().isoformat(), max(0.0, (stop - start).total_seconds())))
        if end <= midnight:
            return pieces
        start = midnight
