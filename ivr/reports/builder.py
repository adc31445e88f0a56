"""Making a report from the configuration: the `ReportSpec` from config.yaml's `reports:`
section, the roll-up refreshed, then the report read.

On SQLite every transaction of the engine's own connection takes the write lock up front
(`ivr.store.db`); a report that reads a year must not hold it, so the reading runs on a
connection of its own (`reader`), which in WAL mode neither blocks the engine's writers nor
waits for them. PostgreSQL reads on the given engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ivr.config import ReportsConfig
from ivr.reports.contacts import OpeningHours
from ivr.reports.queries import (
    HoursFilter,
    IntervalName,
    Report,
    ReportSpec,
    Slot,
    build_report,
    slots_of_day,
)
from ivr.reports.rollup import Thresholds, refresh
from ivr.reports.staffing import Interval, Staffing, Target, side_by_side


def spec_for(
    config: ReportsConfig,
    first: date,
    last: date,
    *,
    interval: IntervalName = "day",
    queue: str | None = None,
    hours: HoursFilter = "all",
) -> ReportSpec:
    return ReportSpec(
        first,
        last,
        interval,
        queue,
        hours,
        answer_s=config.answer_s,
        short_abandon_s=config.short_abandon_s,
        headline=config.headline,
        repeat_days=config.repeat_days,
        abandoned_max=config.abandoned_list_max,
    )


@asynccontextmanager
async def reader(engine: AsyncEngine) -> AsyncIterator[AsyncEngine]:
    """An engine to read a long report on (see the module docstring)."""
    url = engine.url
    if make_url(url).get_backend_name() != "sqlite":
        yield engine
        return
    own = create_async_engine(url, poolclass=NullPool)
    try:
        yield own
    finally:
        await own.dispose()


async def make_report(
    engine: AsyncEngine,
    config: ReportsConfig,
    spec: ReportSpec,
    hours: OpeningHours,
    now: datetime,
) -> Report:
    """Refresh the roll-up from the trail, then build the report for `spec`."""
    await _refresh(engine, config, hours, now)
    async with reader(engine) as read:
        return await build_report(read, spec, now)


async def _refresh(
    engine: AsyncEngine,
    config: ReportsConfig,
    hours: OpeningHours,
    now: datetime,
) -> None:
    thresholds = Thresholds(config.answer_s, config.short_abandon_s)
    await refresh(engine, hours, now, stale_after_s=config.stale_after_s, thresholds=thresholds)


def target_of(
    config: ReportsConfig,
    *,
    service_level: float | None = None,
    answer_s: float | None = None,
    shrinkage: float | None = None,
    max_occupancy: float | None = None,
) -> Target:
    """The staffing target: config.yaml's `reports:` figures unless given."""
    return Target(
        service_level=config.target_service_level if service_level is None else service_level,
        answer_s=config.answer_s if answer_s is None else answer_s,
        max_occupancy=max_occupancy,
        shrinkage=config.shrinkage if shrinkage is None else shrinkage,
    )


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One interval of the day in a staffing plan: the arrivals per day (`interval`), the
    agents Erlang C asks for and, where callers abandon (patience measured), Erlang A's."""

    start_minute: int
    interval: Interval
    erlang_c: Staffing
    erlang_a: Staffing | None

    @property
    def label(self) -> str:
        return f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}"


OpenMinutes = Callable[[date], Sequence[tuple[int, int]]]
"""The minutes of a Tokyo day that the hotline (or a queue) is open: (start, end) pairs."""


def open_days(first: date, last: date, open_minutes: OpenMinutes, minutes: int) -> dict[int, int]:
    """For each `minutes`-long interval of the day (by its start minute), the days from `first`
    to `last` that the calendar was open for some of it."""
    counts: dict[int, int] = {}
    day = first
    while day <= last:
        slots: set[int] = set()
        for start, end in open_minutes(day):
            slots.update(range(start // minutes, (end - 1) // minutes + 1))
        for slot in slots:
            counts[slot * minutes] = counts.get(slot * minutes, 0) + 1
        day += timedelta(days=1)
    return counts


def plan_of(
    slots: list[Slot], minutes: int, target: Target, days_open: Mapping[int, int]
) -> list[PlanRow]:
    """A day's plan from the measured intervals of the day: each interval's calls averaged
    over the days the hotline was open then (`days_open`, by start minute: a quiet day counts
    as a day without calls, a closed one not at all; an interval the calendar never opened but
    that had calls, such as a 24-hour queue's night, over the days with calls), its measured
    AHT and patience."""
    rows = []
    for slot in slots:
        f = slot.figures
        if f.aht_s is None or not f.offered:
            continue
        days = days_open.get(slot.start_minute) or slot.days
        interval = Interval(f.offered / days, minutes * 60, f.aht_s, f.patience_s)
        rows.append(PlanRow(slot.start_minute, interval, *side_by_side(interval, target)))
    return rows


async def make_plan(
    engine: AsyncEngine,
    config: ReportsConfig,
    spec: ReportSpec,
    hours: OpeningHours,
    now: datetime,
    *,
    minutes: int,
    target: Target,
    open_minutes: OpenMinutes,
) -> list[PlanRow]:
    """Refresh the roll-up, then the staffing plan per `minutes` of the day over `spec`'s
    period (a peak plan: last year's March and April); `open_minutes` is the calendar of the
    queue planned for (the hotline's for all queues)."""
    await _refresh(engine, config, hours, now)
    async with reader(engine) as read:
        slots = await slots_of_day(read, spec, minutes)
    return plan_of(slots, minutes, target, open_days(spec.first, spec.last, open_minutes, minutes))
