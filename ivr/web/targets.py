"""The departments an agent may transfer a call to, as they are now: the database's
(`ivr.store.departments`, edited on `/admin/departments`), read for each agent page, so a
department added or changed there is offered without a restart; config.yaml's while the
database has none for a code, or cannot be read. The complaint form and the knowledge base's
entry form offer (and accept) the same departments, read the same way."""

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

    async def codes(self) -> tuple[str, ...]:
        """The codes of every department in force, by code (what a form may post)."""
        return tuple(dept.code for dept in await self.departments())

    async def choices(self) -> list[tuple[str, dict[str, str]]]:
        """(code, name per language) of every department in force, for a form's choice."""
        return names_of(await self.departments())

    async def kept(self, code: str) -> bool:
        """Whether `code` is a department in force or one removed whose row is kept (its work
        list still holds what was sent to it before)."""
        if code in await self.codes():
            return True
        try:
            return await self.book.get(code) is not None
        except Exception:
            log.warning("departments unreadable", exc_info=True)
            return False


def names_of(departments: list[Department]) -> list[tuple[str, dict[str, str]]]:
    return [(dept.code, {"ja": dept.label_ja, "en": dept.label_en}) for dept in departments]


TARGETS = web.AppKey("transfer_targets", Targets)


async def transfer_departments(request: web.Request) -> list[tuple[str, dict[str, str]]]:
    """(code, name per language) of the departments with a line to ring (on-duty lists are
    the emergency path's), for the agent page's transfer control."""
    return names_of([dept for dept in await request.app[TARGETS].departments() if dept.has_line])


def setup(app: web.Application, config: AppConfig, db: AsyncEngine) -> None:
    app[TARGETS] = Targets(DepartmentBook(db), config)
