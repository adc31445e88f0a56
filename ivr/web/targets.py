"""The departments an agent may transfer a call to, as they are now: the database's
(`ivr.store.departments`, edited on `/admin/departments`), read for each agent page, so a
department added or changed there is offered without a restart; config.yaml's while the
database has none for a code, or cannot be read."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig
from ivr.store.departments import Department, DepartmentBook, config_departments

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Targets:
    book: DepartmentBook
    config: AppConfig

    async def departments(self) -> list[Department]:
        """Every department in force (with a line or not), by code."""
        seeds = config_departments(self.config)
        try:
            return await self.book.current(seeds)
        except Exception:
            # the agent page must open even so; the transfer itself reads again
            log.warning("departments unreadable, offering config's", exc_info=True)
            return sorted(seeds, key=lambda dept: dept.code)


TARGETS = web.AppKey("transfer_targets", Targets)


async def transfer_departments(request: web.Request) -> list[tuple[str, dict[str, str]]]:
    """(code, name per language) of the departments with a line to ring (on-duty lists are
    the emergency path's), for the agent page's transfer control."""
    return [
        (dept.code, {"ja": dept.label_ja, "en": dept.label_en})
        for dept in await request.app[TARGETS].departments()
        if dept.has_line
    ]


def setup(app: web.Application, config: AppConfig, db: AsyncEngine) -> None:
    app[TARGETS] = Targets(DepartmentBook(db), config)
