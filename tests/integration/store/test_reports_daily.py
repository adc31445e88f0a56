"""The daily report file (SQLite and PostgreSQL): written after closing time for the day that
is ending, missing days caught up, old files pruned; the loop wakes at the configured time."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig, DailyReportConfig, ReportsConfig
from ivr.reports.daily import daily_reports, next_run, prune, report_path, reported_day, run_once
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from tests.integration.store.test_reports import DAY, HOURS, write_day

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


@pytest.mark.looptime
async def test_the_loop_writes_at_the_run_time(tmp_path: Path) -> None:
    # SQLite only: virtual time would also run out asyncpg's network timeouts
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"
    await migrate(url)
    engine = open_engine(url)
    try:
        await write_day(engine)
        await _the_loop(engine, tmp_path)
    finally:
        await engine.dispose()


async def _the_loop(engine: AsyncEngine, tmp_path: Path) -> None:
    cfg = config(tmp_path, catch_up_days=0)
    loop = asyncio.get_running_loop()
    start, t0 = loop.time(), tokyo("2027-03-15T19:00").astimezone(UTC)

    def clock() -> datetime:
        return t0 + timedelta(seconds=loop.time() - start)

    task = asyncio.create_task(daily_reports(cfg, engine, clock, HOURS))
    path = report_path(cfg.reports.daily, DAY)
    await asyncio.sleep(1700)
    assert not path.exists()
    # (virtual) time passes in steps until the 19:30 run has written the file; the report
    # itself is written by database threads in real time, while virtual time may run on
    for _ in range(10_000):
        await asyncio.sleep(10)
        if path.exists():
            break
    assert path.exists()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


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
