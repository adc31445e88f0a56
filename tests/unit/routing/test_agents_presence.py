"""The agent pool as the console drives it: built from staff, restored after a restart, a pause
or log-out asked for during a call, and the queue that stops offering at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ivr.adapters.agents import agent_profiles, entry_of, restore_presence, seed_demo_ready
from ivr.store.presence import Presence
from ivr.store.staff import Role, StaffMember
from routing.agents import AgentChange, AgentPool, AgentProfile
from routing.config import AgentConfig
from routing.policy import AgentState
from tests.unit.routing.test_queues import FakeCall, rig

pytestmark = [pytest.mark.unit, pytest.mark.looptime]

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def member(login: str, role: Role, endpoint: str | None, *, disabled: bool = False) -> StaffMember:
    return StaffMember(1, login, login, role, endpoint, ("billing",), "ja", disabled, T0, T0)


def pool(trail: list[AgentChange] | None = None) -> AgentPool:
    loop = asyncio.get_running_loop()
    start = loop.time()
    return AgentPool(
        {"a1": AgentProfile("PJSIP/agent1"), "a2": AgentProfile("PJSIP/agent2")},
        clock=lambda: T0 + timedelta(seconds=loop.time() - start),
        on_event=(trail.append if trail is not None else None),
    )


def test_the_pool_is_the_staff_who_take_calls() -> None:
    staff = [
        member("agent1", Role.AGENT, "PJSIP/agent1"),
        member("boss", Role.SUPERVISOR, "PJSIP/agent9"),  # a supervisor with a phone takes calls
        member("quiet", Role.SUPERVISOR, None),
        member("root", Role.ADMIN, "PJSIP/agent8"),
        member("gone", Role.AGENT, "PJSIP/agent7", disabled=True),
    ]
    assert agent_profiles(staff) == {
        "agent1": AgentProfile("PJSIP/agent1", ("billing",)),
        "boss": AgentProfile("PJSIP/agent9", ("billing",)),
    }


async def test_a_new_agent_joins_logged_out_and_a_refresh_keeps_the_state() -> None:
    agents = pool()
    assert agents.upsert("a3", AgentProfile("PJSIP/agent3"))
    assert agents.state("a3").status == "logged_out"
    agents.request_ready("a1")
    assert not agents.upsert("a1", AgentProfile("PJSIP/desk5", ("en",)))
    assert agents.state("a1").status == "ready"
    assert agents.endpoint("a1") == "PJSIP/desk5"
    assert agents.select(["en"]) == "a1"


async def test_restore_puts_agents_back_with_their_own_since() -> None:
    agents = pool()
    stored = {
        "a1": Presence("a1", "ready", T0 - timedelta(minutes=5)),
        "a2": Presence("a2", "paused", T0 - timedelta(minutes=1), "lunch"),
        "gone": Presence("gone", "ready", T0),
    }
    assert restore_presence(agents, stored) == 2
    assert agents.state("a1") == AgentState("ready", T0 - timedelta(minutes=5))
    assert agents.state("a2") == AgentState("paused", T0 - timedelta(minutes=1), "lunch")
    agents.request_ready("a2")
    assert agents.select() == "a1"  # ready the longest, from before the restart
    with pytest.raises(ValueError, match="moved"):
        agents.restore("a1", AgentState("paused", T0, "lunch"))


async def test_the_demo_seed_is_ready_only_on_a_fresh_database() -> None:
    seed = {"a1": AgentConfig(endpoint="PJSIP/agent1", ready_at_start=True)}
    agents = pool()
    assert seed_demo_ready(agents, seed, {}) == ["a1"]
    again = pool()
    logged_out = {"a1": Presence("a1", "logged_out", T0)}
    restore_presence(again, logged_out)
    assert seed_demo_ready(again, seed, logged_out) == []
    assert again.state("a1").status == "logged_out"


async def test_a_pause_during_an_offer_lets_it_ring_and_applies_after_the_call() -> None:
    trail: list[AgentChange] = []
    agents = pool(trail)
    agents.request_ready("a1")
    agents.offer("a1", "call-1")
    agents.request_pause("a1", "break")
    assert agents.state("a1").status == "offered"  # the phone keeps ringing
    assert agents.presence("a1").status == "paused"
    agents.answered("a1")
    agents.call_ended("a1", wrap_up_s=30)
    assert agents.state("a1").status == "wrap_up"
    assert await agents.changed(60)
    assert agents.state("a1").status == "paused"
    assert agents.state("a1").reason == "break"  # never back to ready after asking for a break
    assert agents.pending("a1") is None
    assert [(c.event, c.state.status) for c in trail][-3:] == [
        ("CallEnded", "wrap_up"),
        ("WrapUpDone", "ready"),
        ("Pause", "paused"),
    ]
    requested = next(c for c in trail if c.event == "PauseRequested")
    entry = entry_of(requested)
    assert (entry.status, entry.reason, entry.call_id) == ("offered", "break", "call-1")
    assert entry.presence is not None
    assert entry.presence.status == "paused"


async def test_an_offer_that_rings_out_keeps_the_reason_asked_for() -> None:
    agents = pool()
    agents.request_ready("a1")
    agents.offer("a1", "call-1")
    agents.request_pause("a1", "meeting")
    agents.no_answer("a1")
    assert (agents.state("a1").status, agents.state("a1").reason) == ("paused", "meeting")


async def test_ready_during_the_call_forgets_the_pause_and_log_out_waits() -> None:
    agents = pool()
    agents.request_ready("a1")
    agents.offer("a1", "call-1")
    agents.request_pause("a1", "break")
    agents.request_ready("a1")
    agents.answered("a1")
    agents.call_ended("a1", wrap_up_s=0)
    assert agents.state("a1").status == "ready"
    agents.offer("a1", "call-2")
    agents.answered("a1")
    agents.request_log_out("a1")
    assert agents.state("a1").status == "on_call"
    agents.call_ended("a1", wrap_up_s=0)
    assert agents.state("a1").status == "logged_out"


async def test_pausing_from_logged_out_never_passes_through_an_offer() -> None:
    agents = pool()
    agents.request_pause("a1", "training")
    assert (agents.state("a1").status, agents.state("a1").reason) == ("paused", "training")
    agents.request_log_out("a1")
    agents.request_log_out("a1")  # twice: nothing more happens
    assert agents.state("a1").status == "logged_out"


async def test_the_queue_stops_offering_to_a_paused_agent_at_once() -> None:
    ari, svc, _ = rig(agents=2, when_no_agents="join")
    svc.agents.request_ready("a1")
    await asyncio.sleep(1)
    svc.agents.request_ready("a2")
    svc.agents.request_pause("a1", "break")  # a1 was the longest idle
    answered = await svc.wait(FakeCall(ari, "c1", [True]), "q")
    assert getattr(answered, "agent_id", None) == "a2"
    assert [op[1] for op in ari.ops if op[0] == "originate"] == ["PJSIP/agent2"]


async def test_the_queue_stops_offering_to_a_logged_out_agent_at_once() -> None:
    ari, svc, _ = rig(agents=1, when_no_agents="join")
    svc.agents.request_ready("a1")
    svc.agents.request_log_out("a1")
    call = FakeCall(ari, "c1", [True])
    waiting = asyncio.create_task(svc.wait(call, "q"))
    await asyncio.sleep(30)
    assert [op for op in ari.ops if op[0] == "originate"] == []
    svc.agents.request_ready("a1")
    answered = await waiting
    assert getattr(answered, "agent_id", None) == "a1"


async def test_a_wrap_up_resumed_after_a_restart_ends_at_its_deadline() -> None:
    agents = pool()
    agents.log_in("a1")
    with pytest.raises(ValueError, match="not ready"):
        agents.resume_wrap_up("a2", "c1", T0, 20)  # logged out: nothing to resume
    agents.resume_wrap_up("a1", "c1", T0 - timedelta(seconds=10), 20)
    assert (agents.state("a1").status, agents.state("a1").call_id) == ("wrap_up", "c1")
    assert agents.select() is None
    await asyncio.sleep(19.9)
    assert agents.state("a1").status == "wrap_up"
    await asyncio.sleep(0.2)
    assert agents.state("a1").status == "ready"
    assert agents.select() == "a1"
