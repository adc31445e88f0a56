"""The HTML report in headless Chromium: a generated year (the March–April peak) reported by
month, opened as the file a supervisor gets; the charts render (SVG with bars, the service-level
line, the shaded season) and the season's days stand out. A screenshot goes to artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from ivr.config import ReportsConfig
from ivr.reports.builder import make_report, spec_for
from ivr.reports.render import to_html
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from routing.hours import DEFAULT_CALENDARS, calendars_from_config
from tests.browser.conftest import ARTIFACTS
from tests.support.reportdata import generate

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PHONE = calendars_from_config(DEFAULT_CALENDARS)["phone"]
NOW = datetime(2027, 1, 5, tzinfo=UTC)


@pytest_asyncio.fixture(loop_scope="session")
async def year_page(tmp_path: Path) -> AsyncIterator[Path]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'year.sqlite3'}"
    await migrate(url)
    engine = open_engine(url)
    try:
        await generate(engine, 2026, 3000, PHONE.is_open, seed=14)
        config = ReportsConfig()
        spec = spec_for(config, date(2026, 1, 1), date(2026, 12, 31), interval="month")
        report = await make_report(engine, config, spec, PHONE.is_open, NOW)
    finally:
        await engine.dispose()
    path = tmp_path / "report.html"
    path.write_text(to_html(report), encoding="utf-8")
    yield path


async def test_the_charts_render_and_show_the_peak(page: Page, year_page: Path) -> None:
    await page.goto(year_page.as_uri())
    await expect(page.locator("h1")).to_have_text("Hotline report 2026-01-01 – 2026-12-31")
    hourly = page.locator("#chart-hourly svg")
    await expect(hourly).to_be_visible()
    box = await hourly.bounding_box()
    assert box is not None
    assert box["width"] > 600
    assert box["height"] > 200
    await expect(hourly.locator("rect.bar")).to_have_count(24)
    await expect(hourly.locator("polyline.service-level")).to_have_count(1)
    daily = page.locator("#chart-daily svg")
    await expect(daily.locator("rect.bar")).to_have_count(365)
    await expect(daily.locator("rect.peak")).to_have_count(61)
    # the season's bars are drawn taller than the rest of the year's, on the screen
    heights: dict[str, float] = await page.evaluate(
        """() => {
            const by = {peak: [], rest: []};
            for (const bar of document.querySelectorAll('#chart-daily rect.bar')) {
                const month = Number(bar.dataset.day.slice(5, 7));
                by[month === 3 || month === 4 ? 'peak' : 'rest'].push(
                    bar.getBoundingClientRect().height);
            }
            const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
            return {peak: mean(by.peak), rest: mean(by.rest)};
        }"""
    )
    assert heights["peak"] > 1.8 * heights["rest"] > 0
    await expect(page.locator("#chart-kinds svg rect.bar")).to_have_count(6)
    await expect(page.locator("#abandoned .mark")).to_contain_text("Supervisor only")
    await expect(page.get_by_text("A_T / (A + B − B_T)").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "report-year.png"), full_page=True)
