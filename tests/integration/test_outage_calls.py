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
from tests.integration.conftest import CALLER, Driver, EngineFactory
from tests.integration.test_calls import call_the_on_duty_line, the_record
from tests.support.sandbox import Sandbox, sandbox_dir
from tests.support.sipp import Sipp, caller_args, keys_scenario

pytestmark = pytest.mark.integration

OURS = "/var/lib/hotline/prompts/"
# Asterisk's verbose log line for each file a channel starts to play (`asterisk -vvv`)
_PLAYING = re.compile(r"<(?P<channel>[^>]+)> Playing '(?P<file>[^']+)'")
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
