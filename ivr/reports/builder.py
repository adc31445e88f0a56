"""Making a report from the configuration: the `ReportSpec` from config.yaml's `reports:`
section, the roll-up refreshed, then the report read.

On SQLite every transaction of the engine's own connection takes the write lock up front
(`ivr.store.db`); a report that reads a year must not hold it, so the reading runs on a
connection of its own (`reader`), which in WAL mode neither blocks the engine's writers nor
waits for them. PostgreSQL reads on the given engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ivr.config import ReportsConfig
from ivr.reports.queries import HoursFilter, IntervalName, Report, ReportSpec, build_report
from ivr.reports.rollup import Thresholds, refresh


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
    is_open: Callable[[datetime], bool],
    now: datetime,
) -> Report:
    """Refresh the roll-up from the trail, then build the report for `spec`."""
    thresholds = Thresholds(config.answer_s, config.short_abandon_s)
    await refresh(engine, is_open, now, stale_after_s=config.stale_after_s, thresholds=thresholds)
    async with reader(engine) as read:
        return await build_report(read, spec, now)
