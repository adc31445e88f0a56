"""Hold from the agent page on a real call: the engine on the sandboxed Asterisk, the agent
signed in in headless Chromium on a SIPp phone, a SIPp caller.

The agent answers, presses Hold: the button turns to Resume (pushed by the engine), the pop's
header says 保留中 instead of 通話中, and the caller
hears music — what Asterisk writes to the caller's channel is recorded through an ARI snoop
(spy "out": what the caller hears) and is loud, where after Resume (the agent's phone sends
no sound) it is quiet. The agent holds again and the caller hangs up while held: the trail has
two hold_started / hold_ended pairs, the second closed by the hang-up, and the report's hold
time for the call (its `report_contacts` row, and the agent's figure) is the sum of the two
intervals.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import pytest
import sqlalchemy as sa
from playwright.async_api import Page, expect

from ivr.domain import TOKYO, utc_now
from ivr.reports.contacts import one_calendar
from ivr.reports.queries import ReportSpec, build_report
from ivr.reports.rollup import refresh
from ivr.store.tables import calls, report_contacts
from tests.browser.conftest import (
    ARTIFACTS,
    IVR_S,
    STEP_S,
    Hotline,
    Rig,
    Row,
    finished,
    has,
    ready,
)
from tests.integration.conftest import Driver
from tests.support.hearing import LOUD, Ears, recordings_of

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.asyncio(loop_scope="session"),
]


@asynccontextmanager
async def ears(line: Hotline) -> AsyncIterator[Ears]:
    """What the caller hears, through a second ARI app of the test's."""
    driver = Driver(line.sandbox)
    await driver.start()
    try:
        yield Ears(driver.ari, driver.wait_for, recordings_of(line.sandbox.chroot))
    finally:
        await driver.stop()


async def caller_channel(line: Hotline) -> str:
    async with line.db.connect() as conn:
        [only] = (await conn.execute(sa.select(calls.c.id))).scalars().all()
    return str(only)


async def ended(line: Hotline, call_id: str) -> datetime:
    """When the call's row says it ended (the trail is written in batches: poll it)."""
    async with asyncio.timeout(STEP_S):
        while True:
            async with line.db.connect() as conn:
                at = (
                    await conn.execute(sa.select(calls.c.ended_at).where(calls.c.id == call_id))
                ).scalar_one()
            if isinstance(at, datetime):
                return at
            await asyncio.sleep(0.1)


def intervals(rows: list[Row]) -> list[tuple[datetime, datetime, str]]:
    starts = [r for r in rows if r.kind == "hold_started"]
    ends = [r for r in rows if r.kind == "hold_ended"]
    assert len(starts) == len(ends)
    return [(s.at, e.at, str(e.data.get("detail", ""))) for s, e in zip(starts, ends, strict=True)]


async def test_hold_plays_music_to_the_caller_and_the_report_counts_it(
    rig: Rig, page: Page
) -> None:
    phone = await rig.phone("phone_ring_wait.xml")
    line = await rig.start(wrap_up_s=0)
    await line.agent("agent1", phone)
    await ready(page, line.url, "agent1")

    caller = await line.call()
    controls = page.locator("#call-controls")
    hold = page.locator("#call-hold")
    await expect(hold).to_be_visible(timeout=(IVR_S + STEP_S) * 1000)
    await expect(page.locator("#call-hold-label")).to_have_text("保留")
    call_id = await caller_channel(line)
    async with ears(line) as caller_hears:
        # talking: the agent's phone is silent, so is what the caller hears
        assert await caller_hears.level(call_id) < LOUD
        await hold.click()
        await expect(controls).to_have_attribute("data-hold", "held", timeout=STEP_S * 1000)
        await expect(page.locator("#call-hold-label")).to_have_text("保留を解除")
        await expect(page.locator("#hold-status")).to_contain_text("保留中")
        # the pop's header says so too (not 通話中 while the caller hears music)
        await expect(page.locator("#pop-phase")).to_have_text("保留中")
        await expect(page.locator("#transfer-go")).to_be_disabled()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "agent-hold.png"), full_page=True)
        assert await caller_hears.level(call_id) > LOUD  # music, never dead air
        assert {c.id for c in await line.engine.ari.list_channels()} >= {call_id}
        await page.keyboard.press("Alt+h")  # Resume, from the keyboard
        await expect(controls).to_have_attribute("data-hold", "", timeout=STEP_S * 1000)
        await expect(page.locator("#call-hold-label")).to_have_text("保留")
        await expect(page.locator("#pop-phase")).to_have_text("通話中")
        assert await caller_hears.level(call_id) < LOUD  # back with the (silent) agent
        await hold.click()
        await expect(controls).to_have_attribute("data-hold", "held", timeout=STEP_S * 1000)
    # the caller hangs up while held
    await line.engine.ari.hangup(call_id)
    await finished(caller)
    await finished(phone)
    await expect(controls).to_have_attribute("data-hold", "", timeout=STEP_S * 1000)

    rows = await line.trail_until(has("call_ended"))
    held = intervals(rows)
    assert [detail for _s, _e, detail in held] == ["", "caller"]
    steps = ("answered", "hold_started", "hold_ended", "call_ended")
    assert [r.kind for r in rows if r.kind in steps] == [
        "answered",
        "hold_started",
        "hold_ended",
        "hold_started",
        "hold_ended",
        "call_ended",
    ]
    hold_s = sum((e - s).total_seconds() for s, e, _d in held)
    assert hold_s > 0

    # the report: the call's hold time is the trail's intervals, and so is the agent's
    await ended(line, call_id)
    now = utc_now()
    await refresh(line.db, one_calendar(lambda _at: True), now)
    async with line.db.connect() as conn:
        contact = (
            await conn.execute(
                sa.select(report_contacts.c.hold_s, report_contacts.c.talk_s).where(
                    report_contacts.c.call_id == call_id
                )
            )
        ).one()
    assert contact.hold_s == pytest.approx(hold_s, abs=1e-3)
    assert contact.talk_s > 0
    today = now.astimezone(TOKYO).date()
    report = await build_report(line.db, ReportSpec(today, today), now)
    agent = report.agents["agent1"]
    assert agent.handled == 1
    assert agent.hold_s == pytest.approx(hold_s, abs=1e-3)
