"""Real calls through the real Asterisk: SIPp phones and Local channels, the engine over ARI,
running the real dialplans/hotline.yaml and dialplans/emergency.yaml."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from ivr.app import Engine
from ivr.ari.client import Resynced
from ivr.callerid import normalise_number
from ivr.calls.records import CallRecord, MemoryCallRecorder
from ivr.flow.ports import FakeIntake
from tests.integration.conftest import (
    CALLER,
    Driver,
    EngineFactory,
    dialplan_globals,
    hotline_backends,
)
from tests.support.sandbox import ROOT, Sandbox, sandbox_dir
from tests.support.sipp import Sipp, SippResult, caller_args, keys_scenario

pytestmark = pytest.mark.integration

OUR_PROMPTS = "sound:/var/lib/hotline/prompts/"
# how long to wait for a call to reach a state; only reached when something is broken
CALL_WAIT_S = 60


async def the_record(recorder: MemoryCallRecorder) -> CallRecord:
    """The one record the engine wrote (these tests make one call per engine)."""
    async with recorder.written:
        await asyncio.wait_for(recorder.written.wait_for(lambda: bool(recorder.records)), 60)
    assert len(recorder.records) == 1, recorder.records
    return recorder.records[0]


async def at_node(engine: Engine, channel_id: str, node: str) -> None:
    """Wait until the call's flow stands at `node` (re-checked whenever a call moves on)."""

    def there() -> bool:
        session = engine.supervisor.sessions.get(channel_id)
        return session is not None and session.state is not None and session.state.node == node

    async with asyncio.timeout(CALL_WAIT_S):
        while not there():
            await engine.supervisor.next_change()


def choices(record: CallRecord) -> list[tuple[str, str]]:
    return [(t["node"], t["key"]) for t in record.trail if t["event"] == "menu_choice"]


async def test_sip_caller_is_answered_hears_the_prompt_and_is_heard(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path
) -> None:
    recorder = MemoryCallRecorder()
    await start_engine(recorder)
    caller = Sipp(
        keys_scenario(workdir, "1", gap_ms=2500, hang_up_after_ms=2000),
        caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
        workdir,
    )
    result = await (await caller.start()).wait()
    assert result.ok, result.output

    record = await the_record(recorder)
    assert record.caller == CALLER
    assert record.entry == "main"
    assert record.digits == ["1"]
    assert choices(record) == [("greeting", "1")]
    assert record.prompts_played[:2] == ["welcome", "choose-language"]
    assert "main-menu" in record.prompts_played  # the key took the caller on to the main menu
    assert record.outcome == "caller_hung_up"


async def test_local_channel_with_ari_dtmf_chooses_english(
    start_engine: EngineFactory, driver: Driver
) -> None:
    recorder = MemoryCallRecorder()
    engine = await start_engine(recorder)
    # a caller the database knows: an unknown one would be asked for a customer number and
    # reach the main menu only after that question's timeouts (40 s)
    ours, theirs = await driver.call("1000", caller_id=CALLER)
    await driver.answered(ours)
    # DTMF sent on our half is heard by the engine's half, like a caller's keypad
    await driver.ari.send_dtmf(ours, "2")
    await at_node(engine, theirs, "main_menu")
    await driver.ari.hangup(ours)
    record = await the_record(recorder)
    assert record.caller == CALLER
    assert record.digits == ["2"]
    assert record.language == "en"
    assert choices(record) == [("greeting", "2")]


async def test_call_waiting_in_stasis_survives_an_engine_restart(
    start_engine: EngineFactory, driver: Driver
) -> None:
    first_log = MemoryCallRecorder()
    first = await start_engine(first_log)
    ours, theirs = await driver.call("1000", caller_id=CALLER)
    await driver.answered(ours)
    await driver.ari.send_dtmf(ours, "1")
    await at_node(first, theirs, "main_menu")
    await first.stop()
    detached = await the_record(first_log)
    assert detached.outcome == "detached"
    # the engine is gone, the caller is not: Asterisk still holds the call in Stasis
    channel = await driver.ari.get_channel(theirs)
    assert channel.stasis_app == "hotline"

    second_log = MemoryCallRecorder()
    second = await start_engine(second_log)
    assert theirs in second.supervisor.sessions
    await at_node(second, theirs, "main_menu")
    await driver.ari.send_dtmf(ours, "6")
    await at_node(second, theirs, "billing_menu")
    await driver.ari.hangup(ours)
    record = await the_record(second_log)
    assert record.adopted
    assert record.started_at == detached.started_at
    assert choices(record) == [("main_menu", "6")]
    # the key pressed after the restart; "1" may or may not have been saved before the stop
    assert record.digits[-1] == "6"


async def test_sip_caller_signs_up_for_bank_debit_by_keypad(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path
) -> None:
    intake = FakeIntake()
    recorder = MemoryCallRecorder()
    await start_engine(recorder, hotline_backends(intake))
    # 1 Japanese, 6 bills and payment, 3 bank-debit sign-up, 1 confirm; then the flow reads
    # back the confirmation number, asks "anything else?" and says goodbye when nothing comes
    caller = Sipp(
        keys_scenario(workdir, "1631", gap_ms=2500, hang_up_after_ms=None),
        caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
        workdir,
    )
    result = await (await caller.start()).wait()
    record = await the_record(recorder)
    assert result.ok, " ".join(f"{t['node']}:{t['event']}" for t in record.trail)

    assert choices(record) == [
        ("greeting", "1"),
        ("main_menu", "6"),
        ("billing_menu", "3"),
        ("debit_confirm", "1"),
    ]
    assert intake.created == [
        ("bank_debit", {"customer_number": "1000000018", "caller_id": normalise_number(CALLER)})
    ]
    assert record.intakes == ["bank_debit:K10001"]
    read_back = "bank-debit-accepted,confirmation-number-is"
    assert any(p.startswith(read_back) for p in record.prompts_finished)
    # Asterisk played our own prompt files to the end, not its stock sounds
    assert record.media_finished
    assert all(m.startswith(OUR_PROMPTS + "ja/") for m in record.media_finished)
    assert record.outcome == "completed"


