"""The daily report file (SQLite and PostgreSQL): written after closing time for the day that
is ending, missing days caught up, old files pruned; an APScheduler cron job fires at the
configured Tokyo time."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig, DailyReportConfig, ReportsConfig
from ivr.domain import TOKYO
from ivr.reports.daily import (
    daily_reports,
    next_run,
    prune,
    reported_day,
    run_logged,
    run_once,
    schedule,
)
from ivr.store.db import open_engine
from tests.integration.store.test_reports import HOURS, write_day

pytestmark = pytest.mark.integration


def config(tmp_path: Path, **daily: object) -> AppConfig:
    cfg = DailyReportConfig.model_validate({"dir": str(tmp_path / "reports"), **daily})
    return AppConfig(reports=ReportsConfig(daily=cfg))


def tokyo(text: str) -> datetime:
    return datetime.fromisoformat(text + "+09:00")


def test_the_run_time_and_the_day_it_reports(tmp_path: Path) -> None:
    evening = config(tmp_path).reports.daily
    assert next_run(tokyo("2027-03-15T19:00"), evening) == tokyo("2027-03-15T19:30")
    assert next_run(tokyo("2027-03-15T19:30"), evening) == tokyo("2027-03-16T19:30")
    assert reported_day(tokyo("2027-03-15T19:30"), evening) == date(2027, 3, 15)
    night = config(tmp_path, at="01:00").reports.daily
    # a run after midnight reports the evening that just ended (Tokyo dates, not UTC)
    assert next_run(tokyo("2027-03-15T19:00"), night) == tokyo("2027-03-16T01:00")
    assert reported_day(tokyo("2027-03-16T01:00"), night) == date(2027, 3, 15)


def test_old_files_are_pruned(tmp_path: Path) -> None:
    cfg = config(tmp_path, keep_days=10).reports.daily
    folder = Path(cfg.dir)
    folder.mkdir()
    for day in ("2027-03-01", "2027-03-05", "2027-03-15"):
        (folder / f"hotline-report-{day}.html").write_text("x")
    (folder / "notes.txt").write_text("kept: not a report")
    gone = prune(cfg, date(2027, 3, 15))
    assert [p.name for p in gone] == ["hotline-report-2027-03-01.html"]
    assert sorted(p.name for p in folder.iterdir()) == [
        "hotline-report-2027-03-05.html",
        "hotline-report-2027-03-15.html",
        "notes.txt",
    ]


async def test_a_run_writes_the_day_and_catches_up(engine: AsyncEngine, tmp_path: Path) -> None:
    await write_day(engine)
    cfg = config(tmp_path, catch_up_days=2)
    written = await run_once(cfg, engine, HOURS, tokyo("2027-03-15T19:30"))
    assert [p.name for p in written] == [
        "hotline-report-2027-03-15.html",
        "hotline-report-2027-03-14.html",
        "hotline-report-2027-03-13.html",
    ]
    page = written[0].read_text(encoding="utf-8")
    assert "Hotline report 2027-03-15 – 2027-03-15" in page
    assert "<svg" in page
    # the next evening: only the new day (the earlier ones are there)
    again = await run_once(cfg, engine, HOURS, tokyo("2027-03-16T19:30"))
    assert [p.name for p in again] == ["hotline-report-2027-03-16.html"]


async def test_the_job_fires_daily_at_the_run_time_and_writes_the_day(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await write_day(engine)
    cfg = config(tmp_path, catch_up_days=0)
    # the job as the engine's scheduler holds it (not started: nothing fires by wall clock)
    scheduler = AsyncIOScheduler(timezone=TOKYO)
    job = schedule(scheduler, cfg, engine, lambda: tokyo("2027-03-15T19:30"), HOURS)
    assert job.id == "daily-report"
    fire = job.trigger.get_next_fire_time(None, tokyo("2027-03-15T19:00"))
    assert fire == tokyo("2027-03-15T19:30")
    later = job.trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    assert later == tokyo("2027-03-16T19:30")
    written = await job.func(*job.args)
    assert [p.name for p in written] == ["hotline-report-2027-03-15.html"]
    assert "Hotline report 2027-03-15 – 2027-03-15" in written[0].read_text(encoding="utf-8")


async def test_a_failed_run_is_logged_and_the_job_goes_on(
    engine: AsyncEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await write_day(engine)
    # the report folder's place is taken by a file: the run cannot write
    (tmp_path / "reports").write_text("not a folder")
    cfg = config(tmp_path, catch_up_days=0)
    written = await run_logged(cfg, engine, lambda: tokyo("2027-03-15T19:30"), HOURS)
    assert written == []
    assert "daily report not written" in caplog.text


async def test_the_engine_task_runs_the_scheduler_until_cancelled(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}")
    task = asyncio.create_task(
        daily_reports(config(tmp_path), engine, lambda: tokyo("2027-03-15T19:00"), HOURS)
    )
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await engine.dispose()


@pytest.mark.looptime
async def test_disabled_it_writes_nothing_and_keeps_running(tmp_path: Path) -> None:
    # a task of the engine's group that ended would stop the engine
    cfg = config(tmp_path, enabled=False)
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite3'}")
    task = asyncio.create_task(daily_reports(cfg, engine, lambda: tokyo("2027-03-15T19:00"), HOURS))
    await asyncio.sleep(3 * 86400)
    assert not task.done()
    assert not await asyncio.to_thread(Path(cfg.reports.daily.dir).exists)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await engine.dispose()
