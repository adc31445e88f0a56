"""Prompt library: media URIs, what counts as missing, and the build with a fake speech engine."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import wave
from collections.abc import Collection
from pathlib import Path

import pytest

from ivr.cli.prompts import add_commands
from ivr.flow.catalog import Catalog
from ivr.prompts import (
    CommandTts,
    Failed,
    PromptError,
    PromptLibrary,
    TtsEngine,
    TtsUnavailable,
    default_output_dir,
    playable,
)

pytestmark = pytest.mark.unit

CATALOG = Catalog(
    {
        "welcome": {"ja": "お電話ありがとうございます。", "en": "Thank you for calling."},
        "no-input": {"ja": "入力が確認できませんでした。", "en": "We did not receive your entry."},
        "goodbye": {"ja": "ご利用ありがとうございました。", "en": "Goodbye."},
    }
)


def write_wav(path: Path, seconds: float, rate: int = 8000, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * channels * int(rate * seconds))


class FakeTts:
    """Writes silence: 0.1 s per character of text; a studio take keeps its length."""

    def __init__(self, fail: str | None = None, unavailable: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail
        self.unavailable = unavailable
        self.active = 0
        self.max_active = 0
        self.overlap = asyncio.Event()
        self.hold_for_overlap = False
        self.checked: list[set[str]] = []

    def check(self, synthesize: Collection[str]) -> None:
        self.checked.append(set(synthesize))
        if self.unavailable:
            raise TtsUnavailable("install open-jtalk")

    async def _busy(self) -> None:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        if self.active >= 2:
            self.overlap.set()
        # hold the "render" until a second one runs beside it (bounded: a build that renders one
        # at a time then ends with max_active 1 instead of hanging)
        if self.hold_for_overlap:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.overlap.wait(), 0.5)
        self.active -= 1

    async def synthesize(self, text: str, lang: str, dest: Path) -> None:
        self.calls.append(("tts", f"{lang}:{text}"))
        await self._busy()
        if self.fail is not None and self.fail in text:
            await asyncio.to_thread(dest.write_bytes, b"half a file")
            raise PromptError("open_jtalk failed (exit 1)")
        write_wav(dest, 0.1 * len(text))

    async def convert(self, source: Path, dest: Path) -> None:
        self.calls.append(("studio", source.name))
        await self._busy()
        with wave.open(str(source), "rb") as w:
            seconds = w.getnframes() / w.getframerate()
        write_wav(dest, seconds)


def _port(fake: FakeTts) -> TtsEngine:
    return fake


@pytest.fixture
def studio(tmp_path: Path) -> Path:
    return tmp_path / "studio"


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "out"


def library(studio: Path, out: Path, tts: FakeTts | None = None, jobs: int = 2) -> PromptLibrary:
    return PromptLibrary(CATALOG, studio_dir=studio, output_dir=out, tts=tts, jobs=jobs)


def test_media_uri_is_the_asterisk_path_without_extension(studio: Path, out: Path) -> None:
    lib = library(studio, out)
    assert lib.media("welcome", "ja") == "sound:/var/lib/hotline/prompts/ja/welcome"
    assert lib.media("no-input", "en") == "sound:/var/lib/hotline/prompts/en/no-input"
    custom = PromptLibrary(CATALOG, output_dir=out, asterisk_dir="/srv/prompts/")
    assert custom.media("welcome", "en") == "sound:/srv/prompts/en/welcome"
    assert lib.path("welcome", "ja") == out / "ja" / "welcome.wav"


def test_unknown_prompt_or_language_is_an_error(studio: Path, out: Path) -> None:
    lib = library(studio, out)
    with pytest.raises(PromptError, match="unknown prompt id 'welcom'"):
        lib.media("welcom", "ja")
    with pytest.raises(PromptError, match="unknown language 'fr'"):
        lib.media("welcome", "fr")


def test_missing_lists_ids_without_playable_audio(studio: Path, out: Path) -> None:
    lib = library(studio, out)
    assert lib.missing("ja") == ["welcome", "no-input", "goodbye"]
    write_wav(out / "ja" / "welcome.wav", 1.0)
    # a raw 48 kHz file (e.g. a studio take copied over unconverted) does not play: missing
    write_wav(out / "ja" / "goodbye.wav", 1.0, rate=48000)
    (out / "ja" / "no-input.wav").write_bytes(b"")
    assert lib.missing("ja") == ["no-input", "goodbye"]
    assert lib.missing("en") == ["welcome", "no-input", "goodbye"]


async def test_build_renders_only_what_is_missing(studio: Path, out: Path) -> None:
    tts = FakeTts()
    lib = library(studio, out, tts)
    write_wav(out / "ja" / "welcome.wav", 1.0)
    seen: list[tuple[str, int, int]] = []
    report = await lib.build(
        ("ja",), progress=lambda r, done, total: seen.append((r.prompt_id, done, total))
    )
    assert report.ok
    assert report.kept == 1
    assert [(r.prompt_id, r.lang, r.origin) for r in report.rendered] == [
        ("no-input", "ja", "tts"),
        ("goodbye", "ja", "tts"),
    ]
    assert sorted(p for p, _, _ in seen) == ["goodbye", "no-input"]
    assert [(done, total) for _, done, total in seen] == [(1, 2), (2, 2)]
    # two jobs render at once: each text is sent to the TTS exactly once, in whichever order the
    # two worker threads reach it (the report above keeps the catalog's order)
    assert sorted(tts.calls) == sorted(
        [
            ("tts", "ja:入力が確認できませんでした。"),
            ("tts", "ja:ご利用ありがとうございました。"),
        ]
    )
    assert lib.missing("ja") == []
    rendered = report.rendered[0]
    assert rendered.path == out / "ja" / "no-input.wav"
    assert rendered.duration_s == pytest.approx(1.4)
    # nothing left to do: the engine is not even asked whether its tools are there
    again = await lib.build(("ja",))
    assert again.rendered == ()
    assert again.kept == 3
    assert tts.checked == [{"ja"}]


async def test_force_renders_everything_again(studio: Path, out: Path) -> None:
    tts = FakeTts()
    lib = library(studio, out, tts)
    await lib.build()
    report = await lib.build(force=True)
    assert len(report.rendered) == 6
    assert report.kept == 0
    assert len(tts.calls) == 12


async def test_studio_recording_wins_over_speech(studio: Path, out: Path) -> None:
    write_wav(studio / "ja" / "welcome.wav", 2.5, rate=48000, channels=2)
    tts = FakeTts()
    lib = library(studio, out, tts)
    report = await lib.build(("ja",), ids=["welcome"])
    [rendered] = report.rendered
    assert rendered.origin == "studio"
    assert rendered.duration_s == pytest.approx(2.5)
    assert tts.calls == [("studio", "welcome.wav")]
    # studio only: no synthesiser is needed, only the converter
    assert tts.checked == [set()]
    assert playable(out / "ja" / "welcome.wav")


async def test_a_newer_studio_take_replaces_the_synthetic_prompt(studio: Path, out: Path) -> None:
    tts = FakeTts()
    lib = library(studio, out, tts)
    await lib.build(("en",), ids=["goodbye"])
    take = studio / "en" / "goodbye.wav"
    write_wav(take, 0.7)
    built = out / "en" / "goodbye.wav"
    os.utime(built, (1_000_000, 1_000_000))
    assert lib.stale("en") == ["goodbye"]
    report = await lib.build(("en",), ids=["goodbye"])
    assert [r.origin for r in report.rendered] == ["studio"]
    assert lib.stale("en") == []


async def test_a_failed_render_leaves_no_file_and_the_rest_builds(studio: Path, out: Path) -> None:
    tts = FakeTts(fail="入力")
    lib = library(studio, out, tts)
    report = await lib.build(("ja",))
    assert not report.ok
    assert report.failed == (Failed("no-input", "ja", "open_jtalk failed (exit 1)"),)
    assert {r.prompt_id for r in report.rendered} == {"welcome", "goodbye"}
    # neither the half-written temporary file nor a final file is there
    assert sorted(p.name for p in (out / "ja").iterdir()) == ["goodbye.wav", "welcome.wav"]


async def test_renders_run_concurrently_but_bounded(studio: Path, out: Path) -> None:
    tts = FakeTts()
    tts.hold_for_overlap = True
    await library(studio, out, tts, jobs=2).build()
    assert tts.max_active == 2


async def test_missing_tools_stop_the_build_before_anything_is_written(
    studio: Path, out: Path
) -> None:
    lib = library(studio, out, FakeTts(unavailable=True))
    with pytest.raises(TtsUnavailable):
        await lib.build()
    assert not await asyncio.to_thread(out.exists)


def test_command_tts_names_the_debian_packages(tmp_path: Path) -> None:
    empty_chroot = tmp_path / "root"
    (empty_chroot / "usr" / "bin").mkdir(parents=True)
    with pytest.raises(TtsUnavailable) as err:
        CommandTts(root=empty_chroot).check({"ja", "en"})
    message = str(err.value)
    for package in (
        "sox",
        "open-jtalk",
        "open-jtalk-mecab-naist-jdic",
        "hts-voice-nitech-jp-atr503-m001 (contrib)",
        "espeak-ng",
    ):
        assert package in message
    with pytest.raises(TtsUnavailable) as err:
        CommandTts(root=empty_chroot).check(set())
    assert "espeak-ng" not in str(err.value)


def test_output_dir_is_in_the_sandbox_when_there_is_one(tmp_path: Path) -> None:
    env = {"HOTLINE_SANDBOX_DIR": str(tmp_path / "sb")}
    assert default_output_dir(tmp_path, "var/prompts", env) == tmp_path / "var" / "prompts"
    assert default_output_dir(tmp_path, None, env) == Path("/var/lib/hotline/prompts")
    (tmp_path / "sb" / "root").mkdir(parents=True)
    assert default_output_dir(tmp_path, "var/prompts", env) == (
        tmp_path / "sb" / "root" / "var" / "lib" / "hotline" / "prompts"
    )


def test_cli_list_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("catalog.yaml").write_text(
        "welcome:\n  ja: ようこそ\n  en: Welcome\nbye:\n  ja: さようなら\n  en: Bye\n",
        encoding="utf-8",
    )
    write_wav(tmp_path / "out" / "ja" / "welcome.wav", 0.5)
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    args = parser.parse_args(
        ["prompts", "list-missing", "--catalog", "catalog.yaml", "--output-dir", "out"]
    )
    assert args.func(args) == 1
    assert capsys.readouterr().out.splitlines() == ["ja bye", "en welcome", "en bye"]
    write_wav(tmp_path / "out" / "ja" / "bye.wav", 0.5)
    args = parser.parse_args(
        [
            "prompts",
            "list-missing",
            "--lang",
            "ja",
            "--catalog",
            "catalog.yaml",
            "--output-dir",
            "out",
        ]
    )
    assert args.func(args) == 0
