"""Real calls when something is down: with no engine the dialplan's fallback speaks our own
prompts (Japanese, then English), as Asterisk's log of what it played shows; a caller whose
phone goes silent without a BYE is hung up by Asterisk's RTP timeout and its record closed; and
the language choice's English sentence is the English voice's audio."""

from __future__ import annotations

import asyncio
import re
import time
import wave
from datetime import datetime
from pathlib import Path

import pytest

from ivr.calls.records import MemoryCallRecorder
from ivr.prompts import CommandTts
from routing.fallback import ACCEPT_GLOBAL, STEPS_GLOBAL
from tests.integration.conftest import CALLER, Driver, EngineFactory, dialplan_globals
from tests.integration.test_calls import call_the_on_duty_line, the_record
from tests.integration.test_routed_calls import routing
from tests.support.sandbox import Sandbox, sandbox_dir
from tests.support.sipp import Sipp, caller_args, keys_scenario

pytestmark = pytest.mark.integration

OURS = "/var/lib/hotline/prompts/"
# Asterisk's verbose log line for each file a channel starts to play (`asterisk -vvv`)
_PLAYING = re.compile(r"<(?P<channel>[^>]+)> Playing '(?P<file>[^']+)'")
_ANSWERED = re.compile(r"-- (?P<callee>\S+) answered (?P<caller>\S+)")
_JOINED = re.compile(r"Channel (?P<channel>\S+) joined '[^']+' basic-bridge <(?P<bridge>[^>]+)>")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class AsteriskLog:
    """What the sandboxed Asterisk logs from now on (its console output file)."""

    def __init__(self) -> None:
        self.path = sandbox_dir() / "run" / "asterisk.out"
        self.start = self.path.stat().st_size

    def lines(self) -> list[str]:
        with self.path.open("rb") as f:
            f.seek(self.start)
            text = f.read().decode("utf-8", "replace")
        return [_ANSI.sub("", line) for line in text.splitlines()]

    def played(self, channel_prefix: str) -> list[str]:
        """The files played to channels whose name starts so, extension dropped, in order."""
        out = []
        for line in self.lines():
            m = _PLAYING.search(line)
            if m and m["channel"].startswith(channel_prefix):
                out.append(m["file"].rsplit(".", 1)[0])
        return out

    def answered(self, caller_prefix: str) -> list[str]:
        """The channels Dial connected to callers whose name starts so, in answer order."""
        out = []
        for line in self.lines():
            m = _ANSWERED.search(line)
            if m and m["caller"].startswith(caller_prefix):
                out.append(m["callee"])
        return out

    def bridged(self) -> dict[str, set[str]]:
        """The channels that joined each basic bridge (Dial's), by bridge id."""
        out: dict[str, set[str]] = {}
        for line in self.lines():
            m = _JOINED.search(line)
            if m:
                out.setdefault(m["bridge"], set()).add(m["channel"])
        return out


async def test_engine_down_the_main_number_speaks_our_prompts_japanese_then_english(
    sandbox: Sandbox, workdir: Path
) -> None:
    log = AsteriskLog()
    # no engine is connected: Stasis(hotline) fails and the dialplan fallback answers
    caller = Sipp(
        "caller_silent.xml",
        caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
        workdir,
    )
    started = time.monotonic()
    result = await (await caller.start()).wait()
    lasted = time.monotonic() - started
    assert result.ok, result.output
    assert log.played("PJSIP/caller-") == [
        OURS + "ja/fallback-unavailable",
        OURS + "en/fallback-unavailable",
    ]
    # both were played to their end before the wait for a key and the hang-up
    audio = sandbox.chroot / OURS.strip("/")
    heard = sum(wav_seconds(audio / lang / "fallback-unavailable.wav") for lang in ("ja", "en"))
    assert lasted >= heard + 5


async def test_engine_down_the_leak_line_speaks_our_prompts_then_rings_on_duty(
    sandbox: Sandbox, driver: Driver, workdir: Path
) -> None:
    log = AsteriskLog()
    caller_result, phone_result = await call_the_on_duty_line(
        sandbox, driver, workdir, "caller_silent.xml", "1100"
    )
    assert phone_result.ok, phone_result.output
    assert caller_result.ok, caller_result.output
    assert log.played("PJSIP/caller-") == [
        OURS + "ja/fallback-connecting",
        OURS + "en/fallback-connecting",
    ]