async def call_the_on_duty_line(
    sandbox: Sandbox, driver: Driver, workdir: Path, scenario: str | Path, number: str
) -> tuple[SippResult, SippResult]:
    """A caller runs `scenario` against `number` while the dialplan's on-duty list
    (`HOTLINE_ONDUTY_STEPS`) is one SIPp staff phone that presses 1, talks and hangs up;
    returns (caller, phone) results."""
    phone = await Sipp("phone_press1_talk.xml", ["-d", "300"], workdir).start()
    steps = f"PJSIP/onduty/sip:onduty@127.0.0.1:{phone.port}~30"
    try:
        async with dialplan_globals(driver.ari, HOTLINE_ONDUTY_STEPS=steps):
            caller = Sipp(
                scenario, caller_args(sandbox.sip_host, sandbox.sip_port, number, CALLER), workdir
            )
            caller_result = await (await caller.start()).wait()
            phone_result = await phone.wait()
    finally:
        phone.kill()
    return caller_result, phone_result


async def test_engine_down_the_leak_line_still_reaches_the_on_duty_phone(
    sandbox: Sandbox, driver: Driver, workdir: Path
) -> None:
    # no engine is connected in this test: Stasis(hotline) fails and the dialplan takes over
    caller_result, phone_result = await call_the_on_duty_line(
        sandbox, driver, workdir, "caller_silent.xml", "1100"
    )
    assert phone_result.ok, phone_result.output
    assert "INVITE from" in phone_result.log
    assert CALLER in phone_result.log
    assert caller_result.ok, caller_result.output


async def test_engine_down_main_number_apologises_and_key_3_reaches_on_duty(
    sandbox: Sandbox, driver: Driver, workdir: Path
) -> None:
    caller_result, phone_result = await call_the_on_duty_line(
        sandbox,
        driver,
        workdir,
        keys_scenario(workdir, "3", gap_ms=500, hang_up_after_ms=None),
        "1000",
    )
    assert phone_result.ok, phone_result.output
    assert caller_result.ok, caller_result.output


async def test_engine_up_the_leak_line_reaches_the_on_duty_phone_through_the_flow(
    sandbox: Sandbox, start_engine: EngineFactory, driver: Driver, workdir: Path
) -> None:
    recorder = MemoryCallRecorder()
    await start_engine(recorder)
    caller_result, phone_result = await call_the_on_duty_line(
        sandbox, driver, workdir, "caller_silent.xml", "1100"
    )
    assert phone_result.ok, phone_result.output
    assert caller_result.ok, caller_result.output
    record = await the_record(recorder)
    assert record.entry == "emergency"
    assert record.outcome == "handed_to_dialplan"
    assert record.prompts_played[0] == "leak-connecting"


async def test_the_same_key_twice_is_heard_twice(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path
) -> None:
    recorder = MemoryCallRecorder()
    await start_engine(recorder)
    caller = Sipp(
        keys_scenario(workdir, "11", gap_ms=2500, hang_up_after_ms=2000),
        caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
        workdir,
    )
    result = await (await caller.start()).wait()
    assert result.ok, result.output
    record = await the_record(recorder)
    assert choices(record) == [("greeting", "1"), ("main_menu", "1")]


async def test_an_asterisk_restart_ends_its_calls_cleanly_and_the_engine_takes_new_ones(
    start_engine: EngineFactory, driver: Driver
) -> None:
    recorder = MemoryCallRecorder()
    engine = await start_engine(recorder)
    ours, theirs = await driver.call("1000", caller_id=CALLER)
    await driver.answered(ours)
    await at_node(engine, theirs, "greeting")

    # Asterisk restarts under a live call (same process, like `core restart` by an admin)
    restart = await asyncio.to_thread(
        subprocess.run,
        [str(ROOT / "scripts" / "asterisk-sandbox"), "cli", "core restart now"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "HOTLINE_SANDBOX_DIR": str(sandbox_dir())},
    )
    assert restart.returncode == 0, restart.stdout + restart.stderr

    # the call Asterisk dropped gets its record, not a session waiting for ever
    record = await the_record(recorder)
    assert record.call_id == theirs
    assert record.outcome == "caller_hung_up"

    # the engine reconnects by itself (and so does the test's own ARI app)
    async with asyncio.timeout(CALL_WAIT_S):
        while engine.ari.connects < 2 or not engine.ari.connected.is_set():
            await engine.supervisor.next_change()
    await driver.wait_for(lambda e: isinstance(e, Resynced) and e.reconnect, CALL_WAIT_S)

    # and the next resident is answered as usual
    ours, theirs = await driver.call("1000", caller_id=CALLER)
    await asyncio.wait_for(driver.answered(ours), CALL_WAIT_S)
    await at_node(engine, theirs, "greeting")
