"""Notices in the store, on SQLite and PostgreSQL: several areas, the audio state per language,
ending early, the audit rows, and migration 0010 carrying the old one-area notices over."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.accounts import AccountStore
from ivr.store.migrate import alembic_config
from ivr.store.notices import NoticeDraft, NoticeStore, draft_problems, split_areas
from ivr.store.tables import audit_log, notice_areas, notices
from tests.integration.store.storedata import NOW

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)


def draft(**changes: object) -> NoticeDraft:
    values: dict[str, object] = {
        "kind": "planned_outage",
        "areas": ("chuo-01", "chuo-02"),
        "text_ja": "3月3日の午前9時から正午まで、本町1丁目で断水します。",
        "text_en": "Water will be off in Honcho 1-chome on March 3 from 9 a.m. to noon.",
        "valid_from": NOW - HOUR,
        "valid_until": NOW + 5 * HOUR,
    }
    values.update(changes)
    return NoticeDraft(**values)  # type: ignore[arg-type]


async def audits(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.reason).order_by(
                audit_log.c.id
            )
        )
        return [(r[0], r[1], r[2]) for r in rows]


async def test_a_notice_goes_live_only_when_its_audio_is_ready_in_both_languages(
    engine: AsyncEngine, store: AccountStore
) -> None:
    notices_ = NoticeStore(engine)
    entry = await notices_.add(draft(), "admin:boss", NOW)
    assert entry.areas == ("chuo-01", "chuo-02")
    assert (entry.created_by, entry.created_at) == ("admin:boss", NOW)
    assert entry.status(NOW) == "pending"
    # not rendered yet: neither callers nor agents hear of it
    assert await store.notices_for(["chuo-01"], NOW) == ()
    assert await store.notices_not_ended(NOW) == ()

    await notices_.set_audio(entry.id, "ja", "ready", now=NOW)
    assert await store.notices_for(["chuo-01"], NOW) == ()
    await notices_.set_audio(entry.id, "en", "ready", now=NOW)
    live = await notices_.get(entry.id)
    assert live is not None
    assert live.status(NOW) == "in_force"
    assert live.status(NOW - 2 * HOUR) == "upcoming"
    found = await store.notices_for(["chuo-02", "kita-09"], NOW)
    assert [(n.id, n.area_code, n.text_ja) for n in found] == [
        (entry.id, "chuo-02", draft().text_ja)
    ]
    assert [n.area_code for n in await store.notices_not_ended(NOW)] == ["chuo-01", "chuo-02"]
    # expired: gone from the same query, nothing to run
    assert await store.notices_for(["chuo-01"], NOW + 5 * HOUR) == ()


async def test_a_failed_audio_keeps_its_reason_and_the_notice_silent(
    engine: AsyncEngine, store: AccountStore
) -> None:
    notices_ = NoticeStore(engine)
    entry = await notices_.add(draft(areas=("chuo-01",)), "admin:boss", NOW)
    await notices_.set_audio(entry.id, "ja", "ready", now=NOW)
    await notices_.set_audio(entry.id, "en", "failed", "espeak-ng failed (exit 1)", now=NOW)
    failed = await notices_.get(entry.id)
    assert failed is not None
    assert failed.status(NOW) == "failed"
    assert failed.audio_reason == {"ja": None, "en": "espeak-ng failed (exit 1)"}
    assert await store.notices_for(["chuo-01"], NOW) == ()


async def test_ending_a_notice_stops_it_now_and_is_audited(
    engine: AsyncEngine, store: AccountStore
) -> None:
    notices_ = NoticeStore(engine)
    entry = await notices_.add(draft(), "admin:boss", NOW - 2 * HOUR)
    for lang in ("ja", "en"):
        await notices_.set_audio(entry.id, lang, "ready", now=NOW - 2 * HOUR)
    assert len(await store.notices_for(["chuo-01"], NOW)) == 1
    ended = await notices_.end(entry.id, "admin:other", NOW)
    assert (ended.valid_until, ended.ended_at, ended.ended_by) == (NOW, NOW, "admin:other")
    assert ended.status(NOW) == "ended"
    assert await store.notices_for(["chuo-01"], NOW) == ()
    # ending it again changes nothing
    assert (await notices_.end(entry.id, "admin:boss", NOW + HOUR)).ended_by == "admin:other"
    assert [e.id for e in await notices_.listing()] == [entry.id]
    assert await audits(engine) == [
        (
            "admin:boss",
            "notice_add",
            f"notice {entry.id} planned_outage areas=chuo-01,chuo-02 "
            f"{(NOW - HOUR).isoformat()}..{(NOW + 5 * HOUR).isoformat()}",
        ),
        ("ivr:tts", "notice_audio_ready", f"notice {entry.id} ja ready"),
        ("ivr:tts", "notice_audio_ready", f"notice {entry.id} en ready"),
        ("admin:other", "notice_end", f"notice {entry.id}"),
    ]


def test_a_draft_is_checked_field_by_field() -> None:
    assert draft_problems(draft(), NOW) == {}
    assert draft_problems(
        draft(kind="flood", areas=(), text_ja=" ", valid_until=NOW - 2 * HOUR), NOW
    ) == {
        "kind": "unknown",
        "areas": "required",
        "text_ja": "required",
        "valid_until": "not_after_start",
    }
    assert draft_problems(draft(areas=("chuo 01;",)), NOW) == {"areas": "invalid"}
    assert draft_problems(draft(text_en="x" * 1001), NOW) == {"text_en": "too_long"}
    assert draft_problems(draft(valid_from=NOW - 3 * HOUR, valid_until=NOW), NOW) == {
        "valid_until": "in_the_past"
    }
    # English may be left blank: English callers then hear the Japanese audio
    assert draft_problems(draft(text_en=""), NOW) == {}
    assert split_areas(" chuo-01, chuo-02\nchuo-01、kita-03 ") == ("chuo-01", "chuo-02", "kita-03")


async def test_migration_0010_moves_each_old_notice_to_its_area(
    db_url: str, engine: AsyncEngine
) -> None:
    def to(revision: str) -> Callable[[Connection], None]:
        def run(conn: Connection) -> None:
            cfg = alembic_config(conn)
            if revision == "0009":
                command.downgrade(cfg, revision)
            else:
                command.upgrade(cfg, revision)

        return run

    async with engine.begin() as conn:
        await conn.run_sync(to("0009"))
        for area in ("chuo-01", "chuo-02"):
            await conn.execute(
                sa.text(
                    "INSERT INTO notices (area_code, kind, text_ja, text_en, valid_from,"
                    " valid_until) VALUES (:a, 'construction', '工事', 'works', :f, :u)"
                ),
                {
                    "a": area,
                    "f": (NOW - HOUR).replace(tzinfo=None),
                    "u": (NOW + HOUR).replace(tzinfo=None),
                },
            )
    async with engine.begin() as conn:
        await conn.run_sync(to("head"))
    async with engine.connect() as conn:
        areas = (
            await conn.execute(sa.select(notice_areas).order_by(notice_areas.c.notice_id))
        ).all()
        rows = (await conn.execute(sa.select(notices).order_by(notices.c.id))).mappings().all()
    assert [(a.notice_id, a.area_code) for a in areas] == [
        (rows[0]["id"], "chuo-01"),
        (rows[1]["id"], "chuo-02"),
    ]
    # an old notice has no audio yet: the engine renders it before anyone hears it
    assert {(r["kind"], r["audio_ja"], r["audio_en"]) for r in rows} == {
        ("construction", "pending", "pending")
    }