async def test_engine_down_a_phone_that_only_answers_is_hung_up_and_the_next_on_duty_takes_it(
    sandbox: Sandbox, driver: Driver, workdir: Path
) -> None:
    log = AsteriskLog()
    # tonight's list as the engine would have published it: a voicemail that answers at once
    # and never presses 1, then the on-duty person who presses 1, talks and hangs up
    voicemail = await Sipp("phone_wait.xml", [], workdir).start()
    duty = await Sipp("phone_press1_talk.xml", ["-d", "1500"], workdir).start()
    steps = "^".join(
        f"PJSIP/onduty/sip:onduty@127.0.0.1:{phone.port}~10" for phone in (voicemail, duty)
    )
    try:
        # no engine is connected: Stasis(hotline) fails and [hotline-duty] rings the list
        async with dialplan_globals(
            driver.ari, HOTLINE_ONDUTY_STEPS=steps, HOTLINE_ONDUTY_ACCEPT_S="2"
        ):
            caller = Sipp(
                "caller_silent.xml",
                caller_args(sandbox.sip_host, sandbox.sip_port, "1100", CALLER),
                workdir,
            )
            caller_result = await (await caller.start()).wait()
            voicemail_result, duty_result = await voicemail.wait(), await duty.wait()
    finally:
        voicemail.kill()
        duty.kill()
    # the voicemail answered and was hung up by Asterisk (its scenario ends only on a BYE)
    assert voicemail_result.ok, voicemail_result.output
    assert CALLER in voicemail_result.log
    # the second phone was rung, pressed 1 and talked until it hung up itself
    assert duty_result.ok, duty_result.output
    assert CALLER in duty_result.log
    # the caller was hung up after that conversation, not left in silence
    assert caller_result.ok, caller_result.output
    # what Asterisk did: both phones answered and heard the accept prompt; only the second
    # joined the caller's bridge; the caller heard no apology
    answered = log.answered("PJSIP/caller-")
    assert len(answered) == 2, log.lines()[-40:]
    first, second = answered
    assert log.played(first) == [OURS + "ja/duty-accept", OURS + "en/duty-accept"]
    assert log.played(second)[0] == OURS + "ja/duty-accept"
    bridged = log.bridged()
    assert len(bridged) == 1, bridged
    [members] = bridged.values()
    assert second in members
    assert any(m.startswith("PJSIP/caller-") for m in members)
    assert first not in members
    assert log.played("PJSIP/caller-") == [
        OURS + "ja/fallback-connecting",
        OURS + "en/fallback-connecting",
    ]


async def test_an_engine_s_on_duty_list_is_rung_by_the_dialplan_once_the_engine_is_gone(
    sandbox: Sandbox, start_engine: EngineFactory, driver: Driver, workdir: Path
) -> None:
    voicemail = await Sipp("phone_wait.xml", [], workdir).start()
    duty = await Sipp("phone_press1_talk.xml", ["-d", "1000"], workdir).start()
    on_duty = [f"PJSIP/onduty/sip:onduty@127.0.0.1:{p.port}" for p in (voicemail, duty)]
    plan = routing(on_duty=on_duty)
    plan["departments"]["emergency_duty"].update(ring_timeout_s=10, accept_timeout_s=2)
    try:
        engine = await start_engine(routing=plan)
        # the engine wrote its list for the fallback once it connected
        expected = "^".join(f"{e}~10" for e in on_duty)
        async with asyncio.timeout(10):
            while await driver.ari.get_global(STEPS_GLOBAL) != expected:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        assert await driver.ari.get_global(ACCEPT_GLOBAL) == "2"
        await engine.stop()

        log = AsteriskLog()
        # the engine is gone: Stasis fails, and the dialplan rings the list it left behind
        caller = Sipp(
            "caller_silent.xml",
            caller_args(sandbox.sip_host, sandbox.sip_port, "1100", CALLER),
            workdir,
        )
        caller_result = await (await caller.start()).wait()
        voicemail_result, duty_result = await voicemail.wait(), await duty.wait()
    finally:
        voicemail.kill()
        duty.kill()
    assert voicemail_result.ok, voicemail_result.output  # answered, then hung up by Asterisk
    assert duty_result.ok, duty_result.output  # pressed 1, talked, hung up itself
    assert caller_result.ok, caller_result.output
    first, second = log.answered("PJSIP/caller-")
    [members] = log.bridged().values()
    assert second in members
    assert first not in members


