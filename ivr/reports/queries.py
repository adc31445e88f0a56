"""The report over a period, from the database: sums grouped in SQL over the roll-up
(`report_contacts`, `report_agent_spans`), the service requests and the call rows, turned into
figures by `ivr.reports.metrics`. The same statements run on SQLite and PostgreSQL: intervals
group on the Tokyo day and minute of day that the roll-up stores.

`build_report` reads only; bring the roll-up up to date first (`ivr.reports.rollup.refresh`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import TOKYO
from ivr.reports.metrics import SERVICE_LEVEL_KEYS, QueueFigures
from ivr.store.tables import calls, report_agent_spans, report_contacts, service_requests

IntervalName = Literal["15", "30", "60", "day", "month"]
INTERVALS: tuple[IntervalName, ...] = ("15", "30", "60", "day", "month")
HoursFilter = Literal["all", "in", "out"]
TOTAL = "(all)"

c = report_contacts


@dataclass(frozen=True, slots=True)
class ReportSpec:
    """What to report: Tokyo days `first` to `last` (inclusive), grouped by `interval`."""

    first: date
    last: date
    interval: IntervalName = "day"
    queue: str | None = None
    hours: HoursFilter = "all"
    answer_s: float = 20.0
    short_abandon_s: float = 6.0
    headline: str = "abandons_against"
    repeat_days: int = 7

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError("the report ends before it starts")
        if self.headline not in SERVICE_LEVEL_KEYS:
            raise ValueError(f"unknown service level {self.headline!r}")

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), TOKYO)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), datetime.min.time(), TOKYO)


@dataclass(slots=True)
class CallFigures:
    """Every call, queued or not."""

    calls: int = 0
    in_hours: int = 0
    while_closed: int = 0
    ivr_completed: int = 0
    intakes: int = 0
    transferred: int = 0
    emergency: int = 0
    callbacks_requested: int = 0
    callbacks_dialled: int = 0
    callbacks_completed: int = 0
    callbacks_failed: int = 0


@dataclass(frozen=True, slots=True)
class Abandon:
    at: datetime
    queue: str
    wait_s: float
    short: bool
    caller: str | None
    callback_requested: bool


@dataclass(slots=True)
class AgentFigures:
    login: str
    handled: int = 0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_s: float = 0.0
    state_s: dict[str, float] = field(default_factory=dict)

    @property
    def aht_s(self) -> float | None:
        if not self.handled:
            return None
        return (self.talk_s + self.hold_s + self.wrap_s) / self.handled


@dataclass(frozen=True, slots=True)
class Repeats:
    identified: int
    repeats: int
    accounts: int

    @property
    def rate(self) -> float | None:
        return self.repeats / self.identified if self.identified else None


@dataclass(slots=True)
class Report:
    spec: ReportSpec
    generated_at: datetime
    # (interval label, queue or TOTAL) → figures, in interval order
    intervals: dict[tuple[str, str], QueueFigures]
    queues: dict[str, QueueFigures]
    total: QueueFigures
    call_intervals: dict[str, CallFigures]
    calls: CallFigures
    by_hour: dict[int, QueueFigures]
    offered_by_day: dict[str, int]
    departments: dict[str, tuple[int, int]]
    outcomes: dict[str, int]
    wrap_reasons: dict[str, int]
    request_kinds: dict[tuple[str, str], int]
    repeats: Repeats
    abandons: list[Abandon]
    agents: dict[str, AgentFigures]

    @property
    def self_service_rate(self) -> float | None:
        ivr = sum(n for (_, ch), n in self.request_kinds.items() if ch == "ivr")
        phone = ivr + sum(n for (_, ch), n in self.request_kinds.items() if ch == "agent")
        return ivr / phone if phone else None


def _bucket(interval: IntervalName) -> tuple[sa.ColumnElement[Any], ...]:
    if interval == "day":
        return (c.c.day,)
    if interval == "month":
        return (sa.func.substr(c.c.day, 1, 7),)
    return (c.c.day, c.c.minute // int(interval))


def _label(interval: IntervalName, key: tuple[Any, ...]) -> str:
    if interval in ("day", "month"):
        return str(key[0])
    minutes = int(key[1]) * int(interval)
    return f"{key[0]} {minutes // 60:02d}:{minutes % 60:02d}"


def _where(spec: ReportSpec) -> list[sa.ColumnElement[bool]]:
    where = [
        c.c.epoch_s >= int(spec.start.timestamp()),
        c.c.epoch_s < int(spec.end.timestamp()),
    ]
    if spec.hours != "all":
        where.append(c.c.in_hours.is_(spec.hours == "in"))
    return where


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _seconds(condition: sa.ColumnElement[bool], value: sa.ColumnElement[Any]) -> Any:
    return sa.func.sum(sa.case((condition, value), else_=0.0))


def _queue_columns(spec: ReportSpec, wrap: Any) -> list[Any]:
    wait = sa.func.coalesce(c.c.wait_s, 0.0)
    answered = c.c.outcome == "answered"
    abandoned = c.c.outcome == "abandoned"
    short = sa.and_(abandoned, wait < spec.short_abandon_s)
    long = sa.and_(abandoned, wait >= spec.short_abandon_s)
    return [
        sa.func.count(),
        _count(short),
        _count(answered),
        _count(sa.and_(answered, wait <= spec.answer_s)),
        _count(long),
        _count(sa.and_(long, wait <= spec.answer_s)),
        _count(c.c.outcome == "callback"),
        _count(c.c.outcome == "overflow"),
        _count(c.c.outcome == "closed"),
        _count(c.c.outcome == "unfinished"),
        _seconds(answered, wait),
        sa.func.max(wait),
        _seconds(answered, c.c.talk_s),
        _seconds(answered, c.c.hold_s),
        _seconds(answered, sa.func.coalesce(wrap, 0.0)),
        sa.func.sum(wait),
    ]


def _figures(values: sa.Row[Any] | tuple[Any, ...]) -> QueueFigures:
    v = [x or 0 for x in values]
    return QueueFigures(*[int(x) for x in v[:10]], *[float(x) for x in v[10:]])


def _wraps(spec: ReportSpec) -> sa.Subquery:
    s = report_agent_spans
    return (
        sa.select(s.c.call_id, sa.func.sum(s.c.duration_s).label("wrap_s"))
        .where(
            s.c.status == "wrap_up",
            s.c.call_id.is_not(None),
            s.c.epoch_s >= int(spec.start.timestamp()),
            # a call's wrap-up begins after it ends: up to a day after the period
            s.c.epoch_s < int(spec.end.timestamp()) + 86400,
        )
        .group_by(s.c.call_id)
        .subquery()
    )


async def _queue_sums(
    conn: Any, spec: ReportSpec, keys: tuple[sa.ColumnElement[Any], ...]
) -> list[tuple[tuple[Any, ...], QueueFigures]]:
    wraps = _wraps(spec)
    where = [*_where(spec), c.c.queue.is_not(None), c.c.callback_of.is_(None)]
    if spec.queue is not None:
        where.append(c.c.queue == spec.queue)
    query = (
        sa.select(*keys, *_queue_columns(spec, wraps.c.wrap_s))
        .select_from(c.outerjoin(wraps, wraps.c.call_id == c.c.call_id))
        .where(*where)
        .group_by(*keys)
        .order_by(*keys)
    )
    rows = (await conn.execute(query)).all()
    n = len(keys)
    return [(tuple(r[:n]), _figures(tuple(r[n:]))) for r in rows]


async def _call_sums(
    conn: Any, spec: ReportSpec, keys: tuple[sa.ColumnElement[Any], ...]
) -> list[tuple[tuple[Any, ...], CallFigures]]:
    query = (
        sa.select(
            *keys,
            sa.func.count(),
            _count(c.c.in_hours.is_(True)),
            _count(c.c.closed.is_(True)),
            _count(c.c.self_served.is_(True)),
            sa.func.sum(c.c.intakes),
            _count(c.c.transferred.is_(True)),
            _count(c.c.emergency.is_(True)),
            _count(c.c.callback_requested.is_(True)),
            _count(c.c.callback_dialled.is_(True)),
            _count(sa.and_(c.c.callback_of.is_not(None), c.c.outcome == "answered")),
            _count(c.c.callback_failed.is_(True)),
        )
        .where(*_where(spec))
        .group_by(*keys)
        .order_by(*keys)
    )
    rows = (await conn.execute(query)).all()
    n = len(keys)
    return [(tuple(r[:n]), CallFigures(*[int(x or 0) for x in r[n:]])) for r in rows]


async def _grouped(conn: Any, spec: ReportSpec, column: Any, *extra: Any) -> dict[Any, int]:
    query = (
        sa.select(column, sa.func.count())
        .where(*_where(spec), column.is_not(None), *extra)
        .group_by(column)
    )
    return {k: int(n) for k, n in (await conn.execute(query)).all()}


async def _departments(conn: Any, spec: ReportSpec) -> dict[str, tuple[int, int]]:
    query = (
        sa.select(c.c.department, sa.func.count(), _count(c.c.transferred.is_(True)))
        .where(*_where(spec), c.c.department.is_not(None))
        .group_by(c.c.department)
        .order_by(c.c.department)
    )
    return {str(d): (int(n), int(ok or 0)) for d, n, ok in (await conn.execute(query)).all()}


async def _request_kinds(conn: Any, spec: ReportSpec) -> dict[tuple[str, str], int]:
    r = service_requests
    # an in-city move is one request stored as a linked stop and start: count its stop only
    kind = sa.case((r.c.kind == "transfer_stop", "transfer"), else_=r.c.kind)
    query = (
        sa.select(kind, r.c.channel, sa.func.count())
        .where(
            r.c.created_at >= spec.start,
            r.c.created_at < spec.end,
            r.c.kind != "transfer_start",
        )
        .group_by(kind, r.c.channel)
        .order_by(kind, r.c.channel)
    )
    return {(str(k), str(ch)): int(n) for k, ch, n in (await conn.execute(query)).all()}


async def _repeats(conn: Any, spec: ReportSpec) -> Repeats:
    earlier = report_contacts.alias("earlier")
    window = spec.repeat_days * 86400
    before = sa.exists(
        sa.select(earlier.c.call_id).where(
            earlier.c.account_id == c.c.account_id,
            earlier.c.epoch_s < c.c.epoch_s,
            earlier.c.epoch_s >= c.c.epoch_s - window,
        )
    )
    query = sa.select(
        sa.func.count(), _count(before), sa.func.count(sa.distinct(c.c.account_id))
    ).where(*_where(spec), c.c.account_id.is_not(None))
    identified, repeats, accounts = (await conn.execute(query)).one()
    return Repeats(int(identified), int(repeats or 0), int(accounts))


async def _abandons(conn: Any, spec: ReportSpec) -> list[Abandon]:
    where = [*_where(spec), c.c.outcome == "abandoned", c.c.callback_of.is_(None)]
    if spec.queue is not None:
        where.append(c.c.queue == spec.queue)
    query = (
        sa.select(c.c.started_at, c.c.queue, c.c.wait_s, calls.c.caller_e164, c.c.call_id)
        .select_from(c.join(calls, calls.c.id == c.c.call_id))
        .where(*where)
        .order_by(c.c.epoch_s, c.c.call_id)
    )
    rows = (await conn.execute(query)).all()
    called_back = await _called_back(conn, [r.call_id for r in rows])
    return [
        Abandon(
            r.started_at.astimezone(TOKYO),
            str(r.queue),
            float(r.wait_s or 0.0),
            float(r.wait_s or 0.0) < spec.short_abandon_s,
            r.caller_e164,
            r.call_id in called_back,
        )
        for r in rows
    ]


async def _called_back(conn: Any, ids: list[str]) -> set[str]:
    """Of the abandoned calls `ids`, those that another call later reached back (by number is
    out of scope here: only the trail's own callback link counts)."""
    found: set[str] = set()
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        rows = await conn.execute(
            sa.select(c.c.callback_of).where(c.c.callback_of.in_(chunk)).distinct()
        )
        found.update(str(x) for x in rows.scalars())
    return found


async def _agents(conn: Any, spec: ReportSpec, now: datetime) -> dict[str, AgentFigures]:
    agents: dict[str, AgentFigures] = {}
    handled = (
        sa.select(c.c.agent, sa.func.count(), sa.func.sum(c.c.talk_s), sa.func.sum(c.c.hold_s))
        .where(*_where(spec), c.c.outcome == "answered", c.c.agent.is_not(None))
        .group_by(c.c.agent)
    )
    for login, n, talk, hold in (await conn.execute(handled)).all():
        agents[str(login)] = AgentFigures(str(login), int(n), float(talk or 0), float(hold or 0))
    s = report_agent_spans
    until = min(now, spec.end)
    length = sa.func.coalesce(s.c.duration_s, sa.literal(int(until.timestamp())) - s.c.epoch_s)
    spans = (
        sa.select(s.c.login, s.c.status, s.c.reason, sa.func.sum(length))
        .where(
            s.c.epoch_s >= int(spec.start.timestamp()),
            s.c.epoch_s < int(until.timestamp()),
        )
        .group_by(s.c.login, s.c.status, s.c.reason)
    )
    for login, status, reason, seconds in (await conn.execute(spans)).all():
        figures = agents.setdefault(str(login), AgentFigures(str(login)))
        name = f"paused: {reason}" if status == "paused" and reason else str(status)
        figures.state_s[name] = figures.state_s.get(name, 0.0) + max(0.0, float(seconds or 0))
        if status == "wrap_up":
            figures.wrap_s += max(0.0, float(seconds or 0))
    return dict(sorted(agents.items()))


@dataclass(frozen=True, slots=True)
class Slot:
    """One interval of the day (`start_minute`, Tokyo) over a period: its figures summed over
    the `days` that had calls in it."""

    start_minute: int
    days: int
    figures: QueueFigures


async def slots_of_day(engine: AsyncEngine, spec: ReportSpec, minutes: int) -> list[Slot]:
    """The period's queue figures per `minutes`-long interval of the day (staffing input)."""
    slot = c.c.minute // minutes
    async with engine.connect() as conn:
        sums = await _queue_sums(conn, spec, (slot,))
        where = [*_where(spec), c.c.queue.is_not(None), c.c.callback_of.is_(None)]
        if spec.queue is not None:
            where.append(c.c.queue == spec.queue)
        days_query = (
            sa.select(slot, sa.func.count(sa.distinct(c.c.day))).where(*where).group_by(slot)
        )
        days = {int(k): int(n) for k, n in (await conn.execute(days_query)).all()}
    return [Slot(int(k[0]) * minutes, days.get(int(k[0]), 1), f) for k, f in sums]


async def build_report(engine: AsyncEngine, spec: ReportSpec, now: datetime) -> Report:
    """The report for `spec` from the roll-up (read only)."""
    async with engine.connect() as conn:
        return await _build(conn, spec, now)


async def _build(conn: Any, spec: ReportSpec, now: datetime) -> Report:
    keys = _bucket(spec.interval)
    intervals: dict[tuple[str, str], QueueFigures] = {}
    queues: dict[str, QueueFigures] = {}
    total = QueueFigures()
    for key, figures in await _queue_sums(conn, spec, (*keys, c.c.queue)):
        label, queue = _label(spec.interval, key[:-1]), str(key[-1])
        intervals.setdefault((label, TOTAL), QueueFigures()).add(figures)
        intervals[(label, queue)] = figures
        queues.setdefault(queue, QueueFigures()).add(figures)
        total.add(figures)
    call_intervals: dict[str, CallFigures] = {}
    all_calls = CallFigures()
    for key, cf in await _call_sums(conn, spec, keys):
        call_intervals[_label(spec.interval, key)] = cf
        for name in cf.__slots__:
            setattr(all_calls, name, getattr(all_calls, name) + getattr(cf, name))
    by_hour = {int(k[0]): f for k, f in await _queue_sums(conn, spec, (c.c.minute // 60,))}
    offered_by_day = {str(k[0]): f.offered for k, f in await _queue_sums(conn, spec, (c.c.day,))}
    return Report(
        spec=spec,
        generated_at=now,
        intervals=intervals,
        queues=dict(sorted(queues.items())),
        total=total,
        call_intervals=call_intervals,
        calls=all_calls,
        by_hour=by_hour,
        offered_by_day=offered_by_day,
        departments=await _departments(conn, spec),
        outcomes=await _grouped(conn, spec, c.c.reason_code),
        wrap_reasons=await _grouped(conn, spec, c.c.wrap_reason),
        request_kinds=await _request_kinds(conn, spec),
        repeats=await _repeats(conn, spec),
        abandons=await _abandons(conn, spec),
        agents=await _agents(conn, spec, now),
    )
