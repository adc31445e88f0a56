"""The supervisor's report and staffing pages through aiohttp's test client, on a generated
trail (tests.support.reportdata, 2026 with its March–April peak): the page shows the very report
`hotline report` makes (the same body and charts, the same CSV/JSON/HTML downloads), bad fields
are 400 pages naming the field, the what-if reproduces the published Erlang C example beside
Erlang A, the peak plan is `hotline staffing`'s plan of last March–April, agents are refused."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig, parse_config
from ivr.reports.builder import make_plan, make_report, spec_for, target_of
from ivr.reports.contacts import one_calendar
from ivr.reports.render import html_sections, render
from ivr.store.db import open_engine
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.app import create_app
from routing.hours import DEFAULT_CALENDARS, calendars_from_config
from tests.support.console import VirtualClock, add_member, copy_database
from tests.support.reportdata import generate
from tests.unit.web.conftest import Client, sign_in

pytestmark = pytest.mark.unit

PHONE = calendars_from_config(DEFAULT_CALENDARS)["phone"]
HOURS = one_calendar(PHONE.is_open)


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


async def _generate(url: str) -> None:
    engine = open_engine(url)
    try:
        await generate(engine, 2026, 1500, PHONE.is_open, seed=7)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def year_db(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated template with the generated year, made once for the module's tests."""
    path = tmp_path_factory.mktemp("report-year") / "year.sqlite3"
    shutil.copy(template_db, path)
    # in a thread of its own: asyncio.run here would replace the test's event loop
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _generate(f"sqlite+aiosqlite:///{path}")).result()
    return path


