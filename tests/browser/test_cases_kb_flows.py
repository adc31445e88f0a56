"""Complaints, the knowledge base and the flows page in headless Chromium: a complaint an agent
keys reaches the department's work list, the department takes it in hand and answers it and the
agent's open case list shows each step without a reload;
a half-width katakana search finds the full-width FAQ entry an admin wrote; the flows page shows
a rejected edit's file:line and a simulate transcript; an agent opens no admin page."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
import yaml
from aiohttp import web
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.calls.flows import FlowRegistry
from ivr.config import parse_config
from ivr.store.db import open_engine
from ivr.store.knowledge import EntryDraft, KnowledgeBase
from ivr.store.passwords import Passwords
from ivr.store.staff import NewStaff, Role, StaffStore
from ivr.store.tables import call_events, calls
from ivr.web.app import create_app
from ivr.web.desk import DESK
from tests.browser.conftest import ARTIFACTS
from tests.support.console import PASSWORD, T0, VirtualClock, copy_database

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[2]
SAID = "道路の下から水が湧いている。"
QUESTION = "スイドウ料金の支払い方法は？"
ANSWER = "口座振替、コンビニ、クレジットカードでお支払いいただけます。"


@dataclass
class Site:
    base: str
    registry: FlowRegistry
    app: web.Application
    engine: AsyncEngine

    def url(self, path: str) -> str:
        return self.base + path


@pytest_asyncio.fixture(loop_scope="session")
async def site(template_db: Path, tmp_path: Path) -> AsyncIterator[Site]:
    # the shipped config: its queues and departments are what the flows name
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    config = parse_config({**shipped, "console": {**shipped["console"], "port": 0}}, {})
    folder = tmp_path / "dialplans"
    folder.mkdir()
    for source in (ROOT / "dialplans").glob("*.yaml"):
        shutil.copy(source, folder / source.name)
    registry = FlowRegistry(folder, ROOT / config.flows.catalog, config)
    registry.load()
    engine = open_engine(copy_database(template_db, tmp_path))
    passwords = Passwords.for_tests()
    staff = StaffStore(engine)
    hashed = await passwords.hash(PASSWORD)
    for login, role, skills, endpoint in (
        ("agent1", Role.AGENT, ("billing",), "PJSIP/agent1"),
        ("dept1", Role.AGENT, ("dept:construction",), None),
        ("root", Role.ADMIN, (), None),
    ):
        member = NewStaff(login, f"Staff {login}", role, endpoint, skills, "en")
        await staff.add(member, hashed, T0)
    app = create_app(config, engine, VirtualClock(), passwords=passwords, flow_registry=registry)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        tcp = web.TCPSite(runner, "127.0.0.1", 0)
        await tcp.start()
        yield Site(f"http://127.0.0.1:{runner.addresses[0][1]}", registry, app, engine)
    finally:
        await runner.cleanup()
        await engine.dispose()


async def signed_in(browser: Browser, site: Site, login: str) -> Page:
    context = await browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await page.goto(site.url("/login"))
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")
    await expect(page.locator("#who-name")).to_have_text(f"Staff {login}")
    return page


async def test_a_complaint_reaches_the_department_and_the_agent_sees_it_answered(
    browser: Browser, site: Site
) -> None:
    agent = await signed_in(browser, site, "agent1")
    dept = await signed_in(browser, site, "dept1")
    try:
        await agent.click("#link-cases")
        await agent.select_option("#f-kind", "complaint")
        await agent.select_option("#f-category", "road_and_pipes")
        await agent.click("#case-save")  # nothing said: refused, the field says why
        await expect(agent.locator("#e-said")).to_have_text("Enter a value.")
        await agent.fill("#f-said", SAID)
        await agent.select_option("#f-department", "construction")
        await agent.click("#case-save")
        await expect(agent.locator("#saved-note")).to_contain_text("Saved (number 1)")
        await expect(agent.locator("#my-cases #case-1 .case-status")).to_have_text("Received")
        # the agent's list listens for the department's steps (no reload from here on)
        await expect(agent.locator("#my-cases")).to_have_attribute("data-live", "true")
        status = agent.locator("#my-cases #case-1")

        await dept.goto(site.url("/agent/cases"))
        await dept.click("#link-department-construction")
        row = dept.locator("#work-list #case-1")
        await expect(row).to_contain_text(SAID)
        await dept.click("#take-1")
        await expect(row.locator(".case-status")).to_contain_text("In hand: agent:dept1")
        await expect(status.locator(".case-status")).to_contain_text("In hand — agent:dept1")
        await expect(status.locator(".case-status")).to_have_attribute("data-status", "in_hand")
        await dept.fill("#answer-1", "職員が現地で止水しました。")
        await dept.click("#answer-button-1")
        await expect(row.locator(".case-status")).to_contain_text("Answered: agent:dept1")

        await expect(status.locator(".case-status")).to_contain_text("Answered — agent:dept1")
        await expect(status).to_contain_text("職員が現地で止水しました。")
        live = await status.inner_text()
        await agent.reload()  # the page as the server renders it says the same, to the minute
        assert await status.inner_text() == live
        ARTIFACTS.mkdir(exist_ok=True)
        await agent.screenshot(path=str(ARTIFACTS / "agent-cases.png"), full_page=True)
    finally:
        await agent.context.close()
        await dept.context.close()


async def test_a_half_width_kana_search_finds_the_full_width_entry(
    browser: Browser, site: Site
) -> None:
    admin = await signed_in(browser, site, "root")
    agent = await signed_in(browser, site, "agent1")
    try:
        await admin.click("#link-kb-admin")
        await admin.select_option("#f-lang", "ja")
        await admin.fill("#f-question", QUESTION)
        await admin.fill("#f-answer", ANSWER)
        await admin.fill("#f-category", "billing")
        await admin.click("#entry-save")
        await expect(admin.locator("#kb-live #entry-1")).to_contain_text(QUESTION)

        await agent.click("#link-kb")
        await agent.fill("#kb-q", "ｽｲﾄﾞｳ")
        await agent.click("#kb-search-button")
        await expect(agent.locator("#kb-results #kb-1 .kb-question")).to_have_text(QUESTION)
        await expect(agent.locator("#kb-results #kb-1 .kb-answer")).to_have_text(ANSWER)
    finally:
        await admin.context.close()
        await agent.context.close()


async def test_the_flows_page_shows_a_rejected_edit_and_a_simulation(
    browser: Browser, site: Site
) -> None:
    broken = site.registry.directory / "hotline.yaml"
    broken.write_text(broken.read_text(encoding="utf-8") + "\n  bogus: [\n", encoding="utf-8")
    assert not site.registry.reload_if_changed()
    admin = await signed_in(browser, site, "root")
    try:
        await admin.click("#link-flows")
        await expect(admin.locator("#flow-hotline")).to_be_visible()
        await expect(admin.locator("#rejected-errors li").first).to_contain_text(f"{broken}:")
        graph = admin.locator("#graph-hotline")
        await expect(graph).to_be_visible()
        assert await graph.evaluate("img => img.naturalWidth") > 100

        await admin.select_option("#f-flow", "hotline")
        await admin.fill("#f-caller", "withheld")
        await admin.fill("#f-keys", "2 1")
        await admin.fill("#f-at", "2027-02-10T10:00")
        await admin.select_option("#f-lang", "en")
        await admin.click("#simulate-run")
        transcript = admin.locator("#transcript")
        await expect(transcript).to_contain_text("CALLER")
        ARTIFACTS.mkdir(exist_ok=True)
        await admin.screenshot(path=str(ARTIFACTS / "admin-flows.png"), full_page=True)
    finally:
        await admin.context.close()


async def test_an_agent_opens_no_admin_page(browser: Browser, site: Site) -> None:
    agent = await signed_in(browser, site, "agent1")
    try:
        await expect(agent.locator("#link-kb")).to_be_visible()
        await expect(agent.locator("a[href='/admin']")).to_have_count(0)
        for path in ("/admin", "/admin/kb", "/admin/flows", "/admin/notices", "/supervisor"):
            answer = await agent.goto(site.url(path))
            assert answer is not None
            assert answer.status == 403, path
    finally:
        await agent.context.close()


async def test_the_pop_lists_the_entries_for_the_callers_ivr_path(
    browser: Browser, site: Site
) -> None:
    async with site.engine.begin() as conn:
        await conn.execute(
            sa.insert(calls).values(id="call-5", caller_kind="number", started_at=T0)
        )
        await conn.execute(
            sa.insert(call_events),
            [
                {"call_id": "call-5", "at": T0, "kind": "entered_node", "data": {"node": n}}
                for n in ("greeting", "main_menu", "outage_info")
            ],
        )
    entry = await KnowledgeBase(site.engine).add(
        EntryDraft("ja", "断水はいつまで？", "正午までの予定です。", "outage_info"),
        "admin:root",
        T0,
    )
    agent = await signed_in(browser, site, "agent1")
    try:
        await agent.goto(site.url("/agent"))
        await expect(agent.locator("#kb-suggest")).to_be_hidden()
        pool = site.app[DESK].pool
        assert pool is not None
        pool.log_in("agent1")
        pool.offer("agent1", "call-5")
        # the offer as agent-live.js hands it on to the page's other scripts
        await agent.evaluate(
            "document.dispatchEvent(new CustomEvent('console-message',"
            " {detail: {type: 'offer', call_id: 'call-5'}}))"
        )
        suggestion = agent.locator(f"#kb-suggest #suggest-{entry.id}")
        await expect(suggestion.locator(".kb-answer")).to_have_text("正午までの予定です。")
        await expect(agent.locator("#kb-suggest")).to_be_visible()
    finally:
        await agent.context.close()


async def test_a_department_an_admin_adds_is_offered_on_the_agents_complaint_form(
    browser: Browser, site: Site
) -> None:
    """No restart: the agent's next look at the form offers it, by its name; the case keyed
    for it lands on its work list."""
    agent = await signed_in(browser, site, "agent1")
    admin = await signed_in(browser, site, "root")
    try:
        await agent.click("#link-cases")
        choice = agent.locator("#f-department option[value='sewerage']")
        await expect(choice).to_have_count(0)

        await admin.goto(site.url("/admin"))
        await admin.click("#link-departments")
        await admin.fill("#f-new-code", "sewerage")
        await admin.fill("#f-new-label_ja", "下水道課")
        await admin.fill("#f-new-label_en", "Sewerage")
        await admin.fill("#f-new-endpoint", "PJSIP/sewerage")
        await admin.click("#dept-add")
        await expect(admin.locator("#done-note")).to_contain_text("sewerage: Added")

        await agent.reload()
        await expect(choice).to_have_text("Sewerage")
        await agent.select_option("#f-kind", "request")
        await agent.select_option("#f-category", "road_and_pipes")
        await agent.fill("#f-said", SAID)
        await agent.select_option("#f-department", "sewerage")
        await agent.click("#case-save")
        await expect(agent.locator("#saved-note")).to_contain_text("Saved (number")

        await admin.goto(site.url("/departments/sewerage"))
        await expect(admin.locator("#work-list")).to_contain_text(SAID)
        ARTIFACTS.mkdir(exist_ok=True)
        await agent.screenshot(path=str(ARTIFACTS / "case-new-department.png"), full_page=True)
    finally:
        await agent.context.close()
        await admin.context.close()
