"""The browser tier: the console served on a free port, driven by headless Chromium (Debian's
`chromium`, through Playwright with `executable_path`: no browser is downloaded).

One browser for the whole session; each test gets its own console (a fresh migrated SQLite
file, a virtual clock, three staff members) and its own browser context (its own cookies).
Everything here runs on the session's event loop, which the browser lives on.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.db import open_engine
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.server import ConsoleSite, serve_console
from tests.support.console import (
    PASSWORD,
    VirtualClock,
    add_member,
    console_config,
    copy_database,
    make_template,
)

CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@dataclass
class Console:
    site: ConsoleSite
    clock: VirtualClock
    engine: AsyncEngine

    def url(self, path: str) -> str:
        return self.site.url + path


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup installs Debian's chromium")
    return CHROMIUM


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def console(template_db: Path, tmp_path: Path) -> AsyncIterator[Console]:
    engine = open_engine(copy_database(template_db, tmp_path))
    clock = VirtualClock()
    passwords = Passwords.for_tests()
    await add_member(
        engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1", name="水道 花子"
    )
    await add_member(engine, passwords, "super", Role.SUPERVISOR, name="監督 次郎")
    await add_member(engine, passwords, "root", Role.ADMIN, name="Admin Taro", language="en")
    try:
        async with serve_console(
            console_config(port=0), engine, clock=clock, passwords=passwords
        ) as site:
            yield Console(site, clock, engine)
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 800})
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def sign_in(page: Page, console: Console, login: str, password: str = PASSWORD) -> None:
    await page.goto(console.url("/login"))
    await page.fill("#login", login)
    await page.fill("#password", password)
    await page.click("#sign-in")
