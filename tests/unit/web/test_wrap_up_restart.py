"""An agent in wrap-up when the engine restarts keeps it: the same call to classify, the deadline
they had, no call offered before it ends; a wrap-up whose deadline passed while the engine was
down is over. The page of the agent is told again (the console feed's `call_ended`, kept by the
hub for a page that opens later)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters.agents import open_agent_pool
from ivr.adapters.wrapups import resume_wrap_ups
from ivr.callerid import CallerId, CallerIdKind
from ivr.store.calls import CallLog, CallOpened, TrailEvent
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.feed import ConsoleFeed
from ivr.web.hub import Hub
from ivr.web.messages import CallEnded
from routing.model import WrapUpEvent
from routing.wrapup import WrapUps
from tests.support.console import VirtualClock, add_member

pytestmark = pytest.mark.unit

CODES: dict[str, object] = {"billing": {}, "other": {}}
WRAP_UP_S = 30.0


async def a_wrap_up_before_the_stop(engine: AsyncEngine, clock: VirtualClock) -> datetime:
    """agent1 takes call c1 of the general queue; the call ends (when: returned); the engine
    stops 5 s later."""
    pool, trail = await open_agent_pool(engine, clock=clock)
    wrap_ups = WrapUps(pool, CODES, lambda _event: None, clock=clock)
    await CallLog(engine).append_many(
        [CallOpened("c1", CallerId(CallerIdKind.WITHHELD, None), clock())]
    )
    pool.request_ready("agent1")
    pool.offer("agent1", "c1")
    pool.answered("agent1")
    clock.advance(60)
    wrap_ups.begin("agent1", "c1", "general", WRAP_UP_S)
    await CallLog(engine).append_many(
        [TrailEvent("c1", "call_ended", clock(), {"queue": "general", "agent": "agent1"})]
    )
    ended_at = clock()
    clock.advance(5)
    pool.close()
    await trail.aclose()
    return ended_at


@pytest.fixture
async def agent(engine: AsyncEngine, passwords: Passwords) -> None:
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")


async def test_the_wrap_up_outlives_the_restart(
    agent: None, engine: AsyncEngine, clock: VirtualClock
) -> None:
    ended_at = await a_wrap_up_before_the_stop(engine, clock)
    pool, trail = await open_agent_pool(engine, clock=clock)
    recorded: list[WrapUpEvent] = []
    wrap_ups = WrapUps(pool, CODES, recorded.append, clock=clock)
    try:
        resumed = await resume_wrap_ups(engine, pool, wrap_ups, clock(), lambda _q: WRAP_UP_S)
        assert list(resumed) == ["agent1"]
        state = pool.state("agent1")
        assert (state.status, state.call_id, state.since) == ("wrap_up", "c1", ended_at)
        last = wrap_ups.last("agent1")
        assert last is not None
        assert (last.call_id, last.queue) == ("c1", "general")
        assert last.until == ended_at + timedelta(seconds=WRAP_UP_S)
        assert pool.select() is None  # no call offered to them meanwhile
        hub = Hub(clock)
        ConsoleFeed(hub, engine).wrap_ups_resumed(pool, wrap_ups)
        [told] = hub.current("agent1")
        assert isinstance(told, CallEnded)
        assert (told.call_id, told.wrap_up_until) == ("c1", last.until)
        # the reason form is still theirs: the code counts for the call, and they are ready
        assert wrap_ups.submit("agent1", "c1", "billing", "notes") == "ok"
        assert [(e.call_id, e.reason, e.ended_by) for e in recorded] == [("c1", "billing", "agent")]
        assert pool.state("agent1").status == "ready"
    finally:
        pool.close()
        await trail.aclose()


async def test_a_wrap_up_whose_deadline_passed_meanwhile_is_over(
    agent: None, engine: AsyncEngine, clock: VirtualClock
) -> None:
    await a_wrap_up_before_the_stop(engine, clock)
    clock.advance(WRAP_UP_S)  # the engine was down longer than the wrap-up left
    pool, trail = await open_agent_pool(engine, clock=clock)
    wrap_ups = WrapUps(pool, CODES, lambda _event: None, clock=clock)
    try:
        assert await resume_wrap_ups(engine, pool, wrap_ups, clock(), lambda _q: WRAP_UP_S) == {}
        assert pool.state("agent1").status == "ready"
        assert wrap_ups.last("agent1") is None
    finally:
        pool.close()
        await trail.aclose()
