"""A notice's own text made into audio with the real speech tools of the sandbox chroot (Open
JTalk, espeak-ng, sox), as the console and `hotline notices add` do when a notice is saved: a
notice goes live only when both languages rendered, a failure is kept with its reason."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters.notices import NoticeDesk
from ivr.prompts import CommandTts, Failed, NoticeVoices, Rendered
from ivr.store.accounts import AccountStore
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from ivr.store.notices import NoticeDraft, NoticeStore
from tests.integration.store.storedata import NOW
from tests.support.sandbox import Sandbox

pytestmark = pytest.mark.integration

JA = "3月3日の午前9時から正午まで、本町1丁目で断水します。"
EN = "Water will be off in Honcho 1-chome on March 3 from 9 a.m. to noon."


def seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return w.getnframes() / w.getframerate()


def frames(path: Path) -> bytes:
    with wave.open(str(path), "rb") as w:
        return w.readframes(w.getnframes())


@pytest.fixture
async def db(tmp_path: Path) -> AsyncEngine:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"
    await migrate(url)
    return open_engine(url)


def draft(text_en: str = EN) -> NoticeDraft:
    return NoticeDraft(
        "planned_outage", ("chuo-01",), JA, text_en, NOW, NOW.replace(year=NOW.year + 1)
    )


async def test_a_notice_is_spoken_in_both_languages(sandbox: Sandbox, tmp_path: Path) -> None:
    voices = NoticeVoices(tmp_path / "prompts", CommandTts(root=sandbox.chroot), "/srv/prompts")
    made = await voices.render("notice-7", {"ja": JA, "en": EN})
    ja, en = made["ja"], made["en"]
    assert isinstance(ja, Rendered), ja
    assert isinstance(en, Rendered), en
    assert ja.path == tmp_path / "prompts" / "ja" / "notice-7.wav"
    assert en.path == tmp_path / "prompts" / "en" / "notice-7.wav"
    # the whole sentence is read: 3-12 Japanese characters a second (digits are read as
    # words: 3月3日 is さんがつみっか), 8-25 English letters
    assert len(JA) / 12 < seconds(ja.path) < len(JA) / 3
    assert len(EN) / 25 < seconds(en.path) < len(EN) / 8
    assert voices.media("notice-7", "en") == "sound:/srv/prompts/en/notice-7"
    # nothing half-written is left next to them
    assert sorted(p.name for p in (tmp_path / "prompts").rglob("*")) == [
        "en",
        "ja",
        "notice-7.wav",
        "notice-7.wav",
    ]


async def test_a_japanese_notice_with_an_english_phrase_is_spoken_by_both_voices(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    tts = CommandTts(root=sandbox.chroot)
    voices = NoticeVoices(tmp_path / "mixed", tts)
    alone = NoticeVoices(tmp_path / "alone", tts)
    mixed = await voices.render("notice-8", {"ja": "断水のお知らせです。Water will be off."})
    ja_part = await alone.render("notice-8", {"ja": "断水のお知らせです。"})
    english = tmp_path / "english.wav"
    await tts.synthesize("Water will be off.", "en", english)
    whole, first = mixed["ja"], ja_part["ja"]
    assert isinstance(whole, Rendered)
    assert isinstance(first, Rendered)
    # the Japanese run by Open JTalk, then the English phrase by espeak-ng, in one file
    assert frames(whole.path) == frames(first.path) + frames(english)


async def test_english_callers_hear_the_japanese_audio_when_there_is_no_english_text(
    sandbox: Sandbox, tmp_path: Path, db: AsyncEngine
) -> None:
    voices = NoticeVoices(tmp_path / "prompts", CommandTts(root=sandbox.chroot))
    changes: list[str] = []
    desk = NoticeDesk(
        NoticeStore(db), voices, on_change=lambda: changes.append("x"), clock=lambda: NOW
    )
    try:
        entry = await desk.add(draft(text_en=""), "admin:boss")
        assert entry.live, entry.audio_reason
        assert frames(voices.path(f"notice-{entry.id}", "en")) == frames(
            voices.path(f"notice-{entry.id}", "ja")
        )
        assert changes == ["x"]
    finally:
        await db.dispose()


async def test_a_saved_notice_goes_live_once_rendered_and_a_failure_says_why(
    sandbox: Sandbox, tmp_path: Path, db: AsyncEngine
) -> None:
    store = NoticeStore(db)
    good = NoticeDesk(store, NoticeVoices(tmp_path / "prompts", CommandTts(root=sandbox.chroot)))
    # a machine without the speech tools: an empty chroot
    (tmp_path / "bare" / "usr" / "bin").mkdir(parents=True)
    broken = NoticeDesk(
        store, NoticeVoices(tmp_path / "prompts", CommandTts(root=tmp_path / "bare"))
    )
    try:
        async with AccountStore(db) as accounts:
            live = await good.add(draft(), "admin:boss")
            assert (live.audio, live.status(NOW)) == ({"ja": "ready", "en": "ready"}, "in_force")
            silent = await broken.add(draft(), "admin:boss")
            assert silent.status(NOW) == "failed"
            for lang in ("ja", "en"):
                reason = silent.audio_reason[lang]
                assert reason is not None
                assert "open-jtalk" in reason
                assert "espeak-ng" in reason
            # callers hear the rendered one only
            heard = await accounts.notices_for(["chuo-01"], NOW)
            assert [n.id for n in heard] == [live.id]
            # rendering again once the tools are there (the engine's start does this for
            # pending notices; a failed one is saved again by the admin)
            again = await good.render(silent)
            assert again.live
    finally:
        await db.dispose()


async def test_no_japanese_text_or_no_speech_engine_is_a_failure_with_a_reason(
    tmp_path: Path,
) -> None:
    voices = NoticeVoices(tmp_path, None)
    blank = await voices.render("notice-1", {"ja": " ", "en": "x"})
    assert {lang: r.reason for lang, r in blank.items() if isinstance(r, Failed)} == {
        "ja": "no Japanese text to speak",
        "en": "no Japanese text to speak",
    }
    none = await voices.render("notice-1", {"ja": "断水", "en": "x"})
    assert all(isinstance(r, Failed) and "no speech engine" in r.reason for r in none.values())
    assert not voices.path("notice-1", "ja").exists()
