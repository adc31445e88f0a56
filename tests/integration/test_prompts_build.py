"""The prompt build with the real speech tools in the sandbox chroot, and Asterisk playing the
result: a rendered prompt plays to its end (`done`), a missing one fails at once (`failed`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.ari.client import AriClient
from ivr.ari.models import PlaybackFinished, StasisStart
from ivr.errors import ChannelGone
from ivr.flow.catalog import Catalog, load_catalog
from ivr.prompts import DEFAULT_ASTERISK_DIR, CommandTts, PromptLibrary
from tests.integration.conftest import Driver
from tests.support.sandbox import ROOT, Sandbox

pytestmark = pytest.mark.integration


def wav_format(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        return rate, w.getnchannels(), w.getsampwidth(), w.getnframes() / rate


def pick(ids: list[str]) -> Catalog:
    catalog = load_catalog(ROOT / "prompts" / "catalog.yaml")
    return Catalog({i: catalog.texts[i] for i in ids})


async def test_real_tools_render_8khz_mono_16bit(sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "prompts"
    tts = CommandTts(root=sandbox.chroot)
    ja = PromptLibrary(pick(["welcome", "no-input"]), tmp_path / "studio", out, tts=tts)
    en = PromptLibrary(pick(["welcome"]), tmp_path / "studio", out, tts=tts)

    ja_report = await ja.build(("ja",))
    en_report = await en.build(("en",))

    assert ja_report.ok, ja_report.failed
    assert en_report.ok, en_report.failed
    rendered = [*ja_report.rendered, *en_report.rendered]
    assert [(r.lang, r.prompt_id, r.origin) for r in rendered] == [
        ("ja", "welcome", "tts"),
        ("ja", "no-input", "tts"),
        ("en", "welcome", "tts"),
    ]
    for r in rendered:
        rate, channels, width, seconds = wav_format(r.path)
        assert (rate, channels, width) == (8000, 1, 2), r
        assert seconds == pytest.approx(r.duration_s)
        text = ja.catalog.text(r.prompt_id, r.lang)
        # plausible speech: Japanese about 5-12 characters a second, English 8-25 letters
        per_s = (5, 12) if r.lang == "ja" else (8, 25)
        assert len(text) / per_s[1] < seconds < len(text) / per_s[0] + 1.0, (r, text)
    assert sorted(p.name for p in (out / "ja").iterdir()) == ["no-input.wav", "welcome.wav"]


@pytest.fixture
async def hotline_app(sandbox: Sandbox) -> AsyncIterator[Driver]:
    """Listens as the `hotline` app, where `Local/1000@hotline` sends the callee half.
    Only while no engine is connected: this takes the app over."""
    app = Driver(sandbox)
    await app.ari.close()
    app.app = "hotline"
    app.ari = AriClient(sandbox.ari_url, sandbox.ari_user, sandbox.ari_password, "hotline")
    await app.start()
    yield app
    await app.stop()


async def finished(app: Driver, playback_id: str, timeout_s: float) -> PlaybackFinished:
    await app.wait_for(
        lambda e: isinstance(e, PlaybackFinished) and e.playback.id == playback_id, timeout_s
    )
    [event] = [
        e for e in app.events if isinstance(e, PlaybackFinished) and e.playback.id == playback_id
    ]
    return event


async def test_asterisk_plays_a_rendered_prompt(
    sandbox: Sandbox, driver: Driver, hotline_app: Driver
) -> None:
    # a test-only id in the real prompt directory, removed afterwards
    prompt_id = f"pb-test-{uuid.uuid4().hex[:8]}"
    catalog = Catalog({prompt_id: {"ja": "漏水のご連絡を承りました。", "en": "Leak noted."}})
    out = sandbox.chroot / DEFAULT_ASTERISK_DIR.lstrip("/")
    library = PromptLibrary(catalog, Path("/nonexistent"), out, tts=CommandTts(sandbox.chroot))
    ours = theirs = ""
    try:
        report = await library.build(("ja",))
        assert report.ok, report.failed
        [rendered] = report.rendered

        ours, theirs = await driver.call("1000")
        await hotline_app.wait_for(
            lambda e: isinstance(e, StasisStart) and e.channel.id == theirs, 15
        )
        await hotline_app.ari.answer(theirs)
        await driver.answered(ours)

        playback_id = f"pb-{uuid.uuid4().hex[:10]}"
        started = time.monotonic()
        await hotline_app.ari.play(theirs, library.media(prompt_id, "ja"), playback_id)
        done = await finished(hotline_app, playback_id, rendered.duration_s + 10)
        played_s = time.monotonic() - started
        assert done.playback.state == "done"
        assert done.playback.media_uri == f"sound:{DEFAULT_ASTERISK_DIR}/ja/{prompt_id}"
        # it really played the audio rather than ending at once
        assert played_s > rendered.duration_s * 0.8

        absent_id = f"pb-{uuid.uuid4().hex[:10]}"
        await hotline_app.ari.play(theirs, f"sound:{DEFAULT_ASTERISK_DIR}/ja/no-such", absent_id)
        failed = await finished(hotline_app, absent_id, 10)
        assert failed.playback.state == "failed"
    finally:
        for channel in (ours, theirs):
            if channel:
                with contextlib.suppress(ChannelGone):
                    await driver.ari.hangup(channel)
        await asyncio.to_thread(lambda: (out / "ja" / f"{prompt_id}.wav").unlink(missing_ok=True))
