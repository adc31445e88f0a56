"""The browser tier: the console served on a free port, driven by headless Chromium (Debian's
`chromium`, through Playwright with `executable_path`: no browser is downloaded).

Real calls (the `rig` fixture, below): the engine (`hotline run`'s composition, with the console)
on the sandboxed Asterisk, seeded accounts, agents signed in on SIPp phones and a SIPp caller who
keys 1 (Japanese) and 0 (operator): the one set-up the real-call browser tests share.

One browser for the whole session; each test gets its own console (a fresh migrated SQLite
file, a virtual clock, three staff members) and its own browser context (its own cookies).
Everything here runs on the session's event loop, which the browser lives on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.app import Engine, build, engine_console, flow_registry
from ivr.config import AppConfig, parse_config
from ivr.store.db import open_engine
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.store.tables import call_events
from ivr.web.server import ConsoleSite, serve_console
from tests.integration.conftest import hang_up_leftovers
from tests.integration.store.storedata import seed
from tests.support.console import (
    PASSWORD,
    VirtualClock,
    add_member,
    console_config,
    copy_database,
    make_template,
)
from tests.support.sandbox import Sandbox, provision
from tests.support.sipp import Sipp, SippResult, caller_args, keys_scenario

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


# ---------------------------------------------------------------------- real calls

ROOT = Path(__file__).resolve().parents[2]
CALLER = "0935821234"  # account 1 of the seeded data
ALWAYS = {"always_open": True}
# the longest the caller may take to get through the IVR to the queue (greeting, main menu)
IVR_S = 30
# the longest anything else here may take to show (a page update, a trail row, a bridge)
STEP_S = 15
RING_TIMEOUT_S = 15


@dataclass(frozen=True)
class Row:
    kind: str
    at: datetime
    data: dict[str, Any]


@dataclass
class Hotline:
    engine: Engine
    url: str
    sandbox: Sandbox
    workdir: Path
    sipps: list[Sipp]

    @property
    def db(self) -> AsyncEngine:
        assert self.engine.db is not None
        return self.engine.db

    async def agent(self, login: str, phone: Sipp, name: str | None = None) -> None:
        await add_member(
            self.db,
            Passwords.for_tests(),
            login,
            Role.AGENT,
            endpoint=f"PJSIP/{login}/sip:{login}@127.0.0.1:{phone.port}",
            name=name,
        )

    async def call(self) -> Sipp:
        """The caller: keys 1 then 0, then stays on the line until the hotline hangs up."""
        caller = await Sipp(
            keys_scenario(self.workdir, "10", gap_ms=2500, hang_up_after_ms=None),
            caller_args(self.sandbox.sip_host, self.sandbox.sip_port, "1000", CALLER),
            self.workdir,
        ).start()
        self.sipps.append(caller)
        return caller

    async def trail(self) -> list[Row]:
        async with self.db.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(call_events.c.kind, call_events.c.at, call_events.c.data).order_by(
                        call_events.c.id
                    )
                )
            ).all()
        return [Row(r.kind, r.at, dict(r.data)) for r in rows]

    async def trail_until(self, done: Callable[[list[Row]], bool]) -> list[Row]:
        """The trail once `done` holds of it (the recorder writes in batches: poll it)."""
        async with asyncio.timeout(IVR_S + STEP_S):
            while not done(rows := await self.trail()):  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        return rows


def engine_config(
    sandbox: Sandbox,
    folder: Path,
    wrap_up_s: int,
    departments: dict[str, object],
    queue: dict[str, object],
) -> AppConfig:
    return parse_config(
        {
            "ari": {"reconnect_initial_s": 0.05, "reconnect_max_s": 0.5},
            "database": {"url": f"sqlite+aiosqlite:///{folder / 'hotline.sqlite3'}"},
            "billing": {"database_url": f"sqlite+aiosqlite:///{folder / 'billing.sqlite3'}"},
            "status_path": str(folder / "status.json"),
            "console": {"port": 0},
            "routing": {
                "calendars": {"phone": ALWAYS, "emergency": ALWAYS, "construction": ALWAYS},
                "queues": {
                    name: {
                        "calendar": "phone",
                        "when_no_agents": "overflow",
                        "ring_timeout_s": RING_TIMEOUT_S,
                        "wrap_up_s": wrap_up_s,
                        **queue,
                    }
                    for name in ("general", "moving", "billing", "reconnection")
                },
                "agents": {},
                "departments": {
                    # the flows name these two
                    "emergency_duty": {"on_duty": ["PJSIP/onduty"]},
                    "construction": {"endpoint": "PJSIP/agent3", "calendar": "construction"},
                    **departments,
                },
            },
        },
        {
            "HOTLINE_ARI_URL": sandbox.ari_url,
            "HOTLINE_ARI_USER": sandbox.ari_user,
            "HOTLINE_ARI_PASSWORD": sandbox.ari_password,
        },
    )


@dataclass
class Rig:
    """SIPp phones and the engine of one test."""

    sandbox: Sandbox
    workdir: Path
    sipps: list[Sipp] = field(default_factory=list)
    engines: list[Engine] = field(default_factory=list)

    async def phone(self, scenario: str, talk_ms: int = 0) -> Sipp:
        sipp = await Sipp(scenario, ["-d", str(talk_ms)], self.workdir).start()
        self.sipps.append(sipp)
        return sipp

    async def start(
        self,
        wrap_up_s: int = 0,
        departments: dict[str, object] | None = None,
        queue: dict[str, object] | None = None,
    ) -> Hotline:
        config = engine_config(
            self.sandbox, self.workdir, wrap_up_s, departments or {}, queue or {}
        )
        engine = await build(config, flows=flow_registry(config, ROOT), components=[engine_console])
        self.engines.append(engine)
        [site] = engine.components
        assert isinstance(site, ConsoleSite)
        assert engine.db is not None
        await seed(engine.db)
        return Hotline(engine, site.url, self.sandbox, self.workdir, self.sipps)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return provision()


@pytest_asyncio.fixture(loop_scope="session")
async def rig(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Rig]:
    """The test's phones and engine: the SIPp processes are killed and the engine stopped at
    the end."""
    await hang_up_leftovers(sandbox)
    rig = Rig(sandbox, tmp_path)
    try:
        yield rig
    finally:
        for sipp in rig.sipps:
            sipp.kill()
        for engine in rig.engines:
            await engine.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def contexts(browser: Browser) -> AsyncIterator[Callable[[], Awaitable[Page]]]:
    """Pages, each in its own browser context (its own session cookie)."""
    opened: list[BrowserContext] = []

    async def new_page() -> Page:
        ctx = await browser.new_context(locale="ja-JP", viewport={"width": 1280, "height": 900})
        opened.append(ctx)
        return await ctx.new_page()

    try:
        yield new_page
    finally:
        for ctx in opened:
            await ctx.close()


async def ready(page: Page, url: str, login: str) -> None:
    """Sign in as `login`, go ready, and wait for the live feed."""
    await page.goto(url + "/login")
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")
    await page.click("#go-ready")
    await expect(page.locator("#state-status")).to_have_attribute("data-status", "ready")
    await expect(page.locator("#live-desk")).to_have_attribute("data-connected", "true")


def kinds(rows: list[Row], *wanted: str) -> list[tuple[str, str]]:
    """(kind, agent) of the rows of `wanted` kinds, in order."""
    return [(r.kind, r.data.get("agent", "")) for r in rows if r.kind in wanted]


def has(kind: str, detail: str | None = None) -> Callable[[list[Row]], bool]:
    return lambda rows: any(
        r.kind == kind and (detail is None or r.data.get("detail") == detail) for r in rows
    )


async def finished(sipp: Sipp) -> SippResult:
    result = await sipp.wait()
    assert result.ok, result.output[-800:]
    return result
