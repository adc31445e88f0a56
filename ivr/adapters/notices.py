"""`StoreNotices`: the flow's `NoticeBoard` on the store's notices.

Notices hold free text (``text_ja`` / ``text_en``) written by admins, while the flow plays
prompts. A caller hears one recorded prompt per *kind* of notice in force for their area
(``notice-planned-outage``, ``notice-construction``, ``notice-discoloured-water``,
``notice-other``), each kind once; the detail is on the website and with agents. Until the
catalog has a kind's prompt, the first fallback it does have is used (the ``-sample`` prompts, then
``outage-info-general``), so a notice never asks for a prompt that does not exist.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from ivr.store.accounts import AccountStore
from ivr.store.models import Notice

# how old the notices a caller hears may be (an admin's new notice is heard within this long)
NOTICES_REFRESH_S = 10.0

NOTICE_PROMPTS: Mapping[str, tuple[str, ...]] = {
    "planned_outage": ("notice-planned-outage", "notice-planned-outage-sample"),
    "construction": ("notice-construction",),
    "discoloured_water": ("notice-discoloured-water", "notice-discoloured-water-sample"),
    "other": ("notice-other",),
}
GENERIC_NOTICE_PROMPT = "outage-info-general"


def _any_prompt(_prompt_id: str) -> bool:
    return True


class StoreNotices:
    """`NoticeBoard` on the store's notices: one prompt per kind of notice in force.

    Every call asks for its area's notices; the notices change a few times a day. So the board
    keeps the notices that have not ended and reads them again at most every
    `NOTICES_REFRESH_S` (one query for all callers, not one per call); which of them are in
    force is decided per call at its own `now`, so a notice starts and ends on time.
    `has_prompt` says whether the prompt catalog has an id (the engine passes the live catalog).
    """

    def __init__(
        self,
        store: AccountStore,
        has_prompt: Callable[[str], bool] = _any_prompt,
        *,
        refresh_s: float = NOTICES_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._has_prompt = has_prompt
        self._refresh_s = refresh_s
        self._clock = clock
        self._notices: tuple[Notice, ...] = ()
        self._read_at: float | None = None
        self._reading = asyncio.Lock()

    def prompt_for(self, kind: str) -> str:
        for prompt_id in NOTICE_PROMPTS.get(kind, NOTICE_PROMPTS["other"]):
            if self._has_prompt(prompt_id):
                return prompt_id
        return GENERIC_NOTICE_PROMPT

    async def active_for(self, area: str, now: datetime) -> Sequence[str]:
        prompts: list[str] = []
        for notice in await self._not_ended(now):
            if notice.area_code != area or not notice.valid_from <= now < notice.valid_until:
                continue
            prompt_id = self.prompt_for(notice.kind)
            if prompt_id not in prompts:
                prompts.append(prompt_id)
        return prompts

    async def _not_ended(self, now: datetime) -> tuple[Notice, ...]:
        if self._fresh():
            return self._notices
        async with self._reading:
            # the calls that waited here while another read them use that read
            if not self._fresh():
                self._notices = await self._store.notices_not_ended(now)
                self._read_at = self._clock()
        return self._notices

    def _fresh(self) -> bool:
        return self._read_at is not None and self._clock() - self._read_at < self._refresh_s
