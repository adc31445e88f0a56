"""Peak relief as shipped: with config.yaml's own queues, callback offer and outbound endpoint, a
caller stuck behind a busy agent is offered a callback, and the hotline's call back goes out
through the sandbox's `trunk` endpoint (asterisk/pjsip.conf) to the phone listening there."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from ivr.ari.client import StreamItem
from ivr.ari.models import PlaybackStarted
from ivr.calls.records import MemoryCallRecorder
from tests.integration.conftest import CALLER, ROOT, Driver, EngineFactory
from tests.integration.test_routed_calls import call_the_operator, enqueued
from tests.support.sandbox import Sandbox
from tests.support.sipp import Sipp

pytestmark = pytest.mark.integration

SHIPPED_ROUTING: dict[str, object] = yaml.safe_load((ROOT / "config.yaml").read_text())["routing"]


def shipped_routing(agent1_port: int, agent2_port: int) -> dict[str, object]:
    """config.yaml's routing section with the calendars open around the clock (the test must
    not depend on the wall clock) and its two agents on SIPp phones; agent2 not in yet."""
    routing = copy.deepcopy(SHIPPED_ROUTING)
    calendars = routing["calendars"]
    assert isinstance(calendars, dict)
    routing["calendars"] = {name: {"always_open": True} for name in calendars}
    routing["agents"] = {
        "agent1": {
            "endpoint": f"PJSIP/agent1/sip:agent1@127.0.0.1:{agent1_port}",
            "ready_at_start": True,
        },
        "agent2": {"endpoint": f"PJSIP/agent2/sip:agent2@127.0.0.1:{agent2_port}"},
    }
    # routing.outbound_endpoint stays as shipped: call backs go out as PJSIP/{number}@trunk
    return routing


def playing(channel_id: str, prompt_id: str) -> Callable[[StreamItem], bool]:
    """The prompt `prompt_id` started on the engine's half of a call (what the caller hears)."""
    return lambda e: (
        isinstance(e, PlaybackStarted)
        and e.playback.target_uri == f"channel:{channel_id}"
        and e.playback.media_uri.endswith(f"/{prompt_id}")
    )


async def test_a_caller_behind_a_busy_agent_takes_the_offer_and_is_called_back_on_the_trunk(
    sandbox: Sandbox, start_engine: EngineFactory, driver: Driver, workdir: Path
) -> None:
    # the resident's phone, where the trunk's calls land; it answers and stays until hung up
    resident_phone = await Sipp("trunk_phone.xml", [], workdir, port=sandbox.trunk_port).start()
    # agent1 talks with the first caller until that caller hangs up
    agent1_phone = await Sipp("phone_wait.xml", [], workdir).start()
    # agent2 takes the call back, talks a little and hangs up
    agent2_phone = await Sipp("phone.xml", ["-d", "1500"], workdir).start()
    recorder = MemoryCallRecorder()
    engine = await start_engine(
        recorder, routing=shipped_routing(agent1_phone.port, agent2_phone.port)
    )
    assert engine.acd is not None
    try:
        first_ours, first = await call_the_operator(engine, driver)
        await enqueued(engine, first, "answered")  # agent1 is busy now

        ours, theirs = await driver.call("1000", caller_id=CALLER)
        await driver.ari.request(
            "POST",
            f"/applications/{driver.app}/subscription",
            params={"eventSource": f"channel:{theirs}"},
        )
        await driver.answered(ours)
        await driver.ari.send_dtmf(ours, "1")  # Japanese
        await driver.wait_for(playing(theirs, "main-menu"), timeout_s=60)
        await driver.ari.send_dtmf(ours, "0")  # operator
        # first in line behind one busy agent of 5-minute calls: over the 3-minute threshold
        await driver.wait_for(playing(theirs, "queue-callback-offer"), timeout_s=60)
        await driver.ari.send_dtmf(ours, "1")  # call me back
        await driver.wait_for(playing(theirs, "queue-callback-confirm"), timeout_s=30)
        await driver.ari.send_dtmf(ours, "1")  # on this number
        await driver.wait_for(playing(theirs, "queue-callback-scheduled"), timeout_s=30)
        await driver.hung_up(ours)  # the hotline said goodbye and hung up
        assert [c.call_id for c in engine.acd.queues.waiting("general")] == [theirs]

        engine.acd.queues.agents.log_in("agent2")  # an agent is free: the hotline calls back
        resident_result = await resident_phone.wait()
        agent2_result = await agent2_phone.wait()
        await driver.ari.hangup(first_ours)
        agent1_result = await agent1_phone.wait()
    finally:
        for phone in (resident_phone, agent1_phone, agent2_phone):
            phone.kill()
    assert resident_result.ok, resident_result.output[-500:]
    # the trunk carried the call to the number the resident called from
    assert f"dialled {CALLER} " in resident_result.log, resident_result.log
    # and the resident's phone shows the hotline's number, which they can call again
    shown = SHIPPED_ROUTING["outbound_caller_id"]
    assert f"caller id shown {shown} " in resident_result.log, resident_result.log
    assert agent2_result.ok, agent2_result.output[-500:]
    assert agent1_result.ok, agent1_result.output[-500:]
    async with recorder.written:
        await recorder.written.wait_for(
            lambda: any(r.entry == "callback" for r in recorder.records)
        )
    [offered] = [r for r in recorder.records if r.call_id == theirs]
    assert offered.outcome == "callback_scheduled"
    [callback] = [r for r in recorder.records if r.entry == "callback"]
    assert callback.outcome == "answered_by_agent"
