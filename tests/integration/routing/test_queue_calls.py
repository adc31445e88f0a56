"""The ACD against the real Asterisk: holding bridge, announcements, offers, callbacks, restart."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from ivr.ari.client import AriClient
from ivr.ari.models import AriEvent, ChannelEnteredBridge, PlaybackStarted
from ivr.errors import AriError
from routing.agents import AgentPool
from routing.config import RoutingConfig
from routing.hours import calendars_of
from routing.policy import NO_ANSWER
from routing.queues import (
    Answered,
    CallbackRequest,
    CallbackScheduled,
    QueueEvent,
    QueueOutcome,
    QueueService,
    QueueTiming,
)
from tests.integration.conftest import Driver
from tests.integration.routing.conftest import APP, endpoint, incoming, phone, unique
from tests.integration.routing.handle import Hub, TestCall, media_uri
from tests.support.sandbox import Sandbox

pytestmark = pytest.mark.integration


def routing(agents: dict[str, str] | None = None, **queue: object) -> RoutingConfig:
    return RoutingConfig.model_validate(
        {
            "calendars": {"always": {"always_open": True}},
            "queues": {
                "general": {
                    "calendar": "always",
                    "when_no_agents": "join",
                    "ring_timeout_s": 2,
                    "wrap_up_s": 0,
                    "average_handle_s": 60,
                    **queue,
                }
            },
            "agents": {name: {"endpoint": ep} for name, ep in (agents or {}).items()},
        }
    )


def service(hub: Hub, config: RoutingConfig, trail: list[QueueEvent]) -> QueueService:
    return QueueService(
        config,
        AgentPool(config.agents),
        hub.ari,
        calendars_of(config),
        timing=QueueTiming(tick_s=0.1, bridge_prefix=hub.bridge_prefix or "hold-"),
        on_event=trail.append,
    )


def started(events: list[AriEvent], channel_id: str) -> list[str]:
    """Media URIs Asterisk started playing to a channel, in order (one per list item)."""
    return [
        e.playback.media_uri
        for e in events
        if isinstance(e, PlaybackStarted) and e.playback.target_uri == f"channel:{channel_id}"
    ]


def heard_position(events: list[AriEvent], channel_id: str) -> list[int]:
    """Every position announced to a channel: the number after each `queue-position`."""
    media = started(events, channel_id)
    prefix = media_uri("num-")
    return [
        int(media[i + 1].removeprefix(prefix))
        for i, uri in enumerate(media[:-1])
        if uri == media_uri("queue-position") and media[i + 1].startswith(prefix)
    ]


def entered(events: list[AriEvent], bridge_id: str) -> set[str]:
    return {
        e.channel.id
        for e in events
        if isinstance(e, ChannelEnteredBridge) and e.bridge.id == bridge_id
    }


async def test_waiting_callers_hear_increasing_positions(hub: Hub, driver: Driver) -> None:
    trail: list[QueueEvent] = []
    svc = service(hub, routing(announce={"every_s": 600}), trail)
    callers: list[tuple[str, TestCall]] = []
    tasks: list[asyncio.Task[QueueOutcome]] = []
    for place in (1, 2, 3):
        ours, call = await incoming(hub, driver)
        callers.append((ours, call))
        tasks.append(asyncio.create_task(svc.wait(call, "general"), name=f"call:{call.channel_id}"))
        await hub.wait_for(playing(hub, call.channel_id, f"num-{place}"))
    assert [heard_position(hub.events, c.channel_id) for _, c in callers] == [[1], [2], [3]]
    assert entered(hub.events, svc.holding_bridge("general")) >= {c.channel_id for _, c in callers}
    assert [c.call_id for c in svc.waiting("general")] == [c.channel_id for _, c in callers]
    for ours, _ in callers:
        await driver.ari.hangup(ours)
    outcomes = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert [o.kind for o in outcomes] == ["abandoned"] * 3
    assert svc.waiting("general") == []


async def test_agent_answers_and_talks_with_the_caller(
    hub: Hub, driver: Driver, workdir: Path
) -> None:
    agent = await phone(workdir, "phone.xml", talk_ms=1000)
    config = routing({"agent1": endpoint(agent)})
    trail: list[QueueEvent] = []
    svc = service(hub, config, trail)
    svc.agents.log_in("agent1")
    ours, call = await incoming(hub, driver)
    outcome = await asyncio.wait_for(svc.wait(call, "general"), 15)
    assert isinstance(outcome, Answered)
    assert outcome.agent_id == "agent1"
    both = {call.channel_id, outcome.agent_channel_id}
    await hub.wait_for(lambda _: entered(hub.events, outcome.bridge_id) >= both)
    assert svc.agents.state("agent1").status == "on_call"
    assert await asyncio.wait_for(svc.talk(call, outcome), 15) == "agent"
    await driver.hung_up(ours)
    assert (await agent.wait()).ok
    assert svc.agents.state("agent1").status == "ready"  # wrap_up_s 0
    assert [e.kind for e in trail] == ["enqueued", "offered", "answered", "call_ended"]


async def test_unanswered_agent_is_paused_and_the_next_one_rings(
    hub: Hub, driver: Driver, workdir: Path
) -> None:
    silent = await phone(workdir, "phone_noanswer.xml")
    answering = await phone(workdir, "phone.xml", talk_ms=500)
    config = routing({"agent1": endpoint(silent), "agent2": endpoint(answering, "agent2")})
    trail: list[QueueEvent] = []
    svc = service(hub, config, trail)
    svc.agents.log_in("agent1")  # ready the longest: offered first
    svc.agents.log_in("agent2")
    ours, call = await incoming(hub, driver)
    outcome = await asyncio.wait_for(svc.wait(call, "general"), 20)
    assert isinstance(outcome, Answered)
    assert outcome.agent_id == "agent2"
    state = svc.agents.state("agent1")
    assert (state.status, state.reason) == ("paused", NO_ANSWER)
    assert [(e.kind, e.agent_id) for e in trail] == [
        ("enqueued", None),
        ("offered", "agent1"),
        ("no_answer", "agent1"),
        ("offered", "agent2"),
        ("answered", "agent2"),
    ]
    assert await asyncio.wait_for(svc.talk(call, outcome), 15) == "agent"
    await driver.hung_up(ours)
    assert (await silent.wait()).ok
    assert (await answering.wait()).ok


def playing(hub: Hub, channel_id: str, prompt_id: str) -> Callable[[AriEvent], bool]:
    return lambda e: (
        isinstance(e, PlaybackStarted)
        and e.playback.target_uri == f"channel:{channel_id}"
        and e.playback.media_uri == media_uri(prompt_id)
    )


async def test_callback_keeps_the_place_and_calls_back_once(
    hub: Hub, driver: Driver, workdir: Path
) -> None:
    customer = await phone(workdir, "phone_wait.xml")
    agent = await phone(workdir, "phone.xml", talk_ms=800)
    config = routing({"agent1": endpoint(agent)}, callback={"enabled": True, "after_s": 0})
    trail: list[QueueEvent] = []
    dialed: list[CallbackRequest] = []
    dialing = asyncio.Event()
    served: list[asyncio.Task[str]] = []

    async def serve(leg: str, request: CallbackRequest) -> str:
        callback_call = hub.adopt(await hub.arrival(leg))
        outcome = await svc.serve_callback(callback_call, request)
        assert isinstance(outcome, Answered)
        return await svc.talk(callback_call, outcome)

    async def dial_back(request: CallbackRequest) -> None:
        dialed.append(request)
        leg = f"cb-{uuid.uuid4().hex[:8]}"
        # the engine would dial request.number through the trunk; the "customer" is a SIPp phone
        await hub.ari.originate(endpoint(customer, "agent3"), channel_id=leg, app=APP, timeout_s=5)
        served.append(asyncio.create_task(serve(leg, request), name=f"call:{leg}"))
        dialing.set()

    svc = QueueService(
        config,
        AgentPool(config.agents),
        hub.ari,
        calendars_of(config),
        timing=QueueTiming(tick_s=0.1, bridge_prefix=hub.bridge_prefix or "hold-"),
        on_event=trail.append,
    )
    svc.bind(dial_back)
    ours, call = await incoming(hub, driver)
    waiting = asyncio.create_task(svc.wait(call, "general"), name=f"call:{call.channel_id}")

    await hub.wait_for(playing(hub, call.channel_id, "queue-callback-offer"))
    await driver.ari.send_dtmf(ours, "1")
    await hub.wait_for(playing(hub, call.channel_id, "digit-0"))  # the number read back
    await driver.ari.send_dtmf(ours, "1")
    outcome = await asyncio.wait_for(waiting, 10)
    assert isinstance(outcome, CallbackScheduled)
    assert outcome.request.number == "0935821234"
    await hub.ari.hangup(call.channel_id)  # the session says goodbye
    await driver.hung_up(ours)
    assert [c.call_id for c in svc.waiting("general")] == [call.channel_id]

    runner = asyncio.create_task(svc.run(), name="queue-callbacks")
    try:
        await svc.dispatch_callbacks()
        assert dialed == []  # nobody to take the call yet
        svc.agents.log_in("agent1")
        await asyncio.wait_for(dialing.wait(), 10)
        assert await asyncio.wait_for(served[0], 20) == "agent"
        await svc.dispatch_callbacks()
        assert len(dialed) == 1
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert (await customer.wait()).ok
    assert (await agent.wait()).ok
    kinds = [e.kind for e in trail]
    assert kinds.count("callback_dialing") == 1
    assert kinds[-3:] == ["offered", "answered", "call_ended"]
    assert svc.waiting("general") == []


async def test_restarted_engine_rebuilds_the_same_order(sandbox: Sandbox, driver: Driver) -> None:
    # the restarted engine goes on with each caller's schedule (the next place 20 s after
    # the last one heard, none at once; well after the first engine's last caller has joined):
    # what they hear next is their place in the old order
    config = routing(announce={"every_s": 20})
    timing = QueueTiming(tick_s=0.1, rejoin_grace_s=0.3, bridge_prefix=unique("hold-"))

    def client() -> AriClient:
        return AriClient(sandbox.ari_url, sandbox.ari_user, sandbox.ari_password, APP)

    before = await Hub(client(), bridge_prefix=timing.bridge_prefix).start()
    memory = before.memory  # the database both engines share
    first = QueueService(config, AgentPool({}), before.ari, calendars_of(config), timing=timing)
    ours: list[str] = []
    ids: list[str] = []
    tasks: list[asyncio.Task[QueueOutcome]] = []
    try:
        for priority in (0, 5, 0):
            mine, call = await incoming(before, driver)
            ours.append(mine)
            ids.append(call.channel_id)
            tasks.append(asyncio.create_task(first.wait(call, "general", priority)))
            await before.wait_for(playing(before, call.channel_id, "queue-position-end"))
        order = [c.call_id for c in first.waiting("general")]
        assert order == [ids[1], ids[0], ids[2]]
    finally:
        for task in tasks:  # the engine dies with its sessions
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await before.stop(clean=False)

    after = await Hub(client(), bridge_prefix=timing.bridge_prefix, memory=memory).start()
    try:
        adopted = [c for c in after.resynced[0] if c.id in ids]
        second = QueueService(config, AgentPool({}), after.ari, calendars_of(config), timing=timing)
        assert await second.restore([c.id for c in adopted], memory) == 3
        assert [c.call_id for c in second.waiting("general")] == order
        rejoined = [
            asyncio.create_task(second.rejoin(after.adopt(channel)), name=f"call:{channel.id}")
            for channel in adopted
        ]
        for channel_id in ids:
            await after.wait_for(playing(after, channel_id, "queue-position-end"))
        heard = {channel_id: heard_position(after.events, channel_id) for channel_id in ids}
        assert heard == {ids[1]: [1], ids[0]: [2], ids[2]: [3]}
        for mine in ours:
            await driver.ari.hangup(mine)
        outcomes = await asyncio.wait_for(asyncio.gather(*rejoined), 10)
        assert [o.kind if o else None for o in outcomes] == ["abandoned"] * 3
    finally:
        for mine in ours:
            with contextlib.suppress(AriError):
                await driver.ari.hangup(mine)
        await after.stop()
