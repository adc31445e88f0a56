"""Call sessions against the in-memory ARI fake, in virtual time (no real waiting)."""

from __future__ import annotations

import asyncio
import json

import pytest

from ivr.ari.client import Resynced
from ivr.ari.fake import FakeAri
from ivr.ari.models import CallerId, Channel, ChannelDtmfReceived, DialplanCep
from ivr.calls.records import MemoryCallRecorder
from ivr.calls.session import STATE_VARIABLE
from ivr.calls.supervisor import Supervisor
from ivr.config import CallsConfig

pytestmark = [pytest.mark.unit, pytest.mark.looptime]

CFG = CallsConfig(digit_timeout_s=8, digit_retries=2)


def setup() -> tuple[FakeAri, Supervisor, MemoryCallRecorder]:
    ari = FakeAri()
    recorder = MemoryCallRecorder()
    supervisor = Supervisor(ari, recorder, CFG)
    ari.sink = supervisor.on_event
    return ari, supervisor, recorder


def plays(ari: FakeAri) -> list[str]:
    return [op[2] for op in ari.ops if op[0] == "play"]


def press(ari: FakeAri, channel_id: str, digit: str) -> None:
    ari.emit(
        ChannelDtmfReceived(
            type="ChannelDtmfReceived", channel=ari.channels[channel_id], digit=digit
        )
    )


async def settle() -> None:
    # let the session task run until it waits on its inbox again (virtual time: instant)
    await asyncio.sleep(0.01)


def current_playback(ari: FakeAri) -> str:
    [playback_id] = ari.playbacks
    return playback_id


async def test_answer_greet_take_a_key_thank_and_hang_up() -> None:
    ari, _sup, recorder = setup()
    ari.incoming("c1", number="0935821234")
    await settle()
    assert ari.ops[0] == ("answer", "c1")
    assert plays(ari) == [CFG.greeting_media]
    ari.finish_playback(current_playback(ari))
    await settle()
    press(ari, "c1", "4")
    await settle()
    assert plays(ari) == [CFG.greeting_media, CFG.thanks_media]
    ari.finish_playback(current_playback(ari))
    record = await recorder.wait_for("c1")
    assert record.outcome == "completed"
    assert record.digits == ["4"]
    assert record.caller == "0935821234"
    assert ("hangup", "c1") in ari.ops


async def test_key_during_the_prompt_stops_it_barge_in() -> None:
    ari, _sup, recorder = setup()
    ari.incoming("c2")
    await settle()
    greeting = current_playback(ari)
    press(ari, "c2", "9")
    await settle()
    assert ("stop_playback", greeting) in ari.ops
    assert plays(ari)[-1] == CFG.thanks_media
    ari.finish_playback(current_playback(ari))
    assert (await recorder.wait_for("c2")).digits == ["9"]


async def test_silence_repeats_the_prompt_then_says_goodbye() -> None:
    ari, _sup, recorder = setup()
    ari.incoming("c3")
    for _ in range(CFG.digit_retries + 1):
        await settle()
        ari.finish_playback(current_playback(ari))
        await asyncio.sleep(CFG.digit_timeout_s + 0.1)
    assert plays(ari) == [CFG.greeting_media] * 3 + [CFG.goodbye_media]
    ari.finish_playback(current_playback(ari))
    record = await recorder.wait_for("c3")
    assert record.outcome == "no_input"
    assert ("hangup", "c3") in ari.ops


async def test_caller_hanging_up_ends_the_session_with_a_record() -> None:
    ari, sup, recorder = setup()
    ari.incoming("c4")
    await settle()
    ari.caller_hangs_up("c4")
    record = await recorder.wait_for("c4")
    assert record.outcome == "caller_hung_up"
    await sup.wait_idle()
    assert "c4" not in sup.sessions


async def test_hangup_race_on_answer_is_normal() -> None:
    ari, _sup, recorder = setup()
    ari.incoming("c5")
    del ari.channels["c5"]  # gone before the session's first request reaches Asterisk
    record = await recorder.wait_for("c5")
    assert record.outcome == "caller_hung_up"


async def test_engine_stop_detaches_without_hanging_up() -> None:
    ari, sup, recorder = setup()
    ari.incoming("c6")
    await settle()
    await sup.stop()
    record = await recorder.wait_for("c6")
    assert record.outcome == "detached"
    assert ("hangup", "c6") not in ari.ops
    saved = json.loads(ari.variables["c6"][STATE_VARIABLE])
    assert saved["step"] == "greet"


async def test_call_found_after_reconnect_is_re_adopted_where_it_was() -> None:
    ari, sup, recorder = setup()
    channel = Channel(
        id="c7",
        state="Up",
        caller=CallerId(number="0935821234"),
        dialplan=DialplanCep(app_name="Stasis", app_data="hotline,emergency"),
    )
    ari.channels["c7"] = channel
    ari.variables["c7"] = {
        STATE_VARIABLE: json.dumps(
            {"step": "greet", "retries": 1, "digits": [], "started_at": "2026-11-26T00:00:00+00:00"}
        )
    }
    ari.emit(Resynced(channels=(channel,), reconnect=True))
    await settle()
    assert "c7" in sup.sessions
    assert ("answer", "c7") not in ari.ops  # it was answered by the previous engine
    press(ari, "c7", "3")
    await settle()
    ari.finish_playback(current_playback(ari))
    record = await recorder.wait_for("c7")
    assert record.adopted
    assert record.entry == "emergency"
    assert record.started_at == "2026-11-26T00:00:00+00:00"
    assert record.digits == ["3"]


async def test_call_that_ended_while_we_were_away_is_closed_on_resync() -> None:
    ari, _sup, recorder = setup()
    ari.incoming("c8")
    await settle()
    del ari.channels["c8"]
    ari.emit(Resynced(channels=(), reconnect=True))
    assert (await recorder.wait_for("c8")).outcome == "caller_hung_up"


async def test_unexpected_error_plays_an_apology_never_dead_air() -> None:
    ari, _sup, recorder = setup()

    async def broken(channel_id: str, variable: str, value: str) -> None:
        raise RuntimeError("bug")

    ari.set_variable = broken  # type: ignore[method-assign]
    ari.incoming("c9")
    await settle()
    assert plays(ari) == [CFG.apology_media]
    ari.finish_playback(current_playback(ari))
    record = await recorder.wait_for("c9")
    assert record.outcome == "failed"
    assert ("hangup", "c9") in ari.ops


async def test_events_for_unknown_channels_and_non_call_stasis_entries_are_ignored() -> None:
    ari, sup, _recorder = setup()
    ari.incoming("agent-leg", args="agent")
    press(ari, "agent-leg", "1")
    await settle()
    assert sup.sessions == {}
    assert ari.ops == []
