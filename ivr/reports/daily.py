"""The daily report file: after closing time every day, the day's report is written to
`reports.daily.dir` (`hotline-report-YYYY-MM-DD.html`, or .csv / .json), missing files of the
last `catch_up_days` days too (an engine that was down at the time), and files older than
`keep_days` are deleted.

The run is an APScheduler 3 cron job at `reports.daily.at`, Tokyo wall clock (`schedule`);
`daily_reports` is the engine task-group task that runs the scheduler holding it, so the job
lives and dies with the engine.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig, DailyReportConfig
from ivr.domain import TOKYO
from ivr.reports.builder import make_report, spec_for
from ivr.reports.contacts import OpeningHours
from ivr.reports.render import render

log = logging.getLogger(__name__)

PREFIX = "hotline-report-"
JOB_ID = "daily-report"
_NAME = re.compile(rf"^{PREFIX}(\d{{4}}-\d{{2}}-\d{{2}})\.(html|csv|json)$")


def run_time(cfg: DailyReportConfig) -> time:
    hour, minute = (int(x) for x in cfg.at.split(":"))
    return time(hour, minute)


def next_run(now: datetime, cfg: DailyReportConfig) -> datetime:
    """The first run time (Tokyo wall clock `cfg.at`) strictly after `now`: the job's
    trigger's (it fires on whole seconds, so a microsecond on is the next second)."""
    after = now.astimezone(TOKYO) + timedelta(microseconds=1)
    fire: datetime | None = trigger(cfg).get_next_fire_time(None, after)
    if fire is None:  # a daily cron trigger always has a next time
        raise RuntimeError("the daily report trigger has no next run time")
    return fire


def reported_day(run_at: datetime, cfg: DailyReportConfig) -> date:
    """The Tokyo day a run at `run_at` reports: that day from 12:00, else the day before."""
    local = run_at.astimezone(TOKYO)
    return local.date() if run_time(cfg) >= time(12) else local.date() - timedelta(days=1)


def report_path(cfg: DailyReportConfig, day: date) -> Path:
    return Path(cfg.dir) / f"{PREFIX}{day.isoformat()}.{cfg.format}"


def prune(cfg: DailyReportConfig, today: date) -> list[Path]:
    """Delete report files older than `keep_days`; the files deleted."""
    folder = Path(cfg.dir)
    if not folder.is_dir():
        return []
    gone = []
    for path in folder.iterdir():
        match = _NAME.match(path.name)
        if match and (today - date.fromisoformat(match.group(1))).days > cfg.keep_days:
            path.unlink(missing_ok=True)
            gone.append(path)
    return gone


async def write_day(
    config: AppConfig,
    db: AsyncEngine,
    day: date,
    hours: OpeningHours,
    now: datetime,
) -> Path:
    """Write the report file of Tokyo day `day` (atomically: a reader never sees half)."""
    cfg = config.reports.daily
    spec = spec_for(config.reports, day, day, interval="60")
    report = await make_report(db, config.reports, spec, hours, now)
    path = report_path(cfg, day)
    text = render(report, cfg.format)
    await asyncio.to_thread(_write, path, text)
    return path


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


async def run_once(
    config: AppConfig, db: AsyncEngine, hours: OpeningHours, now: datetime
) -> list[Path]:
    """One run at `now`: the reported day, missing files of the days before, pruning."""
    cfg = config.reports.daily
    day = reported_day(now, cfg)
    written = [await write_day(config, db, day, hours, now)]
    for back in range(1, cfg.catch_up_days + 1):
        earlier = day - timedelta(days=back)
        if not report_path(cfg, earlier).exists():
            written.append(await write_day(config, db, earlier, hours, now))
    await asyncio.to_thread(prune, cfg, day)
    return written


def trigger(cfg: DailyReportConfig) -> CronTrigger:
    """Every day at `cfg.at`, Tokyo wall clock (Japan has no daylight saving time)."""
    at = run_time(cfg)
    return CronTrigger(hour=at.hour, minute=at.minute, timezone=TOKYO)


async def run_logged(
    config: AppConfig,
    db: AsyncEngine,
    clock: Callable[[], datetime],
    hours: OpeningHours,
) -> list[Path]:
    """The job: one run at `clock()`. A failed run is logged and tried again at the next run
    time (a report never takes the hotline down); the files written."""
    try:
        paths = await run_once(config, db, hours, clock())
    except (SQLAlchemyError, OSError) as exc:
        log.warning(
            "daily report not written (%s); next try at the next run time", type(exc).__name__
        )
        return []
    except Exception:
        log.exception("daily report failed; next try at the next run time")
        return []
    log.info("daily report written: %s", ", ".join(p.name for p in paths))
    return paths


def schedule(
    scheduler: Any,
    config: AppConfig,
    db: AsyncEngine,
    clock: Callable[[], datetime],
    hours: OpeningHours,
) -> Any:
    """Add the daily report job to an APScheduler 3 `AsyncIOScheduler`; returns the job. A
    run missed by up to an hour (the machine busy or asleep) still runs, once; a later one is
    left to the next run's catch-up."""
    return scheduler.add_job(
        run_logged,
        trigger(config.reports.daily),
        args=(config, db, clock, hours),
        id=JOB_ID,
        replace_existing=True,
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )


async def daily_reports(
    config: AppConfig,
    db: AsyncEngine,
    clock: Callable[[], datetime],
    hours: OpeningHours,
) -> None:
    """Forever: an `AsyncIOScheduler` on this loop with the daily report job (`schedule`),
    shut down when the task is cancelled. `hours` are the opening hours by queue (the
    composition root builds them from routing's calendars). Disabled, it waits until cancelled
    (a task of the engine's group that ends would stop the engine)."""
    if not config.reports.daily.enabled:
        await asyncio.Event().wait()
    scheduler = AsyncIOScheduler(timezone=TOKYO, event_loop=asyncio.get_running_loop())
    schedule(scheduler, config, db, clock, hours)
    scheduler.start()
    try:
        await asyncio.Event().wait()
    finally:
        scheduler.shutdown(wait=False)
