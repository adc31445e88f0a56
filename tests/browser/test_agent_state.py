"""The agent's state on the agent page in headless Chromium: signing in leaves the agent out
of the queue, Ready and Pause (with a reason, from the keyboard) change it without a reload,
the time in state counts, and a reload or a restart of the console keeps it."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from ivr.store.presence import PresenceStore
from ivr.web.server import serve_console
from tests.browser.conftest import ARTIFACTS, Console, sign_in
from tests.support.console import console_config

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_an_agent_goes_ready_then_pauses_with_a_reason(page: Page, console: Console) -> None:
    await sign_in(page, console, "agent1")
    await expect(page).to_have_url(console.url("/agent"))
    status = page.locator("#state-status")
    await expect(status).to_have_text("受付停止（キューからログアウト）")  # never ready by itself
    await expect(page.locator("#agent-state")).to_have_attribute("data-live", "yes")
    await page.click("#go-ready")
    await expect(status).to_have_attribute("data-status", "ready")
    await expect(status).to_have_text("受付可")
    assert page.url == console.url("/agent")  # no page load: the script sent it
    # from the keyboard: the reason list and the Pause button have access keys
    await page.keyboard.press("Alt+e")
    await expect(page.locator("#pause-reason")).to_be_focused()
    await page.select_option("#pause-reason", "training")
    await page.keyboard.press("Alt+p")
    await expect(status).to_have_attribute("data-status", "paused")
    await expect(page.locator("#state-reason")).to_have_text("（研修）")
    stored = (await PresenceStore(console.engine).load())["agent1"]
    assert (stored.status, stored.reason) == ("paused", "training")

    console.clock.advance(125)  # the next poll brings the server's time in state
    await expect(page.locator("#state-elapsed")).to_have_text(re.compile(r"^2:0\d$"))
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "agent-state-paused.png"), full_page=True)

    await page.reload()
    await expect(status).to_have_attribute("data-status", "paused")
    await expect(page.locator("#state-reason")).to_have_text("（研修）")
    await expect(page.locator("#state-elapsed")).to_have_text(re.compile(r"^2:0\d$"))


async def test_the_state_is_the_same_after_a_console_restart(page: Page, console: Console) -> None:
    await sign_in(page, console, "agent1")
    await page.select_option("#pause-reason", "meeting")
    await page.click("#go-pause")
    await expect(page.locator("#state-reason")).to_have_text("（打ち合わせ）")
    # a new console on the same database (the fixture's keeps running: a second process)
    async with serve_console(console_config(port=0), console.engine, clock=console.clock) as site:
        # cookies do not tell ports apart: the session (in the same database) holds there too
        await page.goto(site.url + "/agent")
        await expect(page.locator("#state-status")).to_have_attribute("data-status", "paused")
        await expect(page.locator("#state-reason")).to_have_text("（打ち合わせ）")


async def test_signing_out_logs_the_agent_out_of_the_queue(page: Page, console: Console) -> None:
    await sign_in(page, console, "agent1")
    await page.click("#go-ready")
    await expect(page.locator("#state-status")).to_have_attribute("data-status", "ready")
    await page.click("#sign-out")
    await expect(page).to_have_url(re.compile(r"/login$"))
    assert (await PresenceStore(console.engine).load())["agent1"].status == "logged_out"
