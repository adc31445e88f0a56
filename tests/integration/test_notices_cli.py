"""`hotline notices add | list | end | render` on a SQLite file, with the sandbox chroot's real
speech tools writing into a folder of the test's."""

from __future__ import annotations

import asyncio
import wave
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from ivr.cli import main
from ivr.domain import TOKYO, utc_now
from ivr.store.db import open_engine
from ivr.store.tables import audit_log
from tests.support.notices import insert_notice
from tests.support.sandbox import Sandbox

pytestmark = pytest.mark.integration


def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"
    path.write_text(yaml.safe_dump({"database": {"url": url}}), encoding="utf-8")
    return path


def wav_info(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getnframes()


def tokyo(hours: float) -> str:
    return (utc_now() + timedelta(hours=hours)).astimezone(TOKYO).strftime("%Y-%m-%d %H:%M")


async def hotline(config: Path, out: Path, *args: str) -> int:
    # in a thread, as a shell would run it: the command runs its own event loop
    argv = ["--config", str(config), "notices", *args, "--output-dir", str(out), "--by", "ops"]
    return await asyncio.to_thread(main, argv)


async def audit_actions(tmp_path: Path) -> list[tuple[str, str]]:
    engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}")
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                sa.select(audit_log.c.actor, audit_log.c.action).order_by(audit_log.c.id)
            )
            return [(r[0], r[1]) for r in rows]
    finally:
        await engine.dispose()


async def test_add_list_and_end_a_notice(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = config_file(tmp_path), tmp_path / "prompts"
    code = await hotline(
        config,
        out,
        "add",
        "--kind",
        "construction",
        "--areas",
        "chuo-01, chuo-02",
        "--from",
        tokyo(-1),
        "--until",
        tokyo(24),
        "--ja",
        "本町1丁目で、夜間に水道管の工事を行います。",
        "--en",
        "Water main works at night in Honcho 1-chome.",
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert printed.startswith("1\tin_force\tconstruction\tchuo-01,chuo-02\t")
    assert "audio: ja ready, en ready" in printed
    for lang in ("ja", "en"):
        rate, channels, frames = await asyncio.to_thread(wav_info, out / lang / "notice-1.wav")
        assert (rate, channels) == (8000, 1)
        assert frames > 8000  # more than a second of speech

    assert await hotline(config, out, "list") == 0
    assert capsys.readouterr().out.startswith("1\tin_force\t")
    assert await hotline(config, out, "end", "1") == 0
    assert capsys.readouterr().out.startswith("1\tended\t")
    assert await hotline(config, out, "end", "7") == 1
    assert "no notice 7" in capsys.readouterr().err
    assert await audit_actions(tmp_path) == [
        ("cli:ops", "notice_add"),
        ("ivr:tts", "notice_audio_ready"),
        ("ivr:tts", "notice_audio_ready"),
        ("cli:ops", "notice_end"),
    ]


async def test_a_refused_notice_says_which_fields_and_stores_nothing(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = config_file(tmp_path), tmp_path / "prompts"
    args = ["add", "--kind", "other", "--areas", "chuo 01;", "--ja", "x"]
    assert await hotline(config, out, *args, "--from", tokyo(2), "--until", tokyo(1)) == 1
    err = capsys.readouterr().err
    assert "areas: invalid" in err
    assert "valid_until: not_after_start" in err
    assert await hotline(config, out, *args, "--from", "tomorrow", "--until", tokyo(1)) == 1
    assert "--from and --until" in capsys.readouterr().err
    assert await hotline(config, out, "list") == 0
    assert capsys.readouterr().out == ""


async def test_render_makes_the_audio_of_pending_notices(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, out = config_file(tmp_path), tmp_path / "prompts"
    assert await hotline(config, out, "list") == 0  # creates the database

    async def pending() -> int:
        engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}")
        try:
            async with engine.begin() as conn:
                now = utc_now()
                return await insert_notice(
                    conn,
                    ["kita-03"],
                    now,
                    now + timedelta(days=1),
                    text_ja="北区で濁り水が出ることがあります。",
                    text_en="",
                    audio="pending",
                )
        finally:
            await engine.dispose()

    notice_id = await pending()
    capsys.readouterr()
    assert await hotline(config, out, "render") == 0
    assert f"{notice_id}\tin_force\t" in capsys.readouterr().out
    # no English text: English callers hear the Japanese audio
    en = await asyncio.to_thread((out / "en" / f"notice-{notice_id}.wav").read_bytes)
    assert en == await asyncio.to_thread((out / "ja" / f"notice-{notice_id}.wav").read_bytes)
