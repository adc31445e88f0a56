"""Notices written straight into the store's tables for tests (the admin's path, with its
checks and rendering, is `ivr.adapters.notices.NoticeDesk`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ivr.store.tables import notice_areas, notices


async def insert_notice(
    conn: AsyncConnection,
    areas: Sequence[str],
    valid_from: datetime,
    valid_until: datetime,
    *,
    kind: str = "construction",
    text_ja: str = "お知らせ",
    text_en: str = "notice",
    audio: str = "ready",
) -> int:
    """A notice of `areas` whose audio is `audio` in both languages; its id."""
    notice_id: int = (
        await conn.execute(
            sa.insert(notices)
            .values(
                kind=kind,
                text_ja=text_ja,
                text_en=text_en,
                valid_from=valid_from,
                valid_until=valid_until,
                audio_ja=audio,
                audio_en=audio,
            )
            .returning(notices.c.id)
        )
    ).scalar_one()
    await conn.execute(
        sa.insert(notice_areas), [{"notice_id": notice_id, "area_code": a} for a in areas]
    )
    return notice_id
