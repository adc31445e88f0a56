"""Real calls through the real Asterisk: SIPp phones and Local channels, the engine over ARI."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.calls.records import MemoryCallRecorder
from tests.integration.conftest import Driver, EngineFactory
from tests.support.sandbox import Sandbox
from tests.support.sipp import Sipp, caller_args, scenario_with_digit

pytestmark = pytest.mark.integration

GREETING = "sound:hello-world"
THANKS = "sound:auth-thankyou"


async def only_record(recorder: MemoryCallRecorder, outcome: str) -> str:
    async with recorder.written:
        await asyncio.wait_for(
            recorder.written.wait_for(lambda: any(r.outcome == outcome for r in recorder.records)),
            30,
        )
    [rec] = [r for r in recorder.records if r.outcome == outcome]
    return rec.call_id


async def test_sip_caller_is_answered_hears_the_prompt_and_is_heard(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path
) -> None:
    recorder = MemoryCallRecorder()
    await start_engine(recorder)
    # the key goes 2.5 s after the answer: after the 1.4 s greeting has played to its end
    caller = Sipp(
        "caller.xml",
        [*caller_args(sandbox.sip_host, sandbox.sip_port, "1000", "0935821234"), "-d", "2500"],
        workdir,
    )
    result = await (await caller.start()).wait()
    assert result.ok, result.output

    call_id = await only_record(recorder, "completed")
    record = await recorder.wait_for(call_id)
    assert record.caller == "0935821234"
    assert record.entry == "main"
    assert record.digits == ["1"]
    assert record.prompts_finished == [GREETING, THANKS]


async def test_local_channel_with_ari_dtmf(start_engine: EngineFactory, driver: Driver) -> None:
    recorder = MemoryCallRecorder()
    await start_engine(recorder)
    ours, theirs = await driver.call("1000", caller_id="0312345678")
    await driver.answered(ours)
    # DTMF sent on our half is heard by the engine's half, like a caller's keypad
    await driver.ari.send_dtmf(ours, "5")
    record = await recorder.wait_for(theirs, "completed")
    await driver.hung_up(ours)
    assert record.caller == "0312345678"
    assert record.digits == ["5"]
    assert THANKS in record.prompts_finished


async def test_call_waiting_in_stasis_survives_an_engine_restart(
    start_engine: EngineFactory, driver: Driver
) -> None:
    first_log = MemoryCallRecorder()
    first = await start_engine(first_log)
    ours, theirs = await driver.call("1000")
    await driver.answered(ours)
    await first.stop()
    detached = await first_log.wait_for(theirs, "detached")
    assert detached.digits == []
    # the engine is gone, the caller is not: Asterisk still holds the call in Stasis
    channel = await driver.ari.get_channel(theirs)
    assert channel.stasis_app == "hotline"

    second_log = MemoryCallRecorder()
    second = await start_engine(second_log)
    assert theirs in second.supervisor.sessions
    await driver.ari.send_dtmf(ours, "2")
    record = await second_log.wait_for(theirs, "completed")
    await driver.hung_up(ours)
    assert record.adopted
    assert record.digits == ["2"]
    assert record.started_at == detached.started_at


async def test_engine_down_the_leak_line_still_reaches_the_on_duty_phone(
    sandbox: Sandbox, driver: Driver, workdir: Path
) -> None:
    # no engine is connected in this test: Stasis(hotline) fails and the dialplan takes over
    phone = await Sipp("phone.xml", ["-d", "300"], workdir).start()
    await driver.ari.set_global("HOTLINE_ONDUTY", f"PJSIP/onduty/sip:onduty@127.0.0.1:{phone.port}")
    try:
        caller = Sipp(
            "caller_silent.xml",
            caller_args(sandbox.sip_host, sandbox.sip_port, "1100", "0935821234"),
            workdir,
        )
        caller_result = await (await caller.start()).wait()
        phone_result = await phone.wait()
    finally:
        phone.kill()
        await driver.ari.set_global("HOTLINE_ONDUTY", "PJSIP/onduty")
    assert phone_result.ok, phone_result.output
    assert "INVITE from" in phone_result.log
    assert "0935821234" in phone_result.log
    assert caller_result.ok, caller_result.output


async def test_engine_down_main_number_apologises_and_key_3_reaches_on_duty(
    sandbox: Sandbox, driver: Driver, workdir: Path
) -> None:
    phone = await Sipp("phone.xml", ["-d", "300"], workdir).start()
    await driver.ari.set_global("HOTLINE_ONDUTY", f"PJSIP/onduty/sip:onduty@127.0.0.1:{phone.port}")
    try:
        caller = Sipp(
            scenario_with_digit(workdir, "3"),
            [*caller_args(sandbox.sip_host, sandbox.sip_port, "1000", "0935821234"), "-d", "500"],
            workdir,
        )
        caller_result = await (await caller.start()).wait()
        phone_result = await phone.wait()
    finally:
        phone.kill()
        await driver.ari.set_global("HOTLINE_ONDUTY", "PJSIP/onduty")
    assert phone_result.ok, phone_result.output
    assert caller_result.ok, caller_result.output
