"""Notices that callers hear: `StoreNotices`, the flow's `NoticeBoard`, and `NoticeDesk`, where
admins' notices (console and `hotline notices`) are checked, stored and given their audio.

A notice's own text is spoken: when it is saved, `NoticeDesk` renders it in Japanese and English
with the prompts' speech engine (`ivr.prompts.NoticeVoices`) into the directory Asterisk reads
prompts from, as `<lang>/notice-<id>.wav`, and records per language whether that worked (the
reason when not). Only a notice whose audio is ready in every language is live; the board gives
the caller's area's live notices in force as the prompt ids ``notice-<id>``, which the call
session plays in the caller's language like any prompt. A notice past its end drops out of the
board's query by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from ivr.domain import utc_now
from ivr.errors import HotlineError
from ivr.prompts import Failed, NoticeVoices
from ivr.store.accounts import AccountStore
from ivr.store.models import Notice
from ivr.store.notices import (
    NOTICE_LANGUAGES,
    NoticeDraft,
    NoticeEntry,
    NoticeNotFound,
    NoticeStore,
    draft_problems,
    notice_prompt_id,
)

log = logging.getLogger(__name__)

# how old the notices a caller hears may be when another process changed them (the console in
# the engine tells the board at once, `StoreNotices.invalidate`)
NOTICES_REFRESH_S = 10.0
# who records the audio's outcome in the audit log
TTS_ACTOR = "ivr:tts"


class StoreNotices:
    """`NoticeBoard` on the store's notices: the caller's area's live notices in force, each by
    its own audio (``notice-<id>``), oldest first.

    Every call asks for its area's notices; the notices change a few times a day. So the board
    keeps the live notices that have not ended and reads them again at most every `refresh_s`
    (one query for all callers, not one per call), or at the next call after `invalidate`;
    which of them are in force is decided per call at its own `now`, so a notice starts and
    ends on time. `_has_prompt` is not used any more (the notices carry their own audio): it is
    accepted until the composition root stops passing the catalog.
    """

    def __init__(
        self,
        store: AccountStore,
        _has_prompt: Callable[[str], bool] | None = None,
        *,
        refresh_s: float = NOTICES_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._clock = clock
        self._notices: tuple[Notice, ...] = ()
        self._read_at: float | None = None
        self._reading = asyncio.Lock()

    def invalidate(self) -> None:
        """A notice was added or ended: the next call reads them again."""
        self._read_at = None

    async def active_for(self, area: str, now: datetime) -> Sequence[str]:
        prompts: list[str] = []
        for notice in await self._not_ended(now):
            if notice.area_code != area or not notice.valid_from <= now < notice.valid_until:
                continue
            prompt_id = notice_prompt_id(notice.id)
            if prompt_id not in prompts:
                prompts.append(prompt_id)
        return prompts

    async def _not_ended(self, now: datetime) -> tuple[Notice, ...]:
        if self._fresh():
            return self._notices
        async with self._reading:
            # the calls that waited here while another read them use that read
            if not self._fresh():
                read_at = self._clock()
                self._notices = await self._store.notices_not_ended(now)
                self._read_at = read_at
        return self._notices

    def _fresh(self) -> bool:
        return self._read_at is not None and self._clock() - self._read_at < self._refresh_s


class NoticeRejected(HotlineError):
    """A notice draft with field problems (field → code, `ivr.store.notices.draft_problems`)."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = dict(problems)


class NoticeDesk:
    """Adding, ending and rendering notices, for the console and the command line.

    `add` stores a checked draft, renders its audio and returns the notice with the outcome
    (live, or failed with the reason per language). `render_pending` renders what is still
    pending (a notice saved by a process that stopped before its audio was made, the demo's
    notices): the engine runs it at start. `on_change` is told after every change that callers
    would notice (the engine's board, `StoreNotices.invalidate`)."""

    def __init__(
        self,
        store: NoticeStore,
        voices: NoticeVoices,
        *,
        on_change: Callable[[], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.voices = voices
        self._on_change = on_change
        self.clock = clock
        # one render at a time: two cores, and an admin saves one notice at a time
        self._rendering = asyncio.Lock()

    def media(self, notice_id: int, lang: str) -> str:
        """The ARI media URI a caller's playback of this notice uses."""
        return self.voices.media(notice_prompt_id(notice_id), lang)

    async def add(self, draft: NoticeDraft, actor: str) -> NoticeEntry:
        problems = draft_problems(draft, self.clock())
        if problems:
            raise NoticeRejected(problems)
        entry = await self.store.add(draft, actor, self.clock())
        return await self.render(entry)

    async def end(self, notice_id: int, actor: str) -> NoticeEntry:
        entry = await self.store.end(notice_id, actor, self.clock())
        self._changed()
        return entry

    async def render(self, entry: NoticeEntry) -> NoticeEntry:
        """Make the notice's audio and record the outcome per language."""
        async with self._rendering:
            results = await self.voices.render(notice_prompt_id(entry.id), entry.texts())
            for lang in NOTICE_LANGUAGES:
                result = results.get(lang) or Failed(
                    notice_prompt_id(entry.id), lang, "not rendered"
                )
                if isinstance(result, Failed):
                    log.warning("notice %d: %s audio failed: %s", entry.id, lang, result.reason)
                    await self.store.set_audio(
                        entry.id, lang, "failed", result.reason, actor=TTS_ACTOR, now=self.clock()
                    )
                else:
                    await self.store.set_audio(
                        entry.id, lang, "ready", actor=TTS_ACTOR, now=self.clock()
                    )
        self._changed()
        found = await self.store.get(entry.id)
        if found is None:
            raise NoticeNotFound(f"no notice {entry.id}")
        return found

    async def render_pending(self) -> list[NoticeEntry]:
        """Render every notice not ended whose audio is still pending; what came of them."""
        done = []
        for entry in await self.store.not_ended(self.clock()):
            if any(entry.audio[lang] == "pending" for lang in NOTICE_LANGUAGES):
                done.append(await self.render(entry))
        return done

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()
