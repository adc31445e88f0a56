"""Calls the engine routes after the IVR, on the real Asterisk: a SIPp caller reaches an agent
through the ACD, and a leak call escalates through the on-duty list."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import NotRequired, TypedDict

import pytest

from ivr.adapters import DbCallbackStore
from ivr.app import Engine
from ivr.calls.records import MemoryCallRecorder
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from tests.integration.conftest import CALLER, Driver, EngineFactory
from tests.integration.test_calls import at_node, choices, the_record
from tests.support.hearing import LOUD, Ears, recordings_of
from tests.support.sandbox import Sandbox
from tests.support.sipp import Sipp, SippResult, caller_args, keys_scenario

pytestmark = pytest.mark.integration

# the tests must not depend on the wall clock: every calendar here is open around the clock
ALWAYS: dict[str, object] = {"always_open": True}

# a section of the routing config: entry name (calendar, queue, agent, department) → settings
Section = dict[str, dict[str, object]]


class RoutingData(TypedDict):
    """The routing config as the tests write it (the engine validates it into RoutingConfig)."""

    calendars: Section
    queues: Section
    agents: Section
    departments: Section
    outbound_endpoint: NotRequired[str]


def routing(agent_phone_port: int | None = None, on_duty: list[str] | None = None) -> RoutingData:
    calendars: Section = {"phone": ALWAYS, "emergency": ALWAYS, "construction": ALWAYS}
    agents: Section = {}
    if agent_phone_port is not None:
        agents["agent1"] = {
            "endpoint": f"PJSIP/agent1/sip:agent1@127.0.0.1:{agent_phone_port}",
            "ready_at_start": True,
        }
    return {
        "calendars": calendars,
        "queues": {
            name: {"calendar": "phone", "when_no_agents": "overflow", "ring_timeout_s": 10}
            for name in ("general", "moving", "billing", "reconnection")
        },
        "agents": agents,
        "departments": {
            "emergency_duty": {"on_duty": on_duty or ["PJSIP/onduty"], "ring_timeout_s": 3},
            "construction": {"endpoint": "PJSIP/agent3", "calendar": "construction"},
        },
    }


async def sip_call_to_the_operator(
    sandbox: Sandbox, workdir: Path, agent_phone: Sipp
) -> tuple[SippResult, SippResult]:
    """The demo caller keys 1 (Japanese), 0 (operator) and stays until the agent, whose phone
    hangs up, is done; the caller's and the agent phone's results."""
    caller = Sipp(
        keys_scenario(workdir, "10", gap_ms=2500, hang_up_after_ms=None),
        caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
        workdir,
    )
    try:
        return await (await caller.start()).wait(), await agent_phone.wait()
    finally:
        agent_phone.kill()


async def test_caller_asks_for_the_operator_and_an_agent_answers(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path
) -> None:
    agent_phone = await Sipp("phone.xml", ["-d", "1500"], workdir).start()
    recorder = MemoryCallRecorder()
    await start_engine(recorder, routing=routing(agent_phone.port))
    caller_result, agent_result = await sip_call_to_the_operator(sandbox, workdir, agent_phone)
    record = await the_record(recorder)
    assert agent_result.ok, agent_result.output[-500:]
    assert CALLER in agent_result.log  # the agent's phone showed who is calling
    assert caller_result.ok, caller_result.output[-500:]
    assert choices(record) == [("greeting", "1"), ("main_menu", "0")]
    assert record.outcome == "answered_by_agent"


async def test_leak_call_escalates_to_the_second_on_duty_phone(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path
) -> None:
    nobody = await Sipp("phone_noanswer.xml", [], workdir).start()
    duty = await Sipp("phone_press1_talk.xml", ["-d", "500"], workdir).start()
    recorder = MemoryCallRecorder()
    on_duty = [
        f"PJSIP/onduty/sip:onduty@127.0.0.1:{nobody.port}",
        f"PJSIP/onduty/sip:onduty@127.0.0.1:{duty.port}",
    ]
    await start_engine(recorder, routing=routing(on_duty=on_duty))
    caller = Sipp(
        "caller_silent.xml",
        caller_args(sandbox.sip_host, sandbox.sip_port, "1100", CALLER),
        workdir,
    )
    try:
        caller_result = await (await caller.start()).wait()
        nobody_result = await nobody.wait()
        duty_result = await duty.wait()
    finally:
        nobody.kill()
        duty.kill()
    record = await the_record(recorder)
    assert nobody_result.ok, nobody_result.output[-500:]  # rang, was not answered, cancelled
    assert duty_result.ok, duty_result.output[-500:]  # the second phone took the call
    assert caller_result.ok, caller_result.output[-500:]
    assert record.entry == "emergency"
    assert record.outcome == "handed_over"


async def test_withheld_caller_is_asked_for_the_customer_number(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path
) -> None:
    recorder = MemoryCallRecorder()
    await start_engine(recorder, routing=routing())
    caller = Sipp(
        keys_scenario(workdir, "1", gap_ms=2500, hang_up_after_ms=4000),
        caller_args(sandbox.sip_host, sandbox.sip_port, "1000", "anonymous"),
        workdir,
    )
    result = await (await caller.start()).wait()
    assert result.ok, result.output[-500:]
    record = await the_record(recorder)
    assert record.caller == "anonymous"
    lookups = [t for t in record.trail if t["event"] == "account_lookup"]
    assert lookups == [{"event": "account_lookup", "node": "identify", "outcome": "withheld"}]
    assert "enter-customer-number" in record.prompts_played


@pytest.mark.parametrize("restart", [False, True], ids=["same-engine", "after-restart"])
async def test_caller_keeps_the_place_and_is_called_back_once_when_an_agent_is_free(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path, restart: bool
) -> None:
    agent_phone = await Sipp("phone.xml", ["-d", "1500"], workdir).start()
    # the resident's phone, called back on the number they called from; answers and stays
    # until the agent is done
    resident_phone = await Sipp("phone_wait.xml", [], workdir).start()
    config = routing(agent_phone.port)
    config["queues"] = {
        name: {
            "calendar": "phone",
            "when_no_agents": "join",
            "ring_timeout_s": 10,
            "announce": {"on_entry": False, "every_s": None},
            "callback": {"enabled": True, "after_s": 0},
        }
        for name in ("general", "moving", "billing", "reconnection")
    }
    # no agent is ready when the caller calls: the agent logs in after the caller hung up
    config["agents"]["agent1"]["ready_at_start"] = False
    config["outbound_endpoint"] = f"PJSIP/caller/sip:{{number}}@127.0.0.1:{resident_phone.port}"
    db = open_engine(f"sqlite+aiosqlite:///{workdir / 'hotline.sqlite3'}")
    await migrate(f"sqlite+aiosqlite:///{workdir / 'hotline.sqlite3'}")
    store = DbCallbackStore(db)
    recorder = MemoryCallRecorder()
    engine = await start_engine(recorder, routing=config, callback_store=store)
    # 1 Japanese, 0 operator, then 1 "call me back" once the offer plays in the queue (after
    # "connecting you to an agent"), and 1 "yes, this number" once the number is read back;
    # a key before its prompt starts would be ignored, a key after it ends still counts
    caller = Sipp(
        keys_scenario(workdir, "1011", gap_ms=[3000, 3000, 9000, 5000], hang_up_after_ms=None),
        caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
        workdir,
    )
    try:
        caller_result = await (await caller.start()).wait()
        first = await the_record(recorder)
        trail = " ".join(f"{t['node']}:{t['event']}" for t in first.trail)
        assert caller_result.ok, (trail, first.outcome)  # the hotline hung up politely
        assert first.outcome == "callback_scheduled"
        if restart:
            # the caller has hung up: only the database remembers the place
            await engine.stop()
            recorder = MemoryCallRecorder()
            engine = await start_engine(recorder, routing=config, callback_store=store)
        assert engine.acd is not None
        assert [c.call_id for c in engine.acd.queues.waiting("general")] == [first.call_id]
        engine.acd.queues.agents.log_in("agent1")
        resident_result = await resident_phone.wait()
        agent_result = await agent_phone.wait()
    finally:
        resident_phone.kill()
        agent_phone.kill()
    assert resident_result.ok, resident_result.output[-500:]
    assert agent_result.ok, agent_result.output[-500:]
    async with recorder.written:
        await recorder.written.wait_for(
            lambda: any(r.entry == "callback" for r in recorder.records)
        )
    [callback] = [r for r in recorder.records if r.entry == "callback"]
    assert callback.outcome == "answered_by_agent"
    # placed once: the store no longer lists the place ("never twice" is also unit-tested)
    assert await store.pending() == []
    await db.dispose()


async def test_callers_waiting_keep_their_order_across_an_engine_restart(
    start_engine: EngineFactory, driver: Driver
) -> None:
    config = routing()
    for queue in config["queues"].values():
        queue["when_no_agents"] = "join"  # nobody answers: both callers wait
        queue["announce"] = {"on_entry": False, "every_s": None}
    first_engine = await start_engine(routing=config)
    callers = []
    for _ in range(2):
        _, theirs = await call_the_operator(first_engine, driver)
        await enqueued(first_engine, theirs, "enqueued")
        callers.append(theirs)
    assert first_engine.acd is not None
    before = [c.call_id for c in first_engine.acd.queues.waiting("general")]
    assert before == callers

    await first_engine.stop()
    second_engine = await start_engine(routing=config)
    for theirs in callers:
        await enqueued(second_engine, theirs, "rejoined")
    assert second_engine.acd is not None
    after = [c.call_id for c in second_engine.acd.queues.waiting("general")]
    assert after == before


async def test_a_conversation_with_an_agent_survives_an_engine_restart(
    start_engine: EngineFactory, driver: Driver, workdir: Path
) -> None:
    # the agent's phone answers and stays on the line until the engine ends the call
    agent_phone = await Sipp("phone_wait.xml", [], workdir).start()
    config = routing(agent_phone.port)
    try:
        first_engine = await start_engine(routing=config)
        ours, theirs = await call_the_operator(first_engine, driver)
        await enqueued(first_engine, theirs, "answered")
        talking = await bridge_of(driver, theirs)

        await first_engine.stop()
        # nothing of the conversation is cut while no engine runs
        assert await bridge_of(driver, theirs) == talking
        second_engine = await start_engine(routing=config)
        await enqueued(second_engine, theirs, "talk_resumed")
        assert second_engine.acd is not None
        agents = second_engine.acd.queues.agents
        # the agent is busy with this caller: the new engine offers them nobody else
        assert agents.state("agent1").status == "on_call"
        assert await bridge_of(driver, theirs) == talking

        await driver.ari.hangup(ours)  # the resident hangs up
        await enqueued(second_engine, theirs, "call_ended")
        # the new engine ended the agent's side: the phone got its BYE
        agent_result = await agent_phone.wait()
    finally:
        agent_phone.kill()
    assert agent_result.ok, agent_result.output[-500:]
    assert agents.state("agent1").status in ("wrap_up", "ready")


async def test_a_caller_on_hold_stays_on_music_across_an_engine_restart_and_is_resumed(
    sandbox: Sandbox, start_engine: EngineFactory, driver: Driver, workdir: Path
) -> None:
    # the agent's phone answers and sends no sound: the caller hears silence from it, music
    # only while held
    agent_phone = await Sipp("phone_wait.xml", [], workdir).start()
    config = routing(agent_phone.port)
    hears = Ears(driver.ari, driver.wait_for, recordings_of(sandbox.chroot))
    try:
        first_engine = await start_engine(routing=config)
        ours, theirs = await call_the_operator(first_engine, driver)
        await enqueued(first_engine, theirs, "answered")
        talking, _both = await bridge_of(driver, theirs)
        assert first_engine.acd is not None
        assert await first_engine.acd.desk.hold("agent1", theirs, True) == "ok"
        assert await hears.level(theirs) > LOUD

        await first_engine.stop()
        # no engine: the caller still hears the music, the agent waits alone in the bridge
        assert await hears.level(theirs) > LOUD
        second_engine = await start_engine(routing=config)
        await enqueued(second_engine, theirs, "talk_resumed")
        assert await hears.level(theirs) > LOUD
        assert second_engine.acd is not None
        assert await second_engine.acd.desk.hold("agent1", theirs, True) == "on_hold"
        assert await second_engine.acd.desk.hold("agent1", theirs, False) == "ok"
        assert (await bridge_of(driver, theirs))[0] == talking  # back with the agent
        assert await hears.level(theirs) < LOUD
        await driver.ari.hangup(ours)
        await enqueued(second_engine, theirs, "call_ended")
        agent_result = await agent_phone.wait()
    finally:
        agent_phone.kill()
    assert agent_result.ok, agent_result.output[-500:]
    # the first engine wrote the hold's start, the second its end
    assert [e.kind for e in first_engine.acd.events.recent if e.kind.startswith("hold")] == [
        "hold_started"
    ]
    assert [e.kind for e in second_engine.acd.events.recent if e.kind.startswith("hold")] == [
        "hold_ended"
    ]


async def test_a_leak_call_put_through_to_the_on_duty_phone_survives_an_engine_restart(
    start_engine: EngineFactory, driver: Driver, workdir: Path
) -> None:
    duty = await Sipp("phone_press1.xml", ["-d", "1000"], workdir).start()
    config = routing(on_duty=[f"PJSIP/onduty/sip:onduty@127.0.0.1:{duty.port}"])
    try:
        first_engine = await start_engine(routing=config)
        ours, theirs = await driver.call("1100", caller_id=CALLER)  # the leak line
        await enqueued(first_engine, theirs, "put_through")
        talking = await bridge_of(driver, theirs)
        assert len(talking[1]) == 2

        await first_engine.stop()
        assert await bridge_of(driver, theirs) == talking
        second_engine = await start_engine(routing=config)
        await enqueued(second_engine, theirs, "talk_resumed")
        assert await bridge_of(driver, theirs) == talking

        await driver.ari.hangup(ours)  # the resident hangs up
        duty_result = await duty.wait()  # and the on-duty phone is released by the new engine
    finally:
        duty.kill()
    assert duty_result.ok, duty_result.output[-500:]


async def call_the_operator(engine: Engine, driver: Driver) -> tuple[str, str]:
    """A resident calls, chooses Japanese and then the operator; (our half, the engine's)."""
    ours, theirs = await driver.call("1000", caller_id=CALLER)
    await driver.answered(ours)
    await driver.ari.send_dtmf(ours, "1")  # Japanese
    await at_node(engine, theirs, "main_menu")
    await driver.ari.send_dtmf(ours, "0")  # operator
    return ours, theirs


async def bridge_of(driver: Driver, channel_id: str) -> tuple[str, frozenset[str]]:
    """The mixing bridge `channel_id` is in, with everyone in it."""
    for bridge in await driver.ari.list_bridges():
        if channel_id in bridge.channels and bridge.bridge_type == "mixing":
            return bridge.id, frozenset(bridge.channels)
    raise AssertionError(f"{channel_id} is in no mixing bridge")


async def enqueued(engine: Engine, channel_id: str, kind: str) -> None:
    """Wait until the queue reports `kind` (enqueued / rejoined) for the call."""
    assert engine.acd is not None
    events = engine.acd.events

    def seen() -> bool:
        return any(e.call_id == channel_id and e.kind == kind for e in events.recent)

    async with asyncio.timeout(60):
        while not seen():
            await events.next()
