"""Agent presence and the agent trail in the database (SQLite and PostgreSQL): the pool built
from staff writes every change, and a new pool on the same database (an engine restart) puts
every agent back where they were."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters.agents import DbAgentTrail, open_agent_pool
from ivr.store.presence import AgentEntry, Presence, PresenceStore
from ivr.store.staff import NewStaff, Role, StaffStore
from routing.agents import AgentChange
from routing.config import AgentConfig
from routing.policy import AgentState

pytestmark = pytest.mark.integration

T0 = datetime(2027, 2, 10, 1, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def staff(engine: AsyncEngine) -> None:
    store = StaffStore(engine)
    for login, role, endpoint in [
        ("agent1", Role.AGENT, "PJSIP/agent1"),
        ("agent2", Role.AGENT, "PJSIP/agent2"),
        ("agent3", Role.AGENT, "PJSIP/agent3"),
        ("admin", Role.ADMIN, None),
    ]:
        await store.add(NewStaff(login, login, role, endpoint, ("billing",)), "hash", T0)


async def test_every_change_is_stored_and_a_restart_restores_the_presence(
    engine: AsyncEngine,
) -> None:
    await staff(engine)
    clock = Clock()
    pool, trail = await open_agent_pool(engine, clock=clock)
    assert pool.ids() == ["agent1", "agent2", "agent3"]
    pool.request_ready("agent1")
    clock.advance(10)
    pool.request_pause("agent2", "training")
    pool.request_ready("agent3")
    pool.offer("agent3", "call-1")
    pool.answered("agent3")  # on a call when the engine stops: ready again after the restart
    assert await trail.flush()
    await trail.aclose()

    clock.advance(300)
    again, second = await open_agent_pool(engine, clock=clock)
    try:
        assert again.state("agent1") == AgentState("ready", T0)
        assert again.state("agent2") == AgentState("paused", T0 + timedelta(seconds=10), "training")
        assert again.state("agent3").status == "ready"
        assert again.select() == "agent1"
    finally:
        await second.aclose()
    stored = await PresenceStore(engine).load()
    assert stored["agent2"].endpoint == "PJSIP/agent2"
    events = await PresenceStore(engine).events("agent3")
    assert [(e.event, e.status, e.call_id) for e in events] == [
        ("LogIn", "ready", None),
        ("Offer", "offered", "call-1"),
        ("Answer", "on_call", "call-1"),
    ]


async def test_the_demo_seed_is_ready_once(engine: AsyncEngine) -> None:
    await staff(engine)
    seed = {"agent1": AgentConfig(endpoint="PJSIP/agent1", ready_at_start=True)}
    pool, trail = await open_agent_pool(engine, seed=seed)
    assert pool.state("agent1").status == "ready"
    pool.request_log_out("agent1")
    await trail.aclose()
    again, second = await open_agent_pool(engine, seed=seed)
    await second.aclose()
    assert again.state("agent1").status == "logged_out"  # the agent's own choice wins


async def test_a_change_the_database_refuses_does_not_block_the_rest(engine: AsyncEngine) -> None:
    await staff(engine)
    trail = DbAgentTrail(PresenceStore(engine), interval_s=0.01)
    ready = AgentState("ready", T0)
    trail(AgentChange("nobody", T0, "LogIn", "logged_out", ready, ready, "PJSIP/x"))
    assert await trail.flush()
    trail(AgentChange("agent1", T0, "LogIn", "logged_out", ready, ready, "PJSIP/agent1"))
    assert await trail.flush()
    await trail.aclose()
    assert [e.login for e in await PresenceStore(engine).events()] == ["agent1"]


async def test_one_batch_keeps_each_agents_newest_presence(engine: AsyncEngine) -> None:
    await staff(engine)
    store = PresenceStore(engine)
    entries = [
        AgentEntry(
            "agent1", T0, "LogIn", "logged_out", "ready", presence=Presence("agent1", "ready", T0)
        ),
        AgentEntry(
            "agent1",
            T0 + timedelta(seconds=1),
            "Pause",
            "ready",
            "paused",
            "lunch",
            presence=Presence("agent1", "paused", T0 + timedelta(seconds=1), "lunch"),
        ),
    ]
    await store.append(entries, T0)
    assert (await store.load())["agent1"].reason == "lunch"
    assert len(await store.events("agent1")) == 2
