"""Department transfers (blind, attended) and the emergency on-duty escalation, for real."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ivr.ari.models import AriEvent, ChannelEnteredBridge, StasisEnd
from ivr.store.duty import DutyStep
from routing.config import RoutingConfig
from routing.hours import calendars_of
from routing.model import TransferEvent
from routing.transfer import CONTEXT_VAR, Consultation, OnDutySource, TransferService
from tests.integration.conftest import Driver
from tests.integration.routing.conftest import APP, endpoint, incoming, phone
from tests.integration.routing.handle import Hub, TestCall
from tests.support.sipp import Sipp

pytestmark = pytest.mark.integration


def transfers(
    hub: Hub,
    departments: dict[str, object],
    trail: list[TransferEvent],
    duty: OnDutySource | None = None,
) -> TransferService:
    config = RoutingConfig.model_validate(
        {"calendars": {"always": {"always_open": True}}, "departments": departments}
    )
    return TransferService(
        config, hub.ari, calendars_of(config), ring_grace_s=1.0, on_event=trail.append, duty=duty
    )


class Roster:
    """The database's on-duty lists, as the engine reads them at each escalation."""

    def __init__(self, lists: dict[str, tuple[DutyStep, ...]]) -> None:
        self.lists = lists

    async def on_duty(self, department: str) -> tuple[DutyStep, ...] | None:
        return self.lists.get(department)


def in_bridge(hub: Hub, bridge_id: str, *channel_ids: str) -> bool:
    inside = {
        e.channel.id
        for e in hub.events
        if isinstance(e, ChannelEnteredBridge) and e.bridge.id == bridge_id
    }
    return inside >= set(channel_ids)


def ended(channel_id: str) -> Callable[[AriEvent], bool]:
    return lambda e: isinstance(e, StasisEnd) and e.channel.id == channel_id


async def with_agent(hub: Hub, driver: Driver, agent: Sipp) -> tuple[str, TestCall, str, str]:
    """A caller already talking to an agent: (driver's half, call, agent leg, bridge)."""
    ours, call = await incoming(hub, driver)
    leg = call.new_id("agent")
    call.claim(leg)
    await hub.ari.originate(endpoint(agent), channel_id=leg, app=APP, timeout_s=5)
    await hub.arrival(leg)
    bridge_id = call.new_id("bridge")
    await hub.ari.create_bridge(bridge_id, "mixing")
    await hub.ari.add_to_bridge(bridge_id, call.channel_id)
    await hub.ari.add_to_bridge(bridge_id, leg)
    return ours, call, leg, bridge_id


async def test_blind_transfer_connects_the_department_with_context(
    hub: Hub, driver: Driver, workdir: Path
) -> None:
    agent = await phone(workdir, "phone_wait.xml")
    dept = await phone(workdir, "phone.xml", talk_ms=1000)
    trail: list[TransferEvent] = []
    svc = transfers(
        hub, {"billing": {"endpoint": endpoint(dept, "agent2"), "ring_timeout_s": 3}}, trail
    )
    ours, call, leg, bridge_id = await with_agent(hub, driver, agent)

    result = await asyncio.wait_for(
        svc.blind(
            call, "billing", agent_channel_id=leg, bridge_id=bridge_id, context={"reason": "move"}
        ),
        15,
    )
    assert result.status == "connected"
    assert result.channel_id is not None
    assert result.bridge_id is not None
    await hub.wait_for(
        lambda _: in_bridge(hub, result.bridge_id or "", call.channel_id, result.channel_id or "")
    )
    assert json.loads(await hub.ari.get_variable(result.channel_id, CONTEXT_VAR)) == {
        "reason": "move"
    }
    assert (await agent.wait()).ok  # the agent was hung up at once
    await hub.wait_for(ended(result.channel_id))  # the department finishes the call
    assert (await dept.wait()).ok
    await driver.ari.hangup(ours)
    await hub.ari.destroy_bridge(result.bridge_id)
    assert [e.kind for e in trail] == ["transfer_blind", "transfer_connected"]


async def test_attended_transfer_cancel_then_complete(
    hub: Hub, driver: Driver, workdir: Path
) -> None:
    agent = await phone(workdir, "phone_wait.xml")
    busy_dept = await phone(workdir, "phone_wait.xml")
    dept = await phone(workdir, "phone_wait.xml")
    trail: list[TransferEvent] = []
    svc = transfers(
        hub,
        {
            "sewer": {"endpoint": endpoint(busy_dept, "agent2"), "ring_timeout_s": 3},
            "billing": {"endpoint": endpoint(dept, "agent3"), "ring_timeout_s": 3},
        },
        trail,
    )
    ours, call, leg, bridge_id = await with_agent(hub, driver, agent)

    first = await asyncio.wait_for(
        svc.consult(call, "sewer", agent_channel_id=leg, bridge_id=bridge_id), 15
    )
    assert isinstance(first, Consultation)
    await hub.wait_for(lambda _: in_bridge(hub, first.bridge_id, leg, first.department_channel_id))
    cancelled = await svc.cancel(call, first)
    assert cancelled.status == "cancelled"
    assert (await busy_dept.wait()).ok  # the department leg got its BYE

    second = await asyncio.wait_for(
        svc.consult(call, "billing", agent_channel_id=leg, bridge_id=bridge_id), 15
    )
    assert isinstance(second, Consultation)
    done = await svc.complete(call, second)
    assert done.status == "connected"
    await hub.wait_for(
        lambda _: in_bridge(hub, second.bridge_id, call.channel_id, second.department_channel_id)
    )
    assert (await agent.wait()).ok  # the agent left after handing over
    await hub.ari.hangup(second.department_channel_id)
    assert (await dept.wait()).ok
    await driver.ari.hangup(ours)
    await hub.ari.destroy_bridge(second.bridge_id)
    assert [e.kind for e in trail] == [
        "transfer_consult",
        "consult_started",
        "transfer_cancelled",
        "transfer_consult",
        "consult_started",
        "transfer_connected",
    ]


