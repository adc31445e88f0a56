"""A supervisor listens to a real call from the wallboard (issue 13): the engine with its console
on the sandboxed Asterisk, a SIPp caller, an agent on a SIPp phone, and the supervisor's own
SIPp phone (the sandbox's `agent2` endpoint settings, dialled at the supervisor's SIPp port).

The supervisor presses Listen (聞く) on the agent's row: their phone rings and answers, and
Asterisk has the supervisor's channel and a snoop on the CALLER's channel in one bridge. What
the supervisor hears is measured (tests/support/hearing.py): silence while caller and agent are
silent SIPp phones, then — the agent puts the caller on hold, the board shows 保留中 live — the
hold music the caller hears. The agent resumes (保留中 goes), the caller hangs up: the
supervisor's phone gets its BYE (the SIPp scenario only passes so), the snoop and the bridge
are gone, and the audit log says who listened to which call. An agent cannot listen (403)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import sqlalchemy as sa
from playwright.async_api import Page, expect

from ivr.errors import AriError, ChannelGone
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.store.tables import audit_log
from tests.browser.conftest import ARTIFACTS, IVR_S, STEP_S, Rig, finished, ready
from tests.browser.test_call_hold import ears
from tests.browser.test_wallboard_calls import supervisor
from tests.support.console import add_member
from tests.support.hearing import LOUD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.asyncio(loop_scope="session"),
]


async def test_a_supervisor_listens_to_a_call_from_their_phone(
    rig: Rig, contexts: Callable[[], Awaitable[Page]]
) -> None:
    new_page = contexts
    agent_phone = await rig.phone("phone_ring_wait.xml")
    boss_phone = await rig.phone("phone_ring_wait.xml")
    line = await rig.start(wrap_up_s=0)
    await line.agent("agent1", agent_phone)
    await add_member(
        line.db,
        Passwords.for_tests(),
        "boss",
        Role.SUPERVISOR,
        endpoint=f"PJSIP/agent2/sip:boss@127.0.0.1:{boss_phone.port}",
    )
    agent, board = await new_page(), await new_page()
    await ready(agent, line.url, "agent1")
    await supervisor(board, line.url)
    listening = line.engine.listening
    assert listening is not None

    caller = await line.call()
    row = board.locator('tr[data-agent="agent1"]')
    await expect(row).to_have_attribute("data-status", "on_call", timeout=(IVR_S + STEP_S) * 1000)
    pool = line.engine.backends.agents
    assert pool is not None
    call_id = pool.state("agent1").call_id
    assert call_id is not None

    # an agent cannot listen, even with their own page's CSRF token
    token = await agent.locator('input[name="csrf_token"]').first.get_attribute("value")
    refused = await agent.request.post(
        line.url + "/supervisor/wallboard/agents/agent1/listen",
        form={"csrf_token": token or ""},
        max_redirects=0,
    )
    assert refused.status == 403

    await row.locator(".wall-listen").click()
    await expect(board).to_have_url(line.url + "/supervisor/wallboard")
    async with asyncio.timeout(STEP_S):
        while not listening.active:  # noqa: ASYNC110 — the listen's task is the engine's
            await asyncio.sleep(0.1)
    [listen] = listening.active.values()
    ari = line.engine.ari
    async with asyncio.timeout(STEP_S):  # the phone rings 2 s, then answers
        while True:
            try:
                bridge = await ari.get_bridge(listen.bridge)
            except AriError:
                bridge = None
            if bridge is not None and set(bridge.channels) == {listen.snoop, listen.phone}:
                break
            await asyncio.sleep(0.2)
    snoop = await ari.get_channel(listen.snoop)
    # Asterisk names a snoop after the unique id (our channel id) of the channel it spies on
    assert snoop.name.startswith(f"Snoop/{call_id}-"), snoop.name
    assert call_id not in bridge.channels  # the caller is in no bridge of the listen's

    async with ears(line) as hears:
        # caller and agent are silent SIPp phones: so is what the supervisor hears
        assert await hears.level(listen.phone) < LOUD
        await agent.locator("#call-hold").click()
        await expect(row.locator(".wall-on-hold")).to_have_text("保留中", timeout=STEP_S * 1000)
        ARTIFACTS.mkdir(exist_ok=True)
        await board.screenshot(path=str(ARTIFACTS / "wallboard-listen-hold.png"), full_page=True)
        # the supervisor hears what the caller hears: the hold music
        assert await hears.level(listen.phone) > LOUD
        await agent.locator("#call-hold").click()
        await expect(row.locator(".wall-on-hold")).to_have_count(0, timeout=STEP_S * 1000)

    # the caller hangs up: the listen ends with the call, the supervisor's phone is hung up
    await ari.hangup(call_id)
    await finished(caller)
    await finished(agent_phone)
    await finished(boss_phone)
    async with asyncio.timeout(STEP_S):
        while listening.active:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    with pytest.raises(AriError):
        await ari.get_bridge(listen.bridge)
    for gone in (listen.snoop, listen.phone):  # the live channels, not a list's snapshots
        with pytest.raises(ChannelGone):
            await ari.get_variable(gone, "CHANNEL(name)")
    async with line.db.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(audit_log.c.actor, audit_log.c.call_id, audit_log.c.at).where(
                    audit_log.c.action == "wallboard_listen"
                )
            )
        ).all()
    assert [(r.actor, r.call_id) for r in rows] == [("supervisor:boss", call_id)]
