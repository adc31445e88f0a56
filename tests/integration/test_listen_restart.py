"""A supervisor's listen and an engine that dies during it, on the real Asterisk: the caller talks
to an agent (a SIPp phone), a supervisor listens from their SIPp phone (`routing.listen`: a
snoop on the caller's channel and the phone, in a bridge of the listen's). The engine goes away
without ending the listen (its clean-up is taken from it, as a crash would). The next engine
hangs up the snoop and the supervisor's phone (which gets its BYE) and destroys the listen's
bridge; the caller's conversation with the agent is untouched and goes on until the caller hangs
up. The call flow and helpers are the routed-call tests'."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.errors import AriError, ChannelGone
from tests.integration.conftest import Driver, EngineFactory
from tests.integration.test_routed_calls import bridge_of, call_the_operator, enqueued, routing
from tests.support.sipp import Sipp

pytestmark = pytest.mark.integration


async def test_a_listen_left_by_a_dead_engine_is_ended_and_the_call_goes_on(
    start_engine: EngineFactory, driver: Driver, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent_phone = await Sipp("phone_wait.xml", [], workdir).start()
    boss_phone = await Sipp("phone_ring_wait.xml", [], workdir).start()
    config = routing(agent_phone.port)
    try:
        first_engine = await start_engine(routing=config)
        ours, theirs = await call_the_operator(first_engine, driver)
        await enqueued(first_engine, theirs, "answered")
        talking = await bridge_of(driver, theirs)
        listening = first_engine.listening
        assert listening is not None
        boss = f"PJSIP/agent2/sip:boss@127.0.0.1:{boss_phone.port}"
        assert await listening.start("agent1", boss) == "ok"
        [listen] = listening.active.values()
        async with asyncio.timeout(30):  # the phone rings 2 s, then answers
            while True:
                bridges = {b.id: set(b.channels) for b in await driver.ari.list_bridges()}
                if bridges.get(listen.bridge) == {listen.snoop, listen.phone}:
                    break
                await asyncio.sleep(0.2)

        async def dies_before_ending(_listen: object) -> None:
            return None

        # as a crash would: the engine goes, its listen's clean-up never runs
        monkeypatch.setattr(listening, "_end", dies_before_ending)
        await first_engine.stop()
        for left_behind in (listen.snoop, listen.phone):  # live channels (raises if gone)
            assert await driver.ari.get_variable(left_behind, "CHANNEL(name)")

        second_engine = await start_engine(routing=config)
        await enqueued(second_engine, theirs, "talk_resumed")
        boss_result = await boss_phone.wait()  # the new engine hung the phone up: its BYE
        assert boss_result.ok, boss_result.output[-500:]
        async with asyncio.timeout(10):
            # the live channel is asked (a variable): Asterisk 22's channel list and GET may
            # still show the snapshot of a snoop it has hung up
            while True:
                try:
                    await driver.ari.get_variable(listen.snoop, "CHANNEL(name)")
                except ChannelGone:
                    break
                await asyncio.sleep(0.1)
        with pytest.raises(AriError):
            await driver.ari.get_bridge(listen.bridge)
        # the caller still talks to the agent, as before the listen
        assert await bridge_of(driver, theirs) == talking
        assert second_engine.acd is not None
        assert second_engine.acd.queues.agents.state("agent1").status == "on_call"
        assert set(second_engine.supervisor.sessions) == {theirs}

        await driver.ari.hangup(ours)
        await enqueued(second_engine, theirs, "call_ended")
        agent_result = await agent_phone.wait()
    finally:
        agent_phone.kill()
        boss_phone.kill()
    assert agent_result.ok, agent_result.output[-500:]
