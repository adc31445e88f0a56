"""Mixed-language prompt lines are rendered per script (an English phrase by the English voice),
and the dialplan's own fallback plays catalog prompts, which the build therefore renders."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import pytest

from ivr.flow.catalog import LANGUAGES, load_catalog
from ivr.prompts import PromptError, join_wavs, language_runs

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_an_english_phrase_in_a_japanese_line_is_its_own_run() -> None:
    assert language_runs("日本語でのご案内は1を、For English, press 2.") == [
        ("ja", "日本語でのご案内は1を、"),
        ("en", "For English, press 2."),
    ]
    assert language_runs("For English, press 2. 日本語は1を") == [
        ("en", "For English, press 2."),
        ("ja", "日本語は1を"),
    ]


def test_lone_latin_tokens_stay_japanese() -> None:
    address = "水道局ホームページ、suido.example.jp で24時間受け付けております。"
    assert language_runs(address) == [("ja", address)]
    assert language_runs("お客さま番号はABCです。") == [("ja", "お客さま番号はABCです。")]
    assert language_runs("お電話ありがとうございます。") == [("ja", "お電話ありがとうございます。")]


def test_the_shipped_catalog_has_one_mixed_line_the_language_choice() -> None:
    catalog = load_catalog(ROOT / "prompts" / "catalog.yaml")
    mixed = [p for p in catalog if len({v for v, _ in language_runs(catalog.text(p, "ja"))}) > 1]
    assert mixed == ["choose-language"]


def write_wav(path: Path, frames: bytes, rate: int = 8000) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def test_joined_audio_is_the_parts_in_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    write_wav(a, b"\x01\x00" * 800)
    write_wav(b, b"\x02\x00" * 400)
    join_wavs([a, b], tmp_path / "out.wav")
    with wave.open(str(tmp_path / "out.wav"), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.readframes(w.getnframes()) == b"\x01\x00" * 800 + b"\x02\x00" * 400
    write_wav(b, b"\x02\x00" * 400, rate=16000)
    with pytest.raises(PromptError, match="not 8 kHz"):
        join_wavs([a, b], tmp_path / "bad.wav")


def test_every_prompt_the_dialplan_plays_is_in_the_catalog() -> None:
    catalog = load_catalog(ROOT / "prompts" / "catalog.yaml")
    dialplan = (ROOT / "asterisk" / "extensions.conf").read_text(encoding="utf-8")
    played = set(re.findall(r"\$\{HOTLINE_PROMPTS\}/(ja|en)/([a-z0-9-]+)", dialplan))
    played |= set(re.findall(r"/var/lib/hotline/prompts/(ja|en)/([a-z0-9-]+)", dialplan))
    fallback = {("ja", "fallback-unavailable"), ("en", "fallback-unavailable")}
    assert fallback <= played
    for lang, prompt_id in played:
        assert lang in LANGUAGES
        assert prompt_id in catalog, prompt_id
    # the fallback speaks Japanese first, then English, in every place it speaks
    for ids in re.findall(
        r"\(\$\{HOTLINE_PROMPTS\}/ja/([a-z0-9-]+)&\$\{HOTLINE_PROMPTS\}/en/([a-z0-9-]+)\)", dialplan
    ):
        assert ids[0] == ids[1]
