"""Handling a real call from the agent page: the engine (`hotline run`'s composition, with the
console) on the sandboxed Asterisk, agents signed in in headless Chromium on SIPp phones, a SIPp
caller who keys 1 (Japanese) and 0 (operator).

- Reject passes the call on: the phone that rang stops (CANCEL), the next agent gets the pop
  and answers.
- A stop request from the pop, then wrap-up: after the agent's phone hangs up the page asks for
  a reason code; the agent opens the stop form from the pop (the account pre-filled), files it
  and reads the confirmation number, back on the desk submits the code with the keyboard: the
  request row (on the call), its billing outbox row and the trail offered → answered → wrap-up
  in time order, and the agent is ready again.
- Attended transfer to a department phone: the agent consults the department, completes, and
  the caller is left bridged with the department.
- A paused agent is not offered a call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.async_api import Page, expect

from ivr.intake.validation import is_business_day
from ivr.store.tables import agent_events, billing_outbox, call_events, service_requests
from tests.browser.conftest import (
    ARTIFACTS,
    CALLER,
    IVR_S,
    ROOT,
    STEP_S,
    Hotline,
    Rig,
    Row,
    contexts,
    finished,
    has,
    kinds,
    ready,
    rig,
    sandbox,
)
from tests.integration.store.storedata import cust

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.asyncio(loop_scope="session"),
]


__all__ = [  # the rig, for the other real-call tests that import it from here
    "CALLER",
    "IVR_S",
    "ROOT",
    "STEP_S",
    "Hotline",
    "Rig",
    "Row",
    "contexts",
    "finished",
    "has",
    "kinds",
    "ready",
    "rig",
    "sandbox",
]  # the rig, for the other real-call tests

MAX_WAIT_S = 6
TOKYO = ZoneInfo("Asia/Tokyo")


async def test_a_reject_passes_the_call_to_the_next_agent(
    rig: Rig, contexts: Callable[[], Awaitable[Page]]
) -> None:
    # agent1 goes ready first, so is the longest idle and is offered the call first; their
    # phone rings until the ring is called off (CANCEL)
    first_phone = await rig.phone("phone_noanswer.xml")
    second_phone = await rig.phone("phone_ring.xml", talk_ms=2000)
    line = await rig.start()
    await line.agent("agent1", first_phone)
    await line.agent("agent2", second_phone)
    first, second = await contexts(), await contexts()
    await ready(first, line.url, "agent1")
    await ready(second, line.url, "agent2")

    caller = await line.call()
    await expect(first.locator("#pop-holder-name")).to_have_text("試験 1", timeout=IVR_S * 1000)
    await expect(first.locator("#call-controls")).to_have_attribute("data-phase", "ringing")
    await first.click("#pop-reject")
    await expect(first.locator("#ringing-controls")).to_be_hidden()

    # the call goes on to agent2: the pop is on their page, their phone answers
    await expect(second.locator("#pop-holder-name")).to_have_text("試験 1", timeout=STEP_S * 1000)
    await expect(second.locator("#live-desk")).to_have_attribute(
        "data-phase", "answered", timeout=STEP_S * 1000
    )
    # agent1 is ready again (a reject is not a pause)
    await expect(first.locator("#state-status")).to_have_attribute("data-status", "ready")
    await finished(first_phone)  # phone_noanswer.xml completes only on a CANCEL
    await finished(second_phone)
    await finished(caller)

    rows = await line.trail_until(has("call_ended"))
    assert kinds(rows, "offered", "rejected", "answered") == [
        ("offered", "agent1"),
        ("rejected", "agent1"),
        ("offered", "agent2"),
        ("answered", "agent2"),
    ]


def stop_date() -> str:
    """A stop date the intake takes: a business day a week or more ahead (2 business days of
    lead, 90 days of horizon)."""
    day = datetime.now(TOKYO).date() + timedelta(days=7)
    while not is_business_day(day):
        day += timedelta(days=1)
    return day.isoformat()


async def test_a_stop_request_from_the_pop_then_wrap_up_from_the_keyboard(
    rig: Rig, page: Page
) -> None:
    phone = await rig.phone("phone.xml", talk_ms=2000)
    line = await rig.start(wrap_up_s=120)
    await line.agent("agent1", phone)
    await ready(page, line.url, "agent1")

    caller = await line.call()
    # the agent's phone answers, talks 2 s and hangs up: the page asks for the wrap-up
    form = page.locator("#wrap-up-form")
    await expect(form).to_be_visible(timeout=(IVR_S + STEP_S) * 1000)
    await expect(page.locator("#state-status")).to_have_attribute("data-status", "wrap_up")

    # the stop request, from the pop: the form has the account the IVR matched by caller ID
    await page.click("#pop-form-stop")
    await expect(page.locator("#f-customer_number")).to_have_value(cust(1))
    await page.fill("#f-stop_date", stop_date())
    await page.click("#intake-submit")
    number = page.locator("#confirmation-number")
    await expect(number).to_be_visible(timeout=STEP_S * 1000)
    confirmation = await number.get_attribute("data-number")
    assert confirmation
    # back on the desk, the wrap-up is still asked for (the page is told again on connecting)
    await page.click("#back-to-desk")
    await expect(form).to_be_visible(timeout=STEP_S * 1000)
    await page.locator("#wrap-up-reason").focus()
    await page.locator("#wrap-up-reason").select_option("leak")
    await page.fill("#wrap-up-notes", "漏水の相談")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "agent-wrap-up.png"), full_page=True)
    await page.keyboard.press("Alt+w")
    await expect(form).to_be_hidden()
    await expect(page.locator("#call-controls")).to_have_attribute("data-wrap-up", "leak")
    await expect(page.locator("#state-status")).to_have_attribute("data-status", "ready")
    await finished(phone)
    await finished(caller)

    rows = await line.trail_until(has("wrap_up"))
    trail = [r for r in rows if r.kind in ("offered", "answered", "call_ended", "wrap_up")]
    assert [r.kind for r in trail] == ["offered", "answered", "call_ended", "wrap_up"]
    times = [r.at for r in trail]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    wrap_up = trail[-1].data
    assert (wrap_up["agent"], wrap_up["reason"], wrap_up["ended_by"]) == (
        "agent1",
        "leak",
        "agent",
    )
    assert wrap_up["notes"] == "漏水の相談"
    async with line.db.connect() as conn:
        changes = (
            await conn.execute(
                sa.select(agent_events.c.before, agent_events.c.status)
                .where(agent_events.c.login == "agent1")
                .order_by(agent_events.c.id)
            )
        ).all()
        filed = (
            await conn.execute(
                sa.select(
                    service_requests.c.id,
                    service_requests.c.kind,
                    service_requests.c.channel,
                    service_requests.c.actor,
                    service_requests.c.call_id,
                    service_requests.c.confirmation,
                    service_requests.c.created_at,
                )
            )
        ).all()
        outbox = (
            await conn.execute(sa.select(billing_outbox.c.request_id, billing_outbox.c.created_at))
        ).all()
        calls_seen = {
            r.call_id for r in await conn.execute(sa.select(call_events.c.call_id).distinct())
        }
    assert [tuple(c) for c in changes][-2:] == [("on_call", "wrap_up"), ("wrap_up", "ready")]
    # the request the agent filed from the pop: on the call, with its billing outbox row
    [request] = filed
    assert (request.kind, request.channel, request.actor) == ("stop", "agent", "agent:agent1")
    assert request.confirmation == confirmation
    assert {request.call_id} == calls_seen
    assert [o.request_id for o in outbox] == [request.id]
    # offered → answered → (the call ends) → the request → wrap-up, in that order in time
    assert times[1] < request.created_at < times[-1]


async def test_an_attended_transfer_leaves_the_caller_with_the_department(
    rig: Rig, page: Page
) -> None:
    agent_phone = await rig.phone("phone_ring_wait.xml")
    # the department answers at once and stays on the line 10 s (consultation and hand-over)
    department = await rig.phone("phone.xml", talk_ms=10_000)
    line = await rig.start(
        departments={
            "billing_office": {
                "endpoint": f"PJSIP/agent3/sip:agent3@127.0.0.1:{department.port}",
                "calendar": "phone",
                "ring_timeout_s": 10,
            }
        }
    )
    await line.agent("agent1", agent_phone)
    await ready(page, line.url, "agent1")

    caller = await line.call()
    await expect(page.locator("#transfer-form")).to_be_visible(timeout=(IVR_S + STEP_S) * 1000)
    await page.locator("#transfer-target").select_option("department:billing_office")
    await page.check("#transfer-attended")
    await page.click("#transfer-go")
    # the department answers: the agent talks to it, the caller is on hold
    complete = page.locator("#transfer-complete")
    await expect(complete).to_be_visible(timeout=STEP_S * 1000)
    await expect(page.locator("#call-controls")).to_have_attribute("data-transfer", "consulting")
    await complete.click()
    await expect(page.locator("#call-controls")).to_have_attribute(
        "data-phase", "wrap_up", timeout=STEP_S * 1000
    )
    await finished(agent_phone)  # the agent's leg was hung up at the hand-over

    caller_id = await call_id(line)
    async with asyncio.timeout(STEP_S):
        while not await bridged_with_department(line, caller_id):  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    # the department talks its 10 s and hangs up; the caller is then hung up too
    await finished(department)
    await finished(caller)

    rows = await line.trail_until(has("call_ended", "transferred"))
    order = [r.kind for r in rows]
    assert order.index("consult_started") < order.index("transfer_connected")
    assert kinds(rows, "offered", "answered", "transfer_requested", "call_ended") == [
        ("offered", "agent1"),
        ("answered", "agent1"),
        ("transfer_requested", "agent1"),
        ("call_ended", "agent1"),
    ]
    assert [r.data.get("department") for r in rows if r.kind == "transfer_connected"] == [
        "billing_office"
    ]


async def test_a_paused_agent_is_not_offered_the_call(rig: Rig, page: Page) -> None:
    # the agent's phone would ring (and log the INVITE) if the call were offered to it
    phone = await rig.phone("phone_noanswer.xml")
    # the caller joins the queue though no agent is ready, waits at most MAX_WAIT_S (longer
    # than the queue's offers take to start), then the queue overflows
    line = await rig.start(queue={"when_no_agents": "join", "max_wait_s": MAX_WAIT_S})
    await line.agent("agent1", phone)
    await ready(page, line.url, "agent1")
    await page.click("#go-pause")
    await expect(page.locator("#state-status")).to_have_attribute("data-status", "paused")

    caller = await line.call()
    rows = await line.trail_until(has("queue_result"))
    assert has("enqueued")(rows)  # the caller did wait in the queue
    assert has("overflow", "max_wait")(rows)  # ... for all of MAX_WAIT_S
    assert [r.data.get("outcome") for r in rows if r.kind == "queue_result"] == ["overflow"]
    assert kinds(rows, "offered") == []
    await expect(page.locator("#pop-holder-name")).to_have_count(0)
    await expect(page.locator("#state-status")).to_have_attribute("data-status", "paused")
    await line.engine.ari.hangup(await call_id(line))
    await finished(caller)
    phone.kill()
    await phone.wait()
    rang = phone.log_file.read_text() if phone.log_file.exists() else ""
    assert "INVITE" not in rang  # the phone never rang


async def call_id(line: Hotline) -> str:
    async with line.db.connect() as conn:
        ids = (await conn.execute(sa.select(call_events.c.call_id).distinct())).scalars().all()
    [only] = ids
    return str(only)


async def bridged_with_department(line: Hotline, caller_id: str) -> bool:
    """Whether a bridge holds the caller's channel and the department phone's (agent3)."""
    channels = {c.id: c.name for c in await line.engine.ari.list_channels()}
    for bridge in await line.engine.ari.list_bridges():
        names = {channels.get(c, "") for c in bridge.channels}
        if caller_id in bridge.channels and any(n.startswith("PJSIP/agent3-") for n in names):
            return True
    return False
