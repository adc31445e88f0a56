"""Notices to callers (planned outages, construction, discoloured water): what admins enter, and
the one definition of "in force" that the IVR and the agents' screen-pop both read.

A notice has a kind, one or more areas (premises' area codes), a period `[valid_from,
valid_until)`, its text in Japanese and English, and the state of its rendered audio per
language (``pending`` until rendered, then ``ready``, or ``failed`` with the reason). It is
**in force** at `at` when `valid_from <= at < valid_until` and its audio is ready in every
language: a notice callers could not hear is not shown to agents as if they had. Ending a notice
moves `valid_until` to that moment (and records who ended it), so an ended or expired notice
drops out of the same query with no job to run. Adding, ending and the audio outcome each write
an audit row (who, what, when) in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import utc_now
from ivr.errors import HotlineError
from ivr.store.models import Notice
from ivr.store.tables import NOTICE_KINDS, audit_log, notice_areas, notices

NOTICE_LANGUAGES = ("ja", "en")
AudioState = Literal["pending", "ready", "failed"]
Status = Literal["in_force", "upcoming", "ended", "pending", "failed"]

MAX_TEXT_CHARS = 1000
MAX_AREAS = 50
MAX_REASON_CHARS = 300
AREA_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
AREA_MAX_CHARS = 16


class NoticeNotFound(HotlineError):
    """No notice has this id."""


@dataclass(frozen=True, slots=True)
class NoticeDraft:
    """A notice as an admin typed it (checked by `draft_problems` before it is stored)."""

    kind: str
    areas: tuple[str, ...]
    text_ja: str
    text_en: str
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True, slots=True)
class NoticeEntry:
    """A stored notice with everything the admin sees about it."""

    id: int
    kind: str
    areas: tuple[str, ...]
    text_ja: str
    text_en: str
    valid_from: datetime
    valid_until: datetime
    audio: Mapping[str, AudioState]
    audio_reason: Mapping[str, str | None]
    created_at: datetime | None
    created_by: str | None
    ended_at: datetime | None
    ended_by: str | None

    @property
    def live(self) -> bool:
        """Its audio is ready in every language (it plays while its period lasts)."""
        return all(self.audio[lang] == "ready" for lang in NOTICE_LANGUAGES)

    def status(self, now: datetime) -> Status:
        if self.valid_until <= now:
            return "ended"
        if any(self.audio[lang] == "failed" for lang in NOTICE_LANGUAGES):
            return "failed"
        if not self.live:
            return "pending"
        return "in_force" if self.valid_from <= now else "upcoming"

    def texts(self) -> dict[str, str]:
        return {"ja": self.text_ja, "en": self.text_en}


def split_areas(text: str) -> tuple[str, ...]:
    """Area codes as an admin types them (commas, spaces or new lines between), once each."""
    seen: dict[str, None] = {}
    for part in text.replace(",", " ").replace("、", " ").split():
        seen.setdefault(part.strip(), None)
    return tuple(seen)


def draft_problems(draft: NoticeDraft, now: datetime) -> dict[str, str]:
    """Field → problem code (`required`, `unknown`, `too_long`, `invalid`, `too_many`,
    `not_after_start`, `in_the_past`); empty when the draft can be stored."""
    problems: dict[str, str] = {}
    if draft.kind not in NOTICE_KINDS:
        problems["kind"] = "unknown"
    if not draft.areas:
        problems["areas"] = "required"
    elif len(draft.areas) > MAX_AREAS:
        problems["areas"] = "too_many"
    elif any(len(a) > AREA_MAX_CHARS or not set(a) <= AREA_CHARS for a in draft.areas):
        problems["areas"] = "invalid"
    if not draft.text_ja.strip():
        problems["text_ja"] = "required"
    # English may be blank: English callers then hear the Japanese audio
    for field, text in (("text_ja", draft.text_ja), ("text_en", draft.text_en)):
        if len(text) > MAX_TEXT_CHARS:
            problems[field] = "too_long"
    if draft.valid_until <= draft.valid_from:
        problems["valid_until"] = "not_after_start"
    elif draft.valid_until <= now:
        problems["valid_until"] = "in_the_past"
    return problems


# ------------------------------------------------------------------ "in force", for every reader


def in_force(at: datetime) -> sa.ColumnElement[bool]:
    """The condition for a notice (the `notices` row) to be in force at `at`."""
    return sa.and_(
        notices.c.valid_from <= at,
        notices.c.valid_until > at,
        *(notices.c[f"audio_{lang}"] == "ready" for lang in NOTICE_LANGUAGES),
    )


def _by_area() -> sa.Select[tuple[object, ...]]:
    return sa.select(
        notices.c.id,
        notice_areas.c.area_code,
        notices.c.kind,
        notices.c.text_ja,
        notices.c.text_en,
        notices.c.valid_from,
        notices.c.valid_until,
    ).join(notice_areas, notice_areas.c.notice_id == notices.c.id)


def select_in_force(areas: Sequence[str], at: datetime) -> sa.Select[tuple[object, ...]]:
    """Notices in force at `at` in any of `areas`, one row per (notice, area), oldest first;
    rows become `Notice`s with `notice_of`."""
    return (
        _by_area()
        .where(notice_areas.c.area_code.in_(areas), in_force(at))
        .order_by(notices.c.valid_from, notices.c.id, notice_areas.c.area_code)
    )


def select_live_not_ended(at: datetime) -> sa.Select[tuple[object, ...]]:
    """Every live notice in force at `at` or starting later, one row per (notice, area)."""
    return (
        _by_area()
        .where(
            notices.c.valid_until > at,
            *(notices.c[f"audio_{lang}"] == "ready" for lang in NOTICE_LANGUAGES),
        )
        .order_by(notices.c.valid_from, notices.c.id, notice_areas.c.area_code)
    )


def notice_of(row: Mapping[Any, Any]) -> Notice:
    """A `Notice` as seen from one of its areas (a row of `select_in_force`)."""
    return Notice(**{k: row[k] for k in Notice.__slots__})


def notices_once(rows: Iterable[Mapping[Any, Any]]) -> tuple[Notice, ...]:
    """Rows of `select_in_force` as `Notice`s, each notice once (under the first of its areas
    that matched): a caller with premises in two of a notice's areas is told of it once."""
    seen: dict[int, Notice] = {}
    for row in rows:
        if row["id"] not in seen:
            seen[row["id"]] = notice_of(row)
    return tuple(seen.values())


