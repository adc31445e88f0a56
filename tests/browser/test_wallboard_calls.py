"""The supervisor's wallboard with real calls (issue 13): the engine with its console on the
sandboxed Asterisk, an agent ready on a SIPp phone, a supervisor's wallboard in headless
Chromium. A SIPp caller waits (the board counts them waiting while the agent's phone rings),
is answered (answered, ASA), the supervisor logs the agent out from the board, a second caller
waits with nobody to answer, is moved by the supervisor to another queue and hangs up there
(abandoned); every number is checked against the
trail in the database, and a new engine on the same database shows the same numbers. An agent
cannot open the wallboard. The rig (engine, phones, browser contexts) is the call-handling
tests' (tests/browser/test_call_handling.py)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from ivr.app import build, engine_console, flow_registry
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.server import ConsoleSite
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_call_handling import (
    CALLER,
    IVR_S,
    ROOT,
    STEP_S,
    Hotline,
    Rig,
    contexts,
    finished,
    has,
    ready,
    rig,
    sandbox,
)
from tests.support.console import PASSWORD, add_member
from tests.support.sipp import Sipp, caller_args, keys_scenario

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.asyncio(loop_scope="session"),
]

__all__ = ["contexts", "rig", "sandbox"]  # the call-handling tests' fixtures, used here

# the reports' short-abandon threshold (config default): a caller who waited less is a short
# abandon, reported apart from the abandoned
SHORT_ABANDON_S = 6.0
# the second caller stays this long after their last key (the IVR takes a few seconds of it)
HANG_UP_AFTER_MS = 16_000


async def board_says(page: Page, queue: str, **numbers: str) -> None:
    for key, text in numbers.items():
        await expect(page.locator(f'#q-{queue} td[data-k="{key}"]')).to_have_text(
            text, timeout=STEP_S * 1000
        )


def clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


async def supervisor(page: Page, url: str) -> None:
    await page.goto(url + "/login")
    await page.fill("#login", "boss")
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")
    await page.goto(url + "/supervisor/wallboard")
    await expect(page.locator("#wall-live")).to_have_attribute("data-connected", "true")


async def caller(line: Hotline, hang_up_after_ms: int | None) -> Sipp:
    sipp = await Sipp(
        keys_scenario(line.workdir, "10", gap_ms=2500, hang_up_after_ms=hang_up_after_ms),
        caller_args(line.sandbox.sip_host, line.sandbox.sip_port, "1000", CALLER),
        line.workdir,
    ).start()
    line.sipps.append(sipp)
    return sipp


async def test_the_wallboard_counts_real_calls_and_keeps_them_after_a_restart(
    rig: Rig, contexts: Callable[[], Awaitable[Page]]
) -> None:
    phone = await rig.phone("phone_ring_8s.xml", talk_ms=4000)
    line = await rig.start(queue={"when_no_agents": "join"})
    await line.agent("agent1", phone)
    await add_member(line.db, Passwords.for_tests(), "boss", Role.SUPERVISOR)
    agent, board = await contexts(), await contexts()
    await ready(agent, line.url, "agent1")
    # an agent opens no wallboard
    refused = await agent.goto(line.url + "/supervisor/wallboard")
    assert refused is not None
    assert refused.status == 403
    await agent.goto(line.url + "/agent")
    await supervisor(board, line.url)
    await board_says(board, "total", waiting="0", offered="0", ready="1")

    # 1. a caller waits in general while the agent's phone rings (8 s), then is answered
    first = await caller(line, None)
    await board_says(board, "general", waiting="1", offered="1")
    await expect(board.locator("#wall-waiting tbody tr")).to_have_count(1)
    row = board.locator("#wall-waiting tbody tr").first
    await expect(row.locator("td").nth(2)).to_have_text("general")
    await expect(row.locator("td").nth(3)).to_have_text("ja")
    await expect(row).not_to_contain_text("093")  # no caller number on the wall
    await board_says(board, "total", waiting="0", answered="1", on_call="1")
    # when the board that first showed the answer was computed (pushed at once after)
    shown_at = await board.locator("#wall-board").get_attribute("data-at")
    await finished(phone)
    await finished(first)
    rows = await line.trail_until(has("call_ended"))
    enqueued = next(r.at for r in rows if r.kind == "enqueued")
    answered = next(r.at for r in rows if r.kind == "answered")
    asa = clock((answered - enqueued).total_seconds())
    await board_says(board, "total", offered="1", answered="1", abandoned="0", asa=asa)
    await board_says(board, "total", service_level="100.0 %", ready="1")
    assert shown_at is not None
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "wallboard-latency.json").write_text(
        json.dumps(
            {
                "answered_at_on_the_trail": answered.isoformat(),
                "board_with_the_answer_computed_at": shown_at,
                "event_to_board_s": (datetime.fromisoformat(shown_at) - answered).total_seconds(),
            },
            indent=2,
        ),
        encoding="utf-8",
    )

    # 2. the supervisor logs the agent out from the board; a second caller waits for nobody
    # and hangs up
    await board.locator('tr[data-agent="agent1"] .wall-log-out').click()
    await expect(board.locator('tr[data-agent="agent1"]')).to_have_attribute(
        "data-status", "logged_out", timeout=STEP_S * 1000
    )
    await expect(agent.locator("#state-status")).to_have_attribute(
        "data-status", "logged_out", timeout=STEP_S * 1000
    )
    await board_says(board, "total", ready="0", logged_out="1")
    second = await caller(line, HANG_UP_AFTER_MS)
    await board_says(board, "general", waiting="1", offered="2")
    # the supervisor moves the waiting caller to billing: they keep their wait on the board
    waiting = board.locator("#wall-waiting tbody tr").first
    await waiting.locator(".wall-move-queue").select_option("billing")
    await waiting.locator(".wall-move").click()
    await board_says(board, "billing", waiting="1")
    await board_says(board, "general", waiting="0")
    await expect(board.locator("#wall-waiting tbody tr td").nth(2)).to_have_text("billing")
    ARTIFACTS.mkdir(exist_ok=True)
    await board.screenshot(path=str(ARTIFACTS / "wallboard.png"), full_page=True)
    await finished(second)
    rows = await line.trail_until(has("abandoned"))
    moved = next(r for r in rows if r.kind == "moved")
    assert (moved.data.get("queue"), moved.data.get("detail")) == ("general", "billing")
    gave_up = next(r for r in rows if r.kind == "abandoned")
    assert gave_up.data.get("queue") == "billing"
    # the reports' wait in the queue the caller left from: from the enqueue in billing
    joined = [r.at for r in rows if r.kind == "enqueued"][-1]
    waited = (gave_up.at - joined).total_seconds()
    long = waited >= SHORT_ABANDON_S
    # service level, abandons count against: A_T / (A + B)
    expected = {
        "waiting": "0",
        "offered": "2" if long else "1",
        "answered": "1",
        "abandoned": "1" if long else "0",
        "service_level": "50.0 %" if long else "100.0 %",
        "asa": asa,
    }
    await board_says(board, "total", **expected)
    await board_says(board, "general", offered="1", answered="1", abandoned="0", asa=asa)
    await board_says(
        board, "billing", offered="1" if long else "0", abandoned=expected["abandoned"]
    )
    assert waited > 0

    # 3. a new engine on the same database: the same numbers
    config = line.engine.config
    await line.engine.stop()
    engine = await build(config, flows=flow_registry(config, ROOT), components=[engine_console])
    rig.engines.append(engine)
    [site] = engine.components
    assert isinstance(site, ConsoleSite)
    await board.goto(site.url + "/supervisor/wallboard")
    await expect(board.locator("#wall-live")).to_have_attribute("data-connected", "true")
    await board_says(board, "total", **expected)
    assert timedelta(0) < answered - enqueued < timedelta(seconds=IVR_S)
