"""A call storm against the real Asterisk: more callers sitting in prompts at the same moment than
any pool or limit the engine has, and every one is served (issue "Call storm").

The engine once kept each call's state with a channel-variable request that Asterisk answers only
when the prompt playing on that channel ends; 63 such requests held every connection of the ARI
client's pool, and the next caller's answer or prompt timed out behind them: the engine apologised
and hung up. This test guards the fix by behaviour, not by time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ivr.calls.records import MemoryCallRecorder
from tests.integration.conftest import CALLER, EngineFactory
from tests.support.sandbox import Sandbox
from tests.support.sipp import Sipp, caller_args

pytestmark = pytest.mark.integration

CALLERS = 150
# new calls a second: all are in, each sitting in a prompt, before the first one keys its second
# key (the greeting is keyed 2.5 s after the answer, the main menu 4 s later, then 8 s of listening)
RATE = 25
RECORDS_WAIT_S = 60


async def test_150_callers_in_prompts_at_once_are_each_answered_and_heard(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path
) -> None:
    recorder = MemoryCallRecorder()
    await start_engine(recorder)
    callers = Sipp(
        "caller_info_keys.xml",
        [
            *caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
            *("-key", "key1", "1", "-key", "key2", "5", "-d", "2500"),
            *("-r", str(RATE), "-l", str(CALLERS)),
        ],
        workdir,
        local_ip="127.0.0.2",
        calls=CALLERS,
    )
    await callers.start()
    result = await callers.wait()
    # SIPp completed every call: answered, both keys taken, and nobody hung up on the caller
    assert result.ok, result.output[-1500:]

    async with recorder.written, asyncio.timeout(RECORDS_WAIT_S):
        await recorder.written.wait_for(lambda: len(recorder.records) >= CALLERS)
    records = recorder.records
    assert len(records) == CALLERS
    # they were all in the IVR together: the last one came in before the first one left
    assert max(r.started_at for r in records) < min(r.ended_at for r in records)
    for record in records:
        assert record.outcome == "caller_hung_up", record
        assert record.digits == ["1", "5"], record
        assert "system-error" not in record.prompts_played, record
        # key 1 chose Japanese and reached the main menu; key 5 was heard there
        menus = [p for p in record.prompts_played if p in ("main-menu", "info-menu")]
        assert menus == ["main-menu", "info-menu"], record
