"""The HTML report in headless Chromium: a generated year (the March–April peak) reported by
month, opened as the file a supervisor gets; the charts render (SVG with bars, the service-level
line, the shaded season) and the season's days stand out. Then the console's report page on the
same kind of trail: a supervisor picks the year by month, the same charts render inside the
console with no content-security-policy violation, bad dates show field errors, the staffing
what-if answers beside Erlang A; an agent cannot open it. Screenshots go to artifacts/."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Page, expect

from ivr.config import AppConfig, ReportsConfig, parse_config
from ivr.reports.builder import make_report, spec_for
from ivr.reports.contacts import one_calendar
from ivr.reports.render import to_html
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.server import serve_console
from routing.hours import DEFAULT_CALENDARS, calendars_from_config
from tests.browser.conftest import ARTIFACTS, Console, sign_in
from tests.support.console import VirtualClock, add_member, copy_database
from tests.support.reportdata import generate

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PHONE = calendars_from_config(DEFAULT_CALENDARS)["phone"]
HOURS = one_calendar(PHONE.is_open)
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
        report = await make_report(engine, config, spec, HOURS, NOW)
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


def report_config() -> AppConfig:
    return parse_config(
        {
            "console": {"port": 0},
            "routing": {
                "queues": {"general": {"calendar": "phone"}, "moving": {"calendar": "phone"}},
                "departments": {"emergency_duty": {"on_duty": ["PJSIP/onduty"]}},
            },
        },
        {},
    )


@pytest_asyncio.fixture(loop_scope="session")
async def report_console(template_db: Path, tmp_path: Path) -> AsyncIterator[Console]:
    engine = open_engine(copy_database(template_db, tmp_path))
    clock = VirtualClock()
    passwords = Passwords.for_tests()
    try:
        await add_member(engine, passwords, "super", Role.SUPERVISOR, language="en")
        await add_member(engine, passwords, "clerk", Role.AGENT)
        await generate(engine, 2026, 1500, PHONE.is_open, seed=14)
        async with serve_console(report_config(), engine, clock=clock, passwords=passwords) as site:
            yield Console(site, clock, engine)
    finally:
        await engine.dispose()


async def test_the_console_report_page_renders_the_charts(
    page: Page, report_console: Console
) -> None:
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    await sign_in(page, report_console, "super")
    await page.goto(report_console.url("/supervisor"))
    await page.click("#link-report")
    await page.fill("#f-from", "2026-01-01")
    await page.fill("#f-to", "2026-12-31")
    await page.select_option("#f-interval", "month")
    await page.click("#show-report")
    await expect(page.locator("#report-title")).to_have_text(
        "Hotline report 2026-01-01 – 2026-12-31"
    )
    hourly = page.locator("#report #chart-hourly svg")
    await expect(hourly).to_be_visible()
    box = await hourly.bounding_box()
    assert box is not None
    assert box["width"] > 600
    await expect(hourly.locator("rect.bar")).to_have_count(24)
    await expect(hourly.locator("polyline.service-level")).to_have_count(1)
    daily = page.locator("#report #chart-daily svg")
    await expect(daily.locator("rect.bar")).to_have_count(365)
    await expect(daily.locator("rect.peak")).to_have_count(61)
    # every service-level definition side by side, the headline marked, per queue and total
    levels = page.locator("#report #service-levels")
    await expect(levels.locator("tbody tr")).to_have_count(5)
    await expect(levels.locator("th").last).to_have_text("total")
    await expect(levels.locator("tbody tr", has_text="(headline)")).to_have_count(1)
    await expect(page.locator("#report #calls-by-queue tbody tr").first).to_be_visible()
    await expect(page.locator("#report #calls-by-interval tbody tr")).to_have_count(12)
    # each month's self-service rate (requests taken in the IVR / by phone) in its own column
    by_interval = page.locator("#report #calls-by-interval")
    await expect(by_interval.locator("th").last).to_have_text("self-service")
    rates = by_interval.locator("tbody tr td:last-child")
    for month in range(12):
        await expect(rates.nth(month)).to_have_text(re.compile(r"^\d+\.\d %$"))
    fcr = page.locator("#report tr", has_text="not called about again within 7 days")
    await expect(fcr).to_have_count(1)
    await expect(page.locator("#abandoned th", has_text="reached since")).to_be_visible()
    # the console's style sheet styles the report body (no inline style: the CSP forbids it)
    colour = await page.locator("#abandoned .mark").evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(180, 35, 24)"
    await expect(page.locator("#download-csv")).to_have_attribute("href", re.compile("format=csv"))
    async with page.expect_download() as info:
        await page.click("#download-json")
    download = await info.value
    assert download.suggested_filename == "hotline-report-2026-01-01-2026-12-31.json"
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "report-page.png"), full_page=True)
    assert violations == []


async def test_bad_report_and_staffing_input_shows_field_errors(
    page: Page, report_console: Console
) -> None:
    await sign_in(page, report_console, "super")
    await page.goto(report_console.url("/supervisor/report"))
    await page.fill("#f-from", "2026-02-30")
    await page.fill("#f-to", "2026-01-01")
    await page.click("#show-report")
    await expect(page.locator("#form-errors")).to_be_visible()
    await expect(page.locator("#e-from")).to_have_text("Enter a date as YYYY-MM-DD.")
    await expect(page.locator("#f-from")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#report")).to_have_count(0)
    await page.goto(report_console.url("/supervisor/staffing"))
    await page.fill("#f-calls", "100")
    await page.fill("#f-aht", "three minutes")
    await page.click("#what-if-run")
    await expect(page.locator("#e-aht")).to_have_text("Enter a number.")
    await page.fill("#f-aht", "180")
    await page.fill("#f-shrinkage", "0")
    await page.fill("#f-patience", "120")
    await page.click("#what-if-run")
    await expect(page.locator("#row-erlang_c .agents")).to_have_text("14")
    await expect(page.locator("#row-erlang_a .agents")).to_be_visible()
    # the published example's figures beside the formulas they come from
    await expect(page.locator("#row-erlang_c")).to_contain_text("88.8 %")
    await expect(page.locator("#row-erlang_c")).to_contain_text("0.174")
    await expect(page.locator("#row-erlang_c")).to_contain_text("7.8")
    await expect(page.locator("#row-erlang_c")).to_contain_text("71.4 %")
    formulas = page.locator("#staffing-formulas")
    await expect(formulas.locator("tr", has_text="Erlang C ASA")).to_contain_text(
        "ASA = Pw · AHT / (N − A)"
    )
    await expect(formulas.locator("tr", has_text="Erlang C service level")).to_contain_text(
        "SL(T) = 1 − Pw · e^(−(N−A)·T/AHT)"
    )
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "staffing-page.png"), full_page=True)


async def test_an_agent_cannot_open_the_report(page: Page, report_console: Console) -> None:
    await sign_in(page, report_console, "clerk")
    for path in ("/supervisor/report", "/supervisor/staffing"):
        answer = await page.goto(report_console.url(path))
        assert answer is not None
        assert answer.status == 403
