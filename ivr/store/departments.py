"""The departments calls are transferred to, in the database: name, line and hours calendar.

An admin edits them in the console (`ivr.web.admin_departments`); the engine reads a department
afresh for each transfer (`routing.transfer`) and the agent page its transfer targets for each
page, so a change applies to the next call without a restart. config.yaml's `departments` seed
the database once, for codes it has no row for yet; from then on the row is the truth (config
stays the fallback when the database cannot be read). A removed department keeps its row,
marked `removed`, so that the next start does not seed it back. Every change writes an audit
row (who, what, when) in the same transaction. Only staff lines are kept, never a caller's data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.config import AppConfig
from ivr.domain import DEPARTMENT_NUMBER_PATTERN, ENDPOINT_PATTERN
from ivr.errors import HotlineError
from ivr.store.tables import audit_log, departments

CODE_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
"""A department's code, as config.yaml names it (`construction`, `billing_office`)."""
LABEL_MAX = 100


class DepartmentError(HotlineError):
    """A department cannot be saved or removed as asked; `fields` maps a field to a reason code
    (`code`, `label_ja`, `label_en`, `endpoint`, `number`, `calendar`, `line`)."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = dict(fields)


@dataclass(frozen=True, slots=True)
class Department:
    """A department's line: `endpoint` (a dial string) or `number` (through the trunk), or
    neither for one that only has an on-duty list; `calendar` None: always open."""

    code: str
    label_ja: str
    label_en: str
    endpoint: str | None = None
    number: str | None = None
    calendar: str | None = None
    updated_at: datetime | None = None
    updated_by: str = ""
    removed: bool = False

    @property
    def has_line(self) -> bool:
        return self.endpoint is not None or self.number is not None

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_ja


def check_department(
    dept: Department, calendars: Collection[str], *, line_optional: bool = False
) -> dict[str, str]:
    """Field error codes of a department (empty: it may be saved): `bad_code`, `required`,
    `too_long`, `bad_label`, `bad_endpoint`, `bad_number`, `both_lines`, `no_line`,
    `unknown_calendar`. `line_optional`: a department with an on-duty list may have no line of
    its own."""
    errors: dict[str, str] = {}
    if not CODE_PATTERN.fullmatch(dept.code):
        errors["code"] = "bad_code"
    for key, value in (("label_ja", dept.label_ja), ("label_en", dept.label_en)):
        if problem := _label_problem(value):
            errors[key] = problem
    if dept.endpoint is not None and not ENDPOINT_PATTERN.fullmatch(dept.endpoint):
        errors["endpoint"] = "bad_endpoint"
    if dept.number is not None and not DEPARTMENT_NUMBER_PATTERN.fullmatch(dept.number):
        errors["number"] = "bad_number"
    if dept.endpoint is not None and dept.number is not None:
        errors["line"] = "both_lines"
    elif not dept.has_line and not line_optional:
        errors["line"] = "no_line"
    if dept.calendar is not None and dept.calendar not in calendars:
        errors["calendar"] = "unknown_calendar"
    return errors


def _label_problem(value: str) -> str:
    if not value.strip():
        return "required"
    if len(value) > LABEL_MAX:
        return "too_long"
    if any(unicodedata.category(char) == "Cc" for char in value):
        # a NUL, a tab or a newline: PostgreSQL refuses the NUL, and a name is one line
        return "bad_label"
    return ""


def _summary(dept: Department) -> str:
    line = dept.endpoint or dept.number or "no line"
    return f"{dept.code}: {dept.label_ja} / {dept.label_en}, {line}, {dept.calendar or 'always'}"[
        :200
    ]


def _from_row(row: sa.Row[tuple[object, ...]]) -> Department:
    m = row._mapping
    return Department(
        code=m["code"],
        label_ja=m["label_ja"],
        label_en=m["label_en"],
        endpoint=m["endpoint"],
        number=m["number"],
        calendar=m["calendar"],
        updated_at=m["updated_at"],
        updated_by=m["updated_by"],
        removed=m["removed"],
    )


class DepartmentBook:
    """Departments in the database (SQLite and PostgreSQL)."""

    def __init__(self, db: AsyncEngine) -> None:
        self._db = db

    async def seed(
        self, seeds: Collection[Department], now: datetime, actor: str = "config.yaml"
    ) -> list[str]:
        """Store the departments the database has no row for yet (the engine's start, from
        config.yaml); returns the codes seeded. A row kept already, removed ones too, is never
        overwritten: the console's edits win over config."""
        seeded: list[str] = []
        async with self._db.begin() as conn:
            known = set((await conn.execute(sa.select(departments.c.code))).scalars())
            for dept in seeds:
                if dept.code in known:
                    continue
                await self._insert(conn, replace(dept, removed=False), actor, now)
                await self._audit(conn, actor, now, "department_seed", _summary(dept))
                seeded.append(dept.code)
        return seeded

    async def save(
        self,
        dept: Department,
        actor: str,
        now: datetime,
        *,
        calendars: Collection[str],
        new: bool,
        line_optional: bool = False,
    ) -> Department:
        """Change a department (`new`: add one; a removed code may be added again). Raises
        `DepartmentError` with field codes (`taken`, `unknown` for the code) and saves nothing
        when it may not be saved."""
        errors = check_department(dept, calendars, line_optional=line_optional)
        if errors:
            raise DepartmentError(errors)
        kept = replace(dept, updated_at=now, updated_by=actor, removed=False)
        async with self._db.begin() as conn:
            current = await self._current(conn, dept.code)
            if new and current is not None and not current.removed:
                raise DepartmentError({"code": "taken"})
            if not new and (current is None or current.removed):
                raise DepartmentError({"code": "unknown"})
            if current is None:
                await self._insert(conn, kept, actor, now)
            else:
                await conn.execute(
                    sa.update(departments)
                    .where(departments.c.code == dept.code)
                    .values(**self._values(kept, actor, now))
                )
            action = "department_add" if new else "department_set"
            await self._audit(conn, actor, now, action, _summary(kept))
        return kept

    async def remove(
        self, code: str, actor: str, now: datetime, *, in_use: Collection[str]
    ) -> None:
        """Remove a department nothing uses any more (`in_use`: the codes live flows and the
        leak line name): `DepartmentError({"code": "in_use" | "unknown"})` otherwise."""
        if code in in_use:
            raise DepartmentError({"code": "in_use"})
        async with self._db.begin() as conn:
            current = await self._current(conn, code)
            if current is None or current.removed:
                raise DepartmentError({"code": "unknown"})
            await conn.execute(
                sa.update(departments)
                .where(departments.c.code == code)
                .values(removed=True, updated_at=now, updated_by=actor[:100])
            )
            await self._audit(conn, actor, now, "department_removed", code)

    async def get(self, code: str) -> Department | None:
        """The department's row, removed ones too (None: the database keeps none for it)."""
        async with self._db.connect() as conn:
            return await self._current(conn, code)

    async def department(self, code: str) -> Department | None:
        """`routing.transfer`'s port: the row as a transfer reads it now."""
        return await self.get(code)

    async def all(self) -> list[Department]:
        """Every department not removed, by code."""
        query = sa.select(departments).where(~departments.c.removed).order_by(departments.c.code)
        async with self._db.connect() as conn:
            return [_from_row(row) for row in await conn.execute(query)]

    async def current(self, seeds: Collection[Department]) -> list[Department]:
        """The departments in force, by code: the rows not removed, and `seeds` (config.yaml's)
        the database has no row for yet (a console started before any engine seeded it)."""
        async with self._db.connect() as conn:
            rows = [_from_row(row) for row in await conn.execute(sa.select(departments))]
        known = {dept.code for dept in rows}
        kept = [dept for dept in rows if not dept.removed]
        kept += [dept for dept in seeds if dept.code not in known]
        return sorted(kept, key=lambda dept: dept.code)

    async def codes(self, seeds: Collection[Department]) -> frozenset[str]:
        """The codes of the departments in force (`current`): what a flow may transfer to."""
        return frozenset(dept.code for dept in await self.current(seeds))

    async def _current(self, conn: AsyncConnection, code: str) -> Department | None:
        row = (await conn.execute(sa.select(departments).where(departments.c.code == code))).first()
        return _from_row(row) if row is not None else None

    @staticmethod
    def _values(dept: Department, actor: str, now: datetime) -> dict[str, object]:
        return {
            "label_ja": dept.label_ja.strip(),
            "label_en": dept.label_en.strip(),
            "endpoint": dept.endpoint,
            "number": dept.number,
            "calendar": dept.calendar,
            "removed": dept.removed,
            "updated_at": now,
            "updated_by": actor[:100],
        }

    async def _insert(
        self, conn: AsyncConnection, dept: Department, actor: str, now: datetime
    ) -> None:
        await conn.execute(
            sa.insert(departments).values(code=dept.code, **self._values(dept, actor, now))
        )

    @staticmethod
    async def _audit(
        conn: AsyncConnection, actor: str, now: datetime, action: str, reason: str
    ) -> None:
        await conn.execute(
            sa.insert(audit_log).values(
                at=now, actor=actor[:100], account_id=None, action=action, reason=reason[:200]
            )
        )


def config_departments(config: AppConfig) -> list[Department]:
    """config.yaml's departments as they seed the database (named by their label, else by
    their code)."""
    return [
        Department(
            code,
            dept.label.ja if dept.label is not None else code,
            dept.label.en if dept.label is not None else code,
            dept.endpoint,
            dept.number,
            dept.calendar,
        )
        for code, dept in config.routing.departments.items()
    ]


def line_optional(config: AppConfig, code: str) -> bool:
    """Whether a department may be kept without a line of its own: the leak line's, and any
    with an on-duty list in config.yaml (they take emergencies, not transfers)."""
    dept = config.routing.departments.get(code)
    return code == config.calls.emergency_department or (dept is not None and bool(dept.on_duty))