def notice_prompt_id(notice_id: int) -> str:
    """The name of a notice's audio file (`<lang>/notice-<id>.wav`), played like a prompt."""
    return f"notice-{notice_id}"


# ------------------------------------------------------------------------------ the store


def _entry(row: Mapping[Any, Any], areas: Iterable[str]) -> NoticeEntry:
    return NoticeEntry(
        id=row["id"],
        kind=row["kind"],
        areas=tuple(areas),
        text_ja=row["text_ja"],
        text_en=row["text_en"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        audio={lang: row[f"audio_{lang}"] for lang in NOTICE_LANGUAGES},
        audio_reason={lang: row[f"audio_{lang}_reason"] for lang in NOTICE_LANGUAGES},
        created_at=row["created_at"],
        created_by=row["created_by"],
        ended_at=row["ended_at"],
        ended_by=row["ended_by"],
    )


def _audit(actor: str, action: str, reason: str, at: datetime) -> sa.Insert:
    return sa.insert(audit_log).values(
        at=at, actor=actor[:100], account_id=None, action=action, reason=reason[:200]
    )


def _period(entry: NoticeDraft | NoticeEntry) -> str:
    return f"{entry.valid_from.isoformat()}..{entry.valid_until.isoformat()}"


class NoticeStore:
    """Notices in the database: add, end, list, and the audio's outcome."""

    def __init__(self, db: AsyncEngine) -> None:
        self._db = db

    async def add(self, draft: NoticeDraft, actor: str, now: datetime | None = None) -> NoticeEntry:
        """Store a checked draft (audio pending in every language) and audit it."""
        at = now or utc_now()
        async with self._db.begin() as conn:
            notice_id = (
                await conn.execute(
                    sa.insert(notices)
                    .values(
                        kind=draft.kind,
                        text_ja=draft.text_ja,
                        text_en=draft.text_en,
                        valid_from=draft.valid_from,
                        valid_until=draft.valid_until,
                        created_at=at,
                        created_by=actor[:100],
                    )
                    .returning(notices.c.id)
                )
            ).scalar_one()
            await conn.execute(
                sa.insert(notice_areas),
                [{"notice_id": notice_id, "area_code": a} for a in draft.areas],
            )
            what = f"notice {notice_id} {draft.kind} areas={','.join(draft.areas)} {_period(draft)}"
            await conn.execute(_audit(actor, "notice_add", what, at))
        found = await self.get(notice_id)
        assert found is not None  # noqa: S101 — written just above
        return found

    async def get(self, notice_id: int) -> NoticeEntry | None:
        found = await self._select(notices.c.id == notice_id)
        return found[0] if found else None

    async def listing(self, limit: int = 200) -> list[NoticeEntry]:
        """The most recent notices first (by their end, then id): what the admin page lists."""
        return await self._select(sa.true(), limit=limit)

    async def not_ended(self, at: datetime) -> list[NoticeEntry]:
        """Notices whose period has not ended at `at` (any audio state), oldest first."""
        found = await self._select(notices.c.valid_until > at)
        return sorted(found, key=lambda n: (n.valid_from, n.id))

    async def end(self, notice_id: int, actor: str, now: datetime | None = None) -> NoticeEntry:
        """End the notice now: it stops playing for the next call. Ending an ended notice
        changes nothing (and writes no audit row)."""
        at = now or utc_now()
        async with self._db.begin() as conn:
            until = (
                await conn.execute(
                    sa.select(notices.c.valid_until).where(notices.c.id == notice_id)
                )
            ).scalar_one_or_none()
            if until is None:
                raise NoticeNotFound(f"no notice {notice_id}")
            if until > at:
                await conn.execute(
                    sa.update(notices)
                    .where(notices.c.id == notice_id)
                    .values(valid_until=at, ended_at=at, ended_by=actor[:100])
                )
                await conn.execute(_audit(actor, "notice_end", f"notice {notice_id}", at))
        found = await self.get(notice_id)
        assert found is not None  # noqa: S101 — checked above
        return found

    async def set_audio(
        self,
        notice_id: int,
        lang: str,
        state: AudioState,
        reason: str | None = None,
        *,
        actor: str = "ivr:tts",
        now: datetime | None = None,
    ) -> None:
        """Record the outcome of rendering `lang` (and audit it)."""
        if lang not in NOTICE_LANGUAGES:
            raise ValueError(f"unknown notice language {lang!r}")
        at = now or utc_now()
        short = None if reason is None else reason[:MAX_REASON_CHARS]
        async with self._db.begin() as conn:
            await conn.execute(
                sa.update(notices)
                .where(notices.c.id == notice_id)
                .values({f"audio_{lang}": state, f"audio_{lang}_reason": short})
            )
            what = f"notice {notice_id} {lang} {state}" + (f": {short}" if short else "")
            await conn.execute(_audit(actor, f"notice_audio_{state}", what, at))

    async def _select(
        self, where: sa.ColumnElement[bool], limit: int | None = None
    ) -> list[NoticeEntry]:
        query = (
            sa.select(notices)
            .where(where)
            .order_by(notices.c.valid_until.desc(), notices.c.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        async with self._db.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            if not rows:
                return []
            areas: dict[int, list[str]] = {}
            for r in (
                await conn.execute(
                    sa.select(notice_areas)
                    .where(notice_areas.c.notice_id.in_([r["id"] for r in rows]))
                    .order_by(notice_areas.c.notice_id, notice_areas.c.area_code)
                )
            ).mappings():
                areas.setdefault(r["notice_id"], []).append(r["area_code"])
        return [_entry(r, areas.get(r["id"], ())) for r in rows]
