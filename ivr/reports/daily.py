"""The daily report file: after closing time every day, the day's report is written to
`reports.daily.dir` (`hotline-report-YYYY-MM-DD.html`, or .csv / .json), missing files of the
last `catch_up_days` days too (an engine that was down at the time), and files older than
`keep_days` are deleted. `daily_reports` is one long-running task of the engine's task group.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig, DailyReportConfig
from ivr.domain import TOKYO
from ivr.reports.builder import make_report, spec_for
from ivr.reports.contacts import OpeningHours
from ivr.reports.render import render

log = logging.getLogger(__name__)

PREFIX = "hotline-report-"
_NAME = re.compile(rf"^{PREFIX}(\d{{4}}-\d{{2}}-\d{{2}})\.(html|csv|json)$")


def run_time(cfg: DailyReportConfig) -> time:
    hour, minute = (int(x) for x in cfg.at.split(":"))
    return time(hour, minute)


def next_run(now: datetime, cfg: DailyReportConfig) -> datetime:
    """The first run time (Tokyo wall clock `cfg.at`) strictly after `now`."""
    local = now.astimezone(TOKYO)
    at = datetime.combine(local.date(), run_time(cfg), TOKYO)
    return at if at > local else at + timedelta(days=1)


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


async def daily_reports(
    config: AppConfig,
    db: AsyncEngine,
    clock: Callable[[], datetime],
    hours: OpeningHours,
) -> None:
    """Forever: sleep until the next run time, write the day's report, prune old files. A
    failed run is logged and tried again at the next run time: a report never takes the
    hotline down. `hours` are the opening hours by queue (the composition root builds them
    from routing's calendars). Disabled, it waits until cancelled (a task of the engine's group
    that ends would stop the engine)."""
    cfg = config.reports.daily
    if not cfg.enabled:
        await asyncio.Event().wait()
    while True:
        now = clock()
        wake = next_run(now, cfg)
        await asyncio.sleep((wake - now).total_seconds())
        try:
            paths = await run_once(config, db, hours, clock())
        except (SQLAlchemyError, OSError) as exc:
            log.warning(
                "daily report not written (%s); next try at the next run time", type(exc).__name__
            )
            continue
        except Exception:
            log.exception("daily report failed; next try at the next run time")
            continue
        log.info("daily report written: %s", ", ".join(p.name for p in paths))
