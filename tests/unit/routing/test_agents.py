"""The agent pool: moves through the policy state machine, the trail, wrap-up timers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from routing.agents import AgentChange, AgentPool, UnknownAgent, unserved_queues
from routing.config import AgentConfig
from routing.policy import NO_ANSWER, InvalidTransition

pytestmark = [pytest.mark.unit, pytest.mark.looptime]

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def pool(trail: list[AgentChange]) -> AgentPool:
    loop = asyncio.get_running_loop()
    start = loop.time()
    return AgentPool(
        {
            "a1": AgentConfig(endpoint="PJSIP/agent1", skills=("ja",)),
            "a2": AgentConfig(endpoint="PJSIP/agent2", skills=("ja", "en")),
        },
        clock=lambda: T0 + timedelta(seconds=loop.time() - start),
        on_event=trail.append,
    )


async def test_every_move_is_in_the_trail() -> None:
    trail: list[AgentChange] = []
    agents = pool(trail)
    agents.log_in("a1")
    agents.offer("a1", "call-1")
    agents.no_answer("a1")
    assert [(c.event, c.before, c.state.status) for c in trail] == [
        ("LogIn", "logged_out", "ready"),
        ("Offer", "ready", "offered"),
        ("NoAnswer", "offered", "paused"),
    ]
    assert agents.state("a1").reason == NO_ANSWER


async def test_longest_idle_agent_with_the_skill_is_chosen() -> None:
    agents = pool([])
    agents.log_in("a2")
    await asyncio.sleep(5)
    agents.log_in("a1")
    assert agents.select() == "a2"
    assert agents.select(["en"]) == "a2"
    agents.pause("a2", "lunch")
    assert agents.select() == "a1"
    assert agents.select(["en"]) is None
    assert agents.staffing(["ja"]) == (1, 1)


async def test_wrap_up_ends_by_itself() -> None:
    agents = pool([])
    agents.log_in("a1")
    agents.offer("a1", "call-1")
    agents.answered("a1")
    agents.call_ended("a1", wrap_up_s=30)
    assert agents.state("a1").status == "wrap_up"
    assert await agents.changed(60)
    assert agents.state("a1").status == "ready"


async def test_pausing_during_wrap_up_cancels_the_timer() -> None:
    agents = pool([])
    agents.log_in("a1")
    agents.offer("a1", "call-1")
    agents.answered("a1")
    agents.call_ended("a1", wrap_up_s=30)
    agents.pause("a1", "meeting")
    assert not await agents.changed(60)
    assert agents.state("a1").status == "paused"


async def test_refused_moves_and_unknown_agents() -> None:
    agents = pool([])
    with pytest.raises(InvalidTransition):
        agents.offer("a1", "call-1")  # logged out
    with pytest.raises(UnknownAgent):
        agents.log_in("nobody")


async def test_snapshot_for_the_wallboard() -> None:
    agents = pool([])
    agents.log_in("a1")
    agents.pause("a1", "lunch")
    [a1, a2] = agents.snapshot()
    assert (a1.id, a1.status, a1.reason, a1.endpoint) == ("a1", "paused", "lunch", "PJSIP/agent1")
    assert (a2.id, a2.status) == ("a2", "logged_out")


async def test_a_queue_whose_skills_nobody_has_is_named_at_start() -> None:
    # a skill misspelt in config.yaml (or given to nobody in the console): that queue's callers
    # could only wait or overflow; logged out or paused agents still count (they may come back)
    agents = pool([])
    queues = {"general": (), "english": ("en",), "moving": ("movnig",), "both": ("en", "fax")}
    assert unserved_queues(queues, agents) == {"both": ("en", "fax"), "moving": ("movnig",)}
    agents.upsert("a1", AgentConfig(endpoint="PJSIP/agent1", skills=("ja", "movnig")))
    assert unserved_queues(queues, agents) == {"both": ("en", "fax")}