async def test_engine_down_nobody_accepting_ends_in_the_apology_not_silence(
    sandbox: Sandbox, driver: Driver, workdir: Path
) -> None:
    log = AsteriskLog()
    # one phone hangs up during the accept prompt, the other answers and never presses 1
    hangs_up = await Sipp("phone.xml", ["-d", "300"], workdir).start()
    voicemail = await Sipp("phone_wait.xml", [], workdir).start()
    steps = "^".join(
        f"PJSIP/onduty/sip:onduty@127.0.0.1:{phone.port}~10" for phone in (hangs_up, voicemail)
    )
    try:
        async with dialplan_globals(
            driver.ari, HOTLINE_ONDUTY_STEPS=steps, HOTLINE_ONDUTY_ACCEPT_S="2"
        ):
            caller = Sipp(
                "caller_silent.xml",
                caller_args(sandbox.sip_host, sandbox.sip_port, "1100", CALLER),
                workdir,
            )
            caller_result = await (await caller.start()).wait()
            hangs_up_result, voicemail_result = await hangs_up.wait(), await voicemail.wait()
    finally:
        hangs_up.kill()
        voicemail.kill()
    assert hangs_up_result.ok, hangs_up_result.output
    assert voicemail_result.ok, voicemail_result.output
    assert caller_result.ok, caller_result.output  # Asterisk hung up after the apology
    gone, unaccepted = log.answered("PJSIP/caller-")
    # Dial still joins a phone that hung up during the prompt to the caller's bridge for an
    # instant (it is gone, nothing is heard); the one that stayed on without a 1 never joins
    joined = set().union(*log.bridged().values())
    assert unaccepted not in joined
    assert joined <= {gone} | {c for c in joined if c.startswith("PJSIP/caller-")}
    assert log.played("PJSIP/caller-") == [
        OURS + "ja/fallback-connecting",
        OURS + "en/fallback-connecting",
        OURS + "ja/fallback-no-answer",
        OURS + "en/fallback-no-answer",
    ]


async def test_a_caller_gone_silent_without_a_bye_is_hung_up_and_its_record_closed(
    sandbox: Sandbox, start_engine: EngineFactory, workdir: Path
) -> None:
    recorder = MemoryCallRecorder()
    await start_engine(recorder)
    log = AsteriskLog()
    # the sandbox's caller-lapse endpoint (127.0.0.3): the callers' settings, a 3 s RTP timeout.
    # The phone presses 1 (RTP), then sends nothing and never hangs up: it waits for a BYE
    caller = Sipp(
        keys_scenario(workdir, "1", gap_ms=1500, hang_up_after_ms=None),
        caller_args(sandbox.sip_host, sandbox.sip_port, "1000", CALLER),
        workdir,
        local_ip="127.0.0.3",
    )
    result = await (await caller.start()).wait()
    assert result.ok, result.output  # Asterisk sent the BYE

    record = await the_record(recorder)
    assert record.digits == ["1"]
    assert record.outcome == "caller_hung_up"
    lines = log.lines()
    assert any(
        "PJSIP/caller-lapse-" in line
        and re.search(r"for lack of .*RTP activity in 3 seconds", line)
        for line in lines
    ), "\n".join(lines[-30:])
    # well before the main menu's own no-input hang-up would have ended the call
    lasted = datetime.fromisoformat(record.ended_at) - datetime.fromisoformat(record.started_at)
    assert lasted.total_seconds() < 15


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def frames(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes())


async def test_the_language_choice_says_its_english_sentence_in_the_english_voice(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    tts = CommandTts(root=sandbox.chroot)
    mixed, ja, en = (tmp_path / f"{n}.wav" for n in ("mixed", "ja", "en"))
    await asyncio.gather(
        tts.synthesize("日本語でのご案内は1を、For English, press 2.", "ja", mixed),
        tts.synthesize("日本語でのご案内は1を、", "ja", ja),
        tts.synthesize("For English, press 2.", "en", en),
    )
    # the rendered line is the Japanese voice's part, then the English voice's, nothing else
    assert frames(mixed) == frames(ja) + frames(en)
    assert wav_seconds(en) > 1.0
