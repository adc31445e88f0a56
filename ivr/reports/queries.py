"""The report over a period, from the database: sums grouped in SQL over the roll-up
(`report_contacts`, `report_agent_time`), the service requests and the call rows, turned into
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
from ivr.reports import sums
from ivr.reports.metrics import QUEUE_FIELDS, SERVICE_LEVEL_KEYS, QueueFigures
from ivr.reports.rollup import CLASS_KEYS, Thresholds, day_pieces, stored_thresholds
from ivr.store.tables import (
    calls,
    cases,
    report_agent_open,
    report_agent_time,
    report_contacts,
    report_day_classes,
    report_intervals,
    service_requests,
)

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
    abandoned_max: int = 500

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
    # the number called again later and reached an agent, the IVR or a department (up to
    # the report's making): no callback needed
    reached_since: bool = False


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
    """Calls of identified accounts (`identified`, from `accounts` accounts): `repeats` came
    within the repeat window after an earlier call of the account, `repeat_accounts` had such
    a call; `followed` were followed by another call of the account within the window (the
    first contact did not resolve it)."""

    identified: int
    repeats: int
    accounts: int
    repeat_accounts: int = 0
    followed: int = 0

    @property
    def rate(self) -> float | None:
        return self.repeats / self.identified if self.identified else None

    @property
    def first_contact_resolution(self) -> float | None:
        """Share of the identified calls no other call of the account followed in the window."""
        return 1 - self.followed / self.identified if self.identified else None


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
    cases: dict[tuple[str, str], int] = field(default_factory=dict)
    """Complaints and requests agents keyed, by (kind, department)."""
    opening: dict[bool, QueueFigures] = field(default_factory=dict)
    """The queue figures over all the report's queues within (True) and outside (False)
    opening hours."""
    queue_calls: dict[str, CallFigures] = field(default_factory=dict)
    """The call figures (callbacks, calls while closed, transfers…) of the calls that
    reached each queue; calls that never reached one are only in `calls`."""
    interval_requests: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)
    """`request_kinds` per interval (label as in `call_intervals`, in interval order): a
    request taken on a call counts in the interval the call started in (the period's first
    interval if the call began before the period), a web request (on no call) in the one it
    was made in; each request is in the period by its own time, as in `request_kinds`, so the
    intervals add up to it."""

    @property
    def abandons_not_listed(self) -> int:
        """Abandoned calls of the period left out of `abandons` (the list's length cap)."""
        return max(0, self.total.abandoned + self.total.short_abandons - len(self.abandons))

    @property
    def self_service_rate(self) -> float | None:
        return self_service(self.request_kinds)

    @property
    def interval_self_service(self) -> dict[str, float | None]:
        """The self-service rate of each interval that had a request."""
        return {label: self_service(k) for label, k in self.interval_requests.items()}


def self_service(request_kinds: dict[tuple[str, str], int]) -> float | None:
    """Requests taken by the IVR / requests taken by phone (IVR + agent); None: none by phone."""
    ivr = sum(n for (_, ch), n in request_kinds.items() if ch == "ivr")
    phone = ivr + sum(n for (_, ch), n in request_kinds.items() if ch == "agent")
    return ivr / phone if phone else None


def _label(interval: IntervalName, day: str, minute: int) -> str:
    """The interval a contact of Tokyo `day`, `minute` of the day, is reported in."""
    if interval == "day":
        return day
    if interval == "month":
        return day[:7]
    start = minute - minute % int(interval)
    return f"{day} {start // 60:02d}:{start % 60:02d}"


def _where(spec: ReportSpec) -> list[sa.ColumnElement[bool]]:
    where = [
        c.c.epoch_s >= int(spec.start.timestamp()),
        c.c.epoch_s < int(spec.end.timestamp()),
    ]
    if spec.hours != "all":
        where.append(c.c.in_hours.is_(spec.hours == "in"))
    return where


def _inbound(spec: ReportSpec) -> sa.ColumnElement[bool]:
    return sums.inbound(spec.queue)


def _queue_columns(spec: ReportSpec, inbound: sa.ColumnElement[bool]) -> list[Any]:
    return sums.queue_sums(spec.answer_s, spec.short_abandon_s, inbound)


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sums.count(condition)


def _figures(values: sa.Row[Any] | tuple[Any, ...]) -> QueueFigures:
    v = [x or 0 for x in values]
    return QueueFigures(*[int(x) for x in v[:10]], *[float(x) for x in v[10:]])


async def _queue_sums(
    conn: Any, spec: ReportSpec, keys: tuple[sa.ColumnElement[Any], ...]
) -> list[tuple[tuple[Any, ...], QueueFigures]]:
    """Queue figures grouped by `keys` (the queue contacts only)."""
    inbound = _inbound(spec)
    query = (
        sa.select(*keys, *_queue_columns(spec, inbound))
        .where(*_where(spec), inbound)
        .group_by(*keys)
        .order_by(*keys)
    )
    rows = (await conn.execute(query)).all()
    n = len(keys)
    return [(tuple(r[:n]), _figures(tuple(r[n:]))) for r in rows]


@dataclass(slots=True)
class _Totals:
    """The main scan's rows folded into the report's tables."""

    spec: ReportSpec
    intervals: dict[tuple[str, str], QueueFigures] = field(default_factory=dict)
    queues: dict[str, QueueFigures] = field(default_factory=dict)
    total: QueueFigures = field(default_factory=QueueFigures)
    call_intervals: dict[str, CallFigures] = field(default_factory=dict)
    calls: CallFigures = field(default_factory=CallFigures)
    queue_calls: dict[str, CallFigures] = field(default_factory=dict)
    by_hour: dict[int, QueueFigures] = field(default_factory=dict)
    offered_by_day: dict[str, int] = field(default_factory=dict)
    opening: dict[bool, QueueFigures] = field(default_factory=dict)

    def add(
        self,
        day: str,
        minute: int,
        queue: str | None,
        in_hours: bool,
        q: QueueFigures,
        cf: CallFigures,
    ) -> None:
        label = _label(self.spec.interval, day, minute)
        # a one-queue report counts that queue's calls only: another queue's callbacks or
        # closed calls are not this queue's figures
        if self.spec.queue is None or queue == self.spec.queue:
            _add_calls(self.call_intervals.setdefault(label, CallFigures()), cf)
            _add_calls(self.calls, cf)
            if queue is not None:
                _add_calls(self.queue_calls.setdefault(queue, CallFigures()), cf)
        if queue is None or not q.queued:
            return
        self.intervals.setdefault((label, TOTAL), QueueFigures()).add(q)
        self.intervals.setdefault((label, queue), QueueFigures()).add(q)
        self.queues.setdefault(queue, QueueFigures()).add(q)
        self.total.add(q)
        self.by_hour.setdefault(minute // 60, QueueFigures()).add(q)
        self.opening.setdefault(in_hours, QueueFigures()).add(q)
        self.offered_by_day[day] = self.offered_by_day.get(day, 0) + q.offered


def _add_calls(into: CallFigures, more: CallFigures) -> None:
    for name in CallFigures.__slots__:
        setattr(into, name, getattr(into, name) + getattr(more, name))


def _grain(spec: ReportSpec) -> int:
    """The finest interval the report needs: its own, or an hour (the hourly chart)."""
    return int(spec.interval) if spec.interval in ("15", "30", "60") else 60


async def _main_scan(conn: Any, spec: ReportSpec) -> _Totals:
    """The intervals, queues, totals and charts: from `report_intervals` when it is summed
    for the report's thresholds, else from the contacts themselves."""
    stored = await conn.run_sync(stored_thresholds)
    if stored == Thresholds(spec.answer_s, spec.short_abandon_s):
        return await _interval_scan(conn, spec)
    return await _contact_scan(conn, spec)


async def _interval_scan(conn: Any, spec: ReportSpec) -> _Totals:
    """ONE pass over the period's quarter-hour sums, grouped by day, the report's grain and
    queue."""
    i = report_intervals.c
    grain = _grain(spec)
    slot = i.slot // (grain // 15)
    where = [i.day >= spec.first.isoformat(), i.day <= spec.last.isoformat()]
    if spec.hours != "all":
        where.append(i.in_hours.is_(spec.hours == "in"))
    summed = [
        sa.func.max(i.longest_wait_s) if name == "longest_wait_s" else sa.func.sum(i[name])
        for name in (*sums.QUEUE_SUMS, *sums.CALL_SUMS)
    ]
    query = (
        sa.select(i.day, slot, i.queue, i.in_hours, *summed)
        .where(*where)
        .group_by(i.day, slot, i.queue, i.in_hours)
        .order_by(i.day, slot, i.queue, i.in_hours)
    )
    totals = _Totals(spec)
    n = len(QUEUE_FIELDS)
    for r in (await conn.execute(query)).all():
        queue = str(r[2]) or None
        figures = _figures(tuple(r[4 : 4 + n]))
        if spec.queue is not None and queue != spec.queue:
            figures = QueueFigures()
        cf = CallFigures(*[int(x or 0) for x in r[4 + n :]])
        totals.add(str(r[0]), int(r[1]) * grain, queue, bool(r[3]), figures, cf)
    return totals


async def _contact_scan(conn: Any, spec: ReportSpec) -> _Totals:
    """ONE pass over the period's contacts, grouped by Tokyo day, the report's grain and
    queue."""
    grain = _grain(spec)
    slot = c.c.minute // grain
    query = (
        sa.select(
            c.c.day,
            slot,
            c.c.queue,
            c.c.in_hours,
            *_queue_columns(spec, _inbound(spec)),
            *sums.call_sums(),
        )
        .where(*_where(spec))
        .group_by(c.c.day, slot, c.c.queue, c.c.in_hours)
        .order_by(c.c.day, slot, c.c.queue, c.c.in_hours)
    )
    totals = _Totals(spec)
    n = len(QUEUE_FIELDS)
    for r in (await conn.execute(query)).all():
        figures = _figures(tuple(r[4 : 4 + n]))
        cf = CallFigures(*[int(x or 0) for x in r[4 + n :]])
        totals.add(str(r[0]), int(r[1]) * grain, r[2], bool(r[3]), figures, cf)
    return totals


@dataclass(slots=True)
class _Classes:
    departments: dict[str, tuple[int, int]] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    wrap_reasons: dict[str, int] = field(default_factory=dict)


def _class_rows(spec: ReportSpec) -> sa.FromClause:
    """The per-day classes (`report_day_classes`): summed over every queue; for a one-queue
    report the same columns from that queue's contacts (a row per contact), which the roll-up
    does not keep per queue."""
    if spec.queue is None:
        return report_day_classes
    k = c.c
    answered = sa.and_(k.outcome == "answered", k.agent.is_not(None))

    def one(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
        return sa.case((condition, 1), else_=0)

    def secs(value: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
        return sa.case((answered, value), else_=0.0)

    return (
        sa.select(
            k.day.label("day"),
            k.in_hours.label("in_hours"),
            *(sa.func.coalesce(k[name], "").label(name) for name in CLASS_KEYS),
            sa.literal(1).label("calls"),
            one(k.transferred.is_(True)).label("transferred"),
            one(answered).label("handled"),
            secs(k.talk_s).label("talk_s"),
            secs(k.hold_s).label("hold_s"),
            secs(k.wrap_s).label("wrap_s"),
        )
        .where(
            k.queue == spec.queue,
            k.day >= spec.first.isoformat(),
            k.day <= spec.last.isoformat(),
        )
        .subquery("queue_classes")
    )


def _day_where(spec: ReportSpec, rows: sa.FromClause) -> list[sa.ColumnElement[bool]]:
    d = rows.c
    where = [d.day >= spec.first.isoformat(), d.day <= spec.last.isoformat()]
    if spec.hours != "all":
        where.append(d.in_hours.is_(spec.hours == "in"))
    return where


async def _classes(conn: Any, spec: ReportSpec) -> _Classes:
    """The contacts by outcome (reason code), wrap-up reason and department, from the
    per-day counts."""
    rows = _class_rows(spec)
    d = rows.c
    query = (
        sa.select(
            d.reason_code,
            d.wrap_reason,
            d.department,
            sa.func.sum(d.calls),
            sa.func.sum(d.transferred),
        )
        .where(*_day_where(spec, rows))
        .group_by(d.reason_code, d.wrap_reason, d.department)
    )
    found = _Classes()
    for reason, wrap, department, n, put_through in (await conn.execute(query)).all():
        count = int(n or 0)
        if reason:
            found.outcomes[str(reason)] = found.outcomes.get(str(reason), 0) + count
        if wrap:
            found.wrap_reasons[str(wrap)] = found.wrap_reasons.get(str(wrap), 0) + count
        if department:
            tried, ok = found.departments.get(str(department), (0, 0))
            found.departments[str(department)] = (tried + count, ok + int(put_through or 0))
    found.departments = dict(sorted(found.departments.items()))
    return found


async def _request_kinds(conn: Any, spec: ReportSpec) -> dict[tuple[str, str], int]:
    """Service requests by kind and channel. Within or outside opening hours only, a request
    counts by the call it was taken on (so the self-service rate is that of those calls); one
    made on the web, on no call, has no opening hours and is left out then."""
    r = service_requests
    where, kind = _request_rows(spec)
    source: sa.FromClause = r
    if spec.hours != "all":
        source = r.join(c, c.c.call_id == r.c.call_id)
        where.append(c.c.in_hours.is_(spec.hours == "in"))
    query = (
        sa.select(kind, r.c.channel, sa.func.count())
        .select_from(source)
        .where(*where)
        .group_by(kind, r.c.channel)
        .order_by(kind, r.c.channel)
    )
    return {(str(k), str(ch)): int(n) for k, ch, n in (await conn.execute(query)).all()}


def _request_rows(spec: ReportSpec) -> tuple[list[sa.ColumnElement[bool]], sa.ColumnElement[Any]]:
    """What `_request_kinds` counts of the service requests: the period (by the request's own
    time) and the kind, a linked in-city move counted once by its stop."""
    r = service_requests
    # an in-city move is one request stored as a linked stop and start: count its stop only
    kind = sa.case((r.c.kind == "transfer_stop", "transfer"), else_=r.c.kind)
    where = [r.c.created_at >= spec.start, r.c.created_at < spec.end, r.c.kind != "transfer_start"]
    return where, kind


def _tokyo_seconds(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """Seconds since 1970-01-01 00:00 Tokyo of a `UtcDateTime` column (naive UTC in both
    databases); Tokyo is UTC+9 all year (no summer time since 1951), so a fixed shift is
    its local time. The shift is literal SQL, not a bound parameter: PostgreSQL matches the
    GROUP BY against the select list by text."""
    if dialect == "postgresql":
        # floor, not the cast's rounding: 23:59:59.6 is still the day before
        epoch = sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger)
    else:
        epoch = sa.cast(sa.func.strftime(sa.literal_column("'%s'"), column), sa.BigInteger)
    return epoch + sa.literal_column("32400", sa.BigInteger)


async def _interval_requests(conn: Any, spec: ReportSpec) -> dict[str, dict[tuple[str, str], int]]:
    """`_request_kinds` per interval, grouped in SQL by the interval's Tokyo day and slot
    (some 70,000 requests a year: a few hundred groups, no row per request in Python).

    A request taken on a call is in the interval of the call's start (its `report_contacts`
    day and minute, like the call figures of `call_intervals`), so an interval's rate is
    that of its calls; within or outside opening hours it counts by that call, as in
    `_request_kinds`. A request on no call (the web), or whose call is not rolled up yet,
    is in the interval of its own `created_at` in Tokyo, and only in an all-hours report:
    it has no opening hours."""
    r = service_requests
    where, kind = _request_rows(spec)
    grain = _grain(spec)
    first = spec.first.isoformat()
    found: dict[tuple[str, int], dict[tuple[str, str], int]] = {}

    def add(day: str, minute: int, k: str, channel: str, n: int) -> None:
        if day < first:
            # taken after midnight on a call begun before the period: its first interval
            day, minute = first, 0
        kinds = found.setdefault((day, minute), {})
        kinds[(k, channel)] = kinds.get((k, channel), 0) + n

    slot = c.c.minute // grain
    on_calls = (
        sa.select(c.c.day, slot, kind, r.c.channel, sa.func.count())
        .select_from(r.join(c, c.c.call_id == r.c.call_id))
        .where(*where, *([c.c.in_hours.is_(spec.hours == "in")] if spec.hours != "all" else []))
        .group_by(c.c.day, slot, kind, r.c.channel)
    )
    for day, s, k, channel, n in (await conn.execute(on_calls)).all():
        add(str(day), int(s) * grain, str(k), str(channel), int(n))
    if spec.hours == "all":
        local = _tokyo_seconds(r.c.created_at, conn.dialect.name)
        day_no = local // sa.literal_column("86400", sa.BigInteger)
        own_slot = (local % sa.literal_column("86400", sa.BigInteger)) // sa.literal_column(
            str(60 * grain), sa.BigInteger
        )
        rolled_up = sa.exists().where(c.c.call_id == r.c.call_id)
        on_no_call = (
            sa.select(day_no, own_slot, kind, r.c.channel, sa.func.count())
            .where(*where, ~rolled_up)
            .group_by(day_no, own_slot, kind, r.c.channel)
        )
        epoch = date(1970, 1, 1)
        for n_day, s, k, channel, n in (await conn.execute(on_no_call)).all():
            day = (epoch + timedelta(days=int(n_day))).isoformat()
            add(day, int(s) * grain, str(k), str(channel), int(n))
    labelled: dict[str, dict[tuple[str, str], int]] = {}
    for (day, minute), kinds in sorted(found.items()):
        into = labelled.setdefault(_label(spec.interval, day, minute), {})
        for key, n in kinds.items():
            into[key] = into.get(key, 0) + n
    return {label: dict(sorted(kinds.items())) for label, kinds in labelled.items()}


async def _repeats(conn: Any, spec: ReportSpec) -> Repeats:
    """Calls from an account that had called within `repeat_days` before, and calls the account
    called again after within `repeat_days` (first-contact resolution). One ordered pass over
    the period's recognised calls (and the windows around it): each call's previous and next
    call of the same account are window functions, not a look-up per call (600,000
    recognised calls a year)."""
    window = spec.repeat_days * 86400
    start, end = int(spec.start.timestamp()), int(spec.end.timestamp())
    # the latest earlier and the earliest later call of the account (strictly: epoch_s is
    # whole seconds)
    previous = sa.func.max(c.c.epoch_s).over(
        partition_by=c.c.account_id, order_by=c.c.epoch_s, range_=(None, -1)
    )
    following = sa.func.min(c.c.epoch_s).over(
        partition_by=c.c.account_id, order_by=c.c.epoch_s, range_=(1, None)
    )
    calls_ = (
        sa.select(
            c.c.account_id,
            c.c.epoch_s,
            c.c.in_hours,
            previous.label("previous"),
            following.label("following"),
        )
        .where(
            c.c.account_id.is_not(None),
            c.c.epoch_s >= start - window,
            c.c.epoch_s < end + window,
        )
        .subquery()
    )
    where = [calls_.c.epoch_s >= start, calls_.c.epoch_s < end]
    if spec.hours != "all":
        where.append(calls_.c.in_hours.is_(spec.hours == "in"))
    repeat = calls_.c.previous >= calls_.c.epoch_s - window
    followed = calls_.c.following <= calls_.c.epoch_s + window
    query = sa.select(
        sa.func.count(),
        _count(repeat),
        sa.func.count(sa.distinct(calls_.c.account_id)),
        sa.func.count(sa.distinct(sa.case((repeat, calls_.c.account_id)))),
        _count(followed),
    ).where(*where)
    identified, repeats, accounts, repeat_accounts, follow = (await conn.execute(query)).one()
    return Repeats(
        int(identified), int(repeats or 0), int(accounts), int(repeat_accounts), int(follow or 0)
    )


async def _abandons(conn: Any, spec: ReportSpec) -> list[Abandon]:
    where = [*_where(spec), c.c.outcome == "abandoned", c.c.callback_of.is_(None)]
    if spec.queue is not None:
        where.append(c.c.queue == spec.queue)
    query = (
        sa.select(c.c.started_at, c.c.epoch_s, c.c.queue, c.c.wait_s, calls.c.caller_e164)
        .select_from(c.join(calls, calls.c.id == c.c.call_id))
        .where(*where)
        # the newest first: a long period lists the calls still worth calling back
        .order_by(c.c.epoch_s.desc(), c.c.call_id.desc())
        .limit(spec.abandoned_max)
    )
    rows = list(reversed((await conn.execute(query)).all()))
    reached = await _reached_since(conn, rows)
    return [
        Abandon(
            r.started_at.astimezone(TOKYO),
            str(r.queue),
            float(r.wait_s or 0.0),
            float(r.wait_s or 0.0) < spec.short_abandon_s,
            r.caller_e164,
            r.caller_e164 is not None and reached.get(r.caller_e164, -1) > r.epoch_s,
        )
        for r in rows
    ]


async def _reached_since(conn: Any, rows: list[Any]) -> dict[str, int]:
    """For the listed callers' numbers, the latest start (epoch s) of a call of theirs since
    the first listed abandon that was served: answered by an agent (a callback call too),
    finished in the IVR or put through. One query over the contacts since then, not one per
    abandoned call."""
    numbers = sorted({r.caller_e164 for r in rows if r.caller_e164 is not None})
    if not numbers:
        return {}
    served = sa.or_(c.c.outcome == "answered", c.c.self_served.is_(True), c.c.transferred.is_(True))
    query = (
        sa.select(calls.c.caller_e164, sa.func.max(c.c.epoch_s))
        .select_from(c.join(calls, calls.c.id == c.c.call_id))
        .where(
            c.c.epoch_s > min(int(r.epoch_s) for r in rows),
            calls.c.caller_e164.in_(numbers),
            served,
        )
        .group_by(calls.c.caller_e164)
    )
    return {str(n): int(e) for n, e in (await conn.execute(query)).all()}


async def _agents(conn: Any, spec: ReportSpec, now: datetime) -> dict[str, AgentFigures]:
    agents: dict[str, AgentFigures] = {}
    rows = _class_rows(spec)
    d = rows.c
    handled = (
        sa.select(
            d.agent,
            sa.func.sum(d.handled),
            sa.func.sum(d.talk_s),
            sa.func.sum(d.hold_s),
            sa.func.sum(d.wrap_s),
        )
        .where(*_day_where(spec, rows), d.agent != "")
        .group_by(d.agent)
    )
    for login, n, talk, hold, wrap in (await conn.execute(handled)).all():
        agents[str(login)] = AgentFigures(
            str(login), int(n), float(talk or 0), float(hold or 0), float(wrap or 0)
        )
    t = report_agent_time.c
    times = (
        sa.select(t.login, t.status, t.reason, sa.func.sum(t.seconds))
        .where(t.day >= spec.first.isoformat(), t.day <= spec.last.isoformat())
        .group_by(t.login, t.status, t.reason)
    )
    for login, status, reason, seconds in (await conn.execute(times)).all():
        _add_state(agents, str(login), str(status), str(reason), float(seconds or 0))
    # the state each agent is in now, up to the report's end (or now)
    until = min(now, spec.end)
    for r in (await conn.execute(sa.select(report_agent_open))).all():
        for day, seconds in day_pieces(max(r.since, spec.start), until):
            if spec.first.isoformat() <= day <= spec.last.isoformat():
                _add_state(agents, str(r.login), str(r.status), str(r.reason), seconds)
    return dict(sorted(agents.items()))


def _add_state(
    agents: dict[str, AgentFigures], login: str, status: str, reason: str, seconds: float
) -> None:
    figures = agents.setdefault(login, AgentFigures(login))
    name = f"paused: {reason}" if status == "paused" and reason else status
    figures.state_s[name] = figures.state_s.get(name, 0.0) + seconds


@dataclass(frozen=True, slots=True)
class Slot:
    """One interval of the day (`start_minute`, Tokyo) over a period: its figures summed over
    the period, and the `days` that had calls in it."""

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


async def _cases(conn: Any, spec: ReportSpec) -> dict[tuple[str, str], int]:
    c = cases
    query = (
        sa.select(c.c.kind, c.c.department, sa.func.count())
        .where(c.c.received_at >= spec.start, c.c.received_at < spec.end)
        .group_by(c.c.kind, c.c.department)
        .order_by(c.c.kind, c.c.department)
    )
    return {(str(k), str(d)): int(n) for k, d, n in (await conn.execute(query)).all()}


async def build_report(engine: AsyncEngine, spec: ReportSpec, now: datetime) -> Report:
    """The report for `spec` from the roll-up (read only)."""
    async with engine.connect() as conn:
        return await _build(conn, spec, now)


async def _build(conn: Any, spec: ReportSpec, now: datetime) -> Report:
    t = await _main_scan(conn, spec)
    classes = await _classes(conn, spec)
    return Report(
        spec=spec,
        generated_at=now,
        intervals=t.intervals,
        queues=dict(sorted(t.queues.items())),
        total=t.total,
        call_intervals=t.call_intervals,
        calls=t.calls,
        queue_calls=dict(sorted(t.queue_calls.items())),
        opening=t.opening,
        by_hour=dict(sorted(t.by_hour.items())),
        offered_by_day=t.offered_by_day,
        departments=classes.departments,
        outcomes=classes.outcomes,
        wrap_reasons=classes.wrap_reasons,
        request_kinds=await _request_kinds(conn, spec),
        repeats=await _repeats(conn, spec),
        abandons=await _abandons(conn, spec),
        agents=await _agents(conn, spec, now),
        cases=await _cases(conn, spec),
        interval_requests=await _interval_requests(conn, spec),
    )