@pytest.fixture
async def engine(year_db: Path, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = open_engine(copy_database(year_db, tmp_path))
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
async def client(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> AsyncIterator[Client]:
    await add_member(engine, passwords, "sup", Role.SUPERVISOR, language="en")
    await add_member(engine, passwords, "sup-ja", Role.SUPERVISOR, language="ja")
    await add_member(engine, passwords, "agent-a", Role.AGENT)
    app = create_app(report_config(), engine, clock, passwords=passwords)
    async with TestClient(TestServer(app)) as c:
        yield c


MARCH = {"from": "2026-03-01", "to": "2026-03-31", "queue": "moving", "interval": "day"}


def section(html: str, marker: str) -> str:
    return html.split(marker, 1)[1]


async def test_the_page_shows_the_report_hotline_report_makes(
    client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    await sign_in(client, "sup")
    supervisor = await client.get("/supervisor")
    assert 'href="/supervisor/report"' in await supervisor.text()
    page = await client.get("/supervisor/report", params={**MARCH, "hours": "in"})
    assert page.status == 200
    html = await page.text()
    config = report_config()
    spec = spec_for(
        config.reports,
        date(2026, 3, 1),
        date(2026, 3, 31),
        interval="day",
        queue="moving",
        hours="in",
    )
    report = await make_report(engine, config.reports, spec, HOURS, clock())
    assert report.total.offered > 50
    body = section(html, '<div lang="en" class="report-body">').split("</div>\n</section>")[0]
    assert body == html_sections(report)
    assert body.count("<svg") == 4
    assert "Hotline report 2026-03-01 – 2026-03-31" in html
    # every download is the CLI's rendering of the same report
    for fmt in ("csv", "json", "html"):
        link = re.search(rf'href="([^"]+)" id="download-{fmt}"', html)
        assert link is not None
        got = await client.get(link.group(1).replace("&amp;", "&"))
        assert got.status == 200
        assert f"hotline-report-2026-03-01-2026-03-31.{fmt}" in got.headers["Content-Disposition"]
        assert await got.text() == render(report, fmt)
    data = json.loads(render(report, "json"))
    assert data["queue"] == "moving"
    assert data["hours"] == "in"


async def test_bad_fields_are_400_with_the_field_named(client: Client) -> None:
    await sign_in(client, "sup")
    cases = [
        ({**MARCH, "from": "2026-02-30"}, "from", "Enter a date as YYYY-MM-DD."),
        ({**MARCH, "to": "2026-02-01"}, "to", "The end is before the start."),
        ({**MARCH, "to": "2027-12-31"}, "to", "A report covers at most 366 days."),
        ({**MARCH, "queue": "nosuch"}, "queue", "There is no such queue."),
        ({**MARCH, "interval": "7"}, "interval", "Choose one of the list."),
        ({**MARCH, "interval": "15", "to": "2026-04-30"}, "interval", "up to 31 days"),
        ({**MARCH, "hours": "lunch"}, "hours", "Choose one of the list."),
    ]
    for params, name, message in cases:
        page = await client.get("/supervisor/report", params=params)
        assert page.status == 400, params
        html = await page.text()
        error = section(html, f'id="e-{name}">').split("</p>")[0]
        assert message in error, (params, error)
        assert 'id="report"' not in html
    # the form keeps what was typed
    page = await client.get("/supervisor/report", params={**MARCH, "from": "<b>x"})
    assert 'value="&lt;b&gt;x"' in await page.text()
    bad = await client.get("/supervisor/report/download", params={**MARCH, "format": "pdf"})
    assert bad.status == 400
    assert "format:" in await bad.text()


async def test_what_if_is_erlang_c_beside_erlang_a(client: Client) -> None:
    await sign_in(client, "sup")
    entered = {
        "calls": "100",
        "minutes": "30",
        "aht": "180",
        "target": "80",
        "answer_s": "20",
        "shrinkage": "30",
    }
    page = await client.get("/supervisor/staffing", params=entered)
    assert page.status == 200
    html = await page.text()
    c_row = section(html, 'id="row-erlang_c">').split("</tr>")[0]
    # the Call Centre Helper example: 14 agents, 88.8 %, P(wait) 0.174, ASA 7.8 s, 71.4 %
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", c_row)
    assert cells == ["14", "88.8 %", "0.174", "7.8", "71.4 %", "0.0 %", "20"]
    assert "no patience given" in section(html, 'id="row-erlang_a">').split("</tr>")[0]
    page = await client.get("/supervisor/staffing", params={**entered, "patience": "120"})
    a_row = section(await page.text(), 'id="row-erlang_a">').split("</tr>")[0]
    a_cells = re.findall(r"<td[^>]*>([^<]*)</td>", a_row)
    # callers who hang up shorten the queue: Erlang A needs no more agents than Erlang C
    assert 0 < int(a_cells[0]) <= 14
    assert float(a_cells[5].rstrip(" %")) > 0


async def test_bad_what_if_figures_are_field_errors(client: Client) -> None:
    await sign_in(client, "sup")
    page = await client.get(
        "/supervisor/staffing",
        params={
            "calls": "lots",
            "minutes": "45",
            "aht": "-3",
            "target": "150",
            "answer_s": "",
            "shrinkage": "nan",
            "patience": "inf",
        },
    )
    assert page.status == 400
    html = await page.text()
    expected = {
        "calls": "Enter a number.",
        "minutes": "Choose one of the list.",
        "aht": "The value is out of range.",
        "target": "The value is out of range.",
        "answer_s": "Enter a value.",
        "shrinkage": "The value is out of range.",
        "patience": "The value is out of range.",
    }
    for name, message in expected.items():
        assert message in section(html, f'id="e-{name}">').split("</p>")[0], name
    assert 'id="what-if-result"' not in html
    huge = await client.get(
        "/supervisor/staffing",
        params={
            "calls": "20000",
            "minutes": "30",
            "aht": "7200",
            "target": "80",
            "answer_s": "20",
            "shrinkage": "30",
        },
    )
    assert huge.status == 400
    assert "at most 400 erlangs" in await huge.text()


async def test_the_peak_plan_is_last_march_and_april(
    client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    await sign_in(client, "sup")
    page = await client.get("/supervisor/staffing")
    assert 'value="2026"' in section(await page.text(), 'id="field-year"')
    page = await client.get(
        "/supervisor/staffing", params={"year": "2026", "plan_minutes": "60", "plan_queue": ""}
    )
    assert page.status == 200
    html = await page.text()
    assert "2026-03-01 – 2026-04-30" in html
    config = report_config()
    spec = spec_for(config.reports, date(2026, 3, 1), date(2026, 4, 30))
    plan = await make_plan(
        engine,
        config.reports,
        spec,
        HOURS,
        clock(),
        minutes=60,
        target=target_of(config.reports),
        open_minutes=PHONE.open_minutes,
    )
    assert len(plan) >= 10
    table = section(html, 'id="peak-plan"').split("</table>")[0]
    shown = re.findall(r'class="agents-c">(\d+)<', table)
    assert shown == [str(row.erlang_c.agents) for row in plan]
    assert all(row.erlang_c.agents >= 1 for row in plan)
    labels = re.findall(r'<th scope="row">(\d\d:\d\d)</th>', table)
    assert labels == [row.label for row in plan]
    assert {"09:00", "11:00", "13:00"} <= set(labels)
    future = await client.get("/supervisor/staffing", params={"year": "2027"})
    assert future.status == 400
    assert "has not come yet" in await future.text()
    bad = await client.get("/supervisor/staffing", params={"year": "1999", "plan_queue": "x"})
    html = await bad.text()
    assert bad.status == 400
    assert "The value is out of range." in section(html, 'id="e-year">')
    assert "There is no such queue." in section(html, 'id="e-plan_queue">')


async def test_the_pages_speak_japanese(client: Client) -> None:
    await sign_in(client, "sup-ja")
    page = await client.get("/supervisor/report", params={**MARCH, "from": "x"})
    html = await page.text()
    assert "応答実績レポート" in html
    assert "日付を YYYY-MM-DD で入力してください。" in html
    staffing = await client.get("/supervisor/staffing")
    assert "要員計画（アーラン C／A）" in await staffing.text()


async def test_agents_are_refused(client: Client) -> None:
    await sign_in(client, "agent-a")
    for path in ("/supervisor/report", "/supervisor/report/download", "/supervisor/staffing"):
        got = await client.get(path, params=MARCH, allow_redirects=False)
        assert got.status == 403, path
