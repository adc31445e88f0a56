"""The screen-pop from a real call: the engine (`hotline run`'s composition, with the console)
on the sandboxed Asterisk, an agent signed in in headless Chromium and ready, a SIPp caller
with a known caller ID who keys 1 (Japanese) and 0 (operator). The pop is on the agent's page
while the agent's phone (a SIPp UAS) still rings, with the caller's account, the IVR path and
the time waited; then the phone answers and the page says so. The offer → pop latency (offer
time from the trail, pop time from the page) goes to the test artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from playwright.async_api import Page, expect

from ivr.app import Engine
from ivr.store.tables import audit_log, call_events
from tests.browser.conftest import ARTIFACTS, CALLER, IVR_S, Rig
from tests.support.console import PASSWORD
from tests.support.sandbox import Sandbox
from tests.support.sipp import Sipp, caller_args, keys_scenario

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.asyncio(loop_scope="session"),
]

# the agent's phone rings this long before it answers (tests/sipp/phone_ring_8s.xml): the pop
# must be on the page before then
RING_S = 8


@pytest_asyncio.fixture(loop_scope="session")
async def hotline(rig: Rig) -> tuple[Engine, str, Sipp]:
    """The engine with its console, agent1 on a ringing SIPp phone; (engine, console URL,
    the phone)."""
    phone = await rig.phone("phone_ring_8s.xml", talk_ms=4000)
    line = await rig.start()
    await line.agent("agent1", phone, name="水道 花子")
    return line.engine, line.url, phone


async def test_the_pop_is_on_the_page_while_the_agents_phone_rings(
    page: Page, hotline: tuple[Engine, str, Sipp], tmp_path: Path, sandbox: Sandbox
) -> None:
    engine, url, phone = hotline
    assert engine.db is not None
    await page.goto(url + "/login")
    await page.fill("#login", "agent1")
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")
    await page.click("#go-ready")
    await expect(page.locator("#state-status")).to_have_attribute("data-status", "ready")
    desk = page.locator("#live-desk")
    await expect(desk).to_have_attribute("data-connected", "true")

    caller = await Sipp(
        keys_scenario(tmp_path, "10", gap_ms=2500, hang_up_after_ms=None),
        caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
        tmp_path,
    ).start()
    try:
        # the caller goes through the greeting and the main menu (~10 s), then is offered; the
        # phone rings for RING_S: the pop is there before it is answered
        await expect(page.locator("#pop-holder-name")).to_have_text("試験 1", timeout=IVR_S * 1000)
        await expect(desk).to_have_attribute("data-phase", "ringing", timeout=1000)
        await expect(page.locator("#pop-caller")).to_contain_text("093-582-1234")
        path = page.locator("#pop-ivr-path")
        await expect(path).to_contain_text("greeting")
        await expect(path).to_contain_text("main_menu → 0")
        await expect(page.locator("#pop-waited")).to_contain_text("秒")
        latency_ms = await desk.get_attribute("data-pop-latency-ms")
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "agent-screen-pop.png"), full_page=True)

        # the phone answers: the page follows
        await expect(desk).to_have_attribute("data-phase", "answered", timeout=RING_S * 2000)
        result = await caller.wait()
        assert result.ok, result.output[-500:]
        assert (await phone.wait()).ok
    finally:
        caller.kill()

    await engine.supervisor.wait_idle()
    async with engine.db.connect() as conn:
        kinds = (
            await conn.execute(
                sa.select(call_events.c.kind, call_events.c.at).order_by(call_events.c.id)
            )
        ).all()
        audits = (
            await conn.execute(
                sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.account_id)
            )
        ).all()
    # every account the agent was shown is audited with the agent
    assert ("agent:agent1", "screen_pop", 1) in {(a.actor, a.action, a.account_id) for a in audits}
    offered = next(at for kind, at in kinds if kind == "offered")
    answered = next(at for kind, at in kinds if kind == "answered")
    (ARTIFACTS / "screen-pop-latency.json").write_text(
        json.dumps(
            {
                "offer_to_pop_ms_on_the_page": float(latency_ms) if latency_ms else None,
                "offered_at": offered.isoformat(),
                "answered_at": answered.isoformat(),
            },
            indent=2,
        ),
        encoding="utf-8",
    )