async def test_emergency_rings_the_next_on_duty_phone(
    hub: Hub, driver: Driver, workdir: Path
) -> None:
    silent = await phone(workdir, "phone_noanswer.xml")
    duty = await phone(workdir, "phone_press1.xml", talk_ms=1000)
    first, second = endpoint(silent, "onduty"), endpoint(duty, "onduty")
    trail: list[TransferEvent] = []
    svc = transfers(hub, {"leaks": {"on_duty": [first, second], "ring_timeout_s": 2}}, trail)
    ours, call = await incoming(hub, driver)

    outcome = await asyncio.wait_for(svc.emergency(call, "leaks", {"kind": "leak"}), 20)
    assert outcome.answered_by == second
    assert [(a.endpoint, a.result) for a in outcome.attempts] == [
        (first, "no_answer"),
        (second, "answered"),
    ]
    assert outcome.channel_id is not None
    assert outcome.bridge_id is not None
    await hub.wait_for(lambda _: in_bridge(hub, outcome.bridge_id or "", call.channel_id))
    await hub.ari.hangup(outcome.channel_id)
    assert (await silent.wait()).ok
    assert (await duty.wait()).ok
    await driver.ari.hangup(ours)
    await hub.ari.destroy_bridge(outcome.bridge_id)


async def test_a_phone_that_answers_without_pressing_1_does_not_take_the_leak_call(
    hub: Hub, driver: Driver, workdir: Path
) -> None:
    # the database's list (not config's) is rung, each step its own ring time: a voicemail
    # that answers at once and never presses 1, then the on-duty person who presses 1
    voicemail = await phone(workdir, "phone_wait.xml")
    duty = await phone(workdir, "phone_press1.xml", talk_ms=1500)
    unused = "PJSIP/nobody/sip:nobody@127.0.0.1:9"
    kept = (
        DutyStep("Voicemail", endpoint(voicemail, "onduty"), 4),
        DutyStep("Sato", endpoint(duty, "onduty"), 6),
    )
    trail: list[TransferEvent] = []
    svc = transfers(
        hub,
        {"leaks": {"on_duty": [unused], "ring_timeout_s": 2, "accept_timeout_s": 4}},
        trail,
        Roster({"leaks": kept}),
    )
    ours, call = await incoming(hub, driver)

    outcome = await asyncio.wait_for(svc.emergency(call, "leaks", {"kind": "leak"}), 30)
    assert outcome.answered_by == kept[1].endpoint
    assert [(a.endpoint, a.result) for a in outcome.attempts] == [
        (kept[0].endpoint, "not_accepted"),
        (kept[1].endpoint, "answered"),
    ]
    assert outcome.channel_id is not None
    assert outcome.bridge_id is not None
    await hub.wait_for(
        lambda _: in_bridge(hub, outcome.bridge_id or "", call.channel_id, outcome.channel_id or "")
    )
    # the voicemail was hung up by us (its scenario ends only on our BYE)
    assert (await voicemail.wait()).ok
    assert [(e.kind, e.detail) for e in trail] == [
        ("emergency", ""),
        ("emergency_not_accepted", "0 Voicemail"),
        ("emergency_accepted", "1 Sato"),
        ("emergency_connected", "1"),
    ]
    accepted = trail[2].at
    assert outcome.started_at <= accepted <= outcome.ended_at
    await hub.ari.hangup(outcome.channel_id)
    assert (await duty.wait()).ok
    await driver.ari.hangup(ours)
    await hub.ari.destroy_bridge(outcome.bridge_id)


async def test_emergency_nobody_answers_still_gives_an_outcome(
    hub: Hub, driver: Driver, workdir: Path
) -> None:
    silent = await phone(workdir, "phone_noanswer.xml")
    trail: list[TransferEvent] = []
    svc = transfers(
        hub, {"leaks": {"on_duty": [endpoint(silent, "onduty")], "ring_timeout_s": 2}}, trail
    )
    ours, call = await incoming(hub, driver)
    outcome = await asyncio.wait_for(svc.emergency(call, "leaks"), 20)
    assert outcome.answered_by is None
    assert [a.result for a in outcome.attempts] == ["no_answer"]
    assert not outcome.caller_hung_up
    assert (await silent.wait()).ok
    await driver.ari.hangup(ours)
    assert [e.kind for e in trail] == ["emergency", "emergency_no_answer", "emergency_unanswered"]
