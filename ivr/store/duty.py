"""The leak line's on-duty lists in the database: who is rung, in order, for how long.

An admin edits a department's list in the console (`ivr.web.admin_duty`); the engine reads it
afresh each time a leak call escalates (`routing.transfer`), so a change applies to the next
call without a restart. config.yaml's `on_duty` lists seed the database once, for departments it
has no list for yet; from then on the database's list is the one rung (config stays a valid
fallback when the database cannot be read). Every change writes an audit row (who, what, when)
in the same transaction. Lists hold staff phones only, never a caller's data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.domain import ENDPOINT_PATTERN
from ivr.errors import HotlineError
from ivr.store.tables import audit_log, duty_lists, duty_steps

RING_S_RANGE = (5, 120)
"""Ring time per step: under 5 s no phone can be answered, over 2 minutes the caller waits on
one person too long."""
MAX_STEPS = 20


class DutyError(HotlineError):
    """An on-duty list cannot be saved as given; `fields` maps a step's field to the reason."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = dict(fields)


@dataclass(frozen=True, slots=True)
class DutyStep:
    """One step of an on-duty list: `name` is who it is (as the console shows it), `endpoint`
    the phone rung, `ring_s` how long before the next step is rung."""

    name: str
    endpoint: str
    ring_s: int


@dataclass(frozen=True, slots=True)
class DutyList:
    department: str
    steps: tuple[DutyStep, ...]
    updated_at: datetime
    updated_by: str


def check_steps(steps: Sequence[DutyStep]) -> dict[str, str]:
    """Field error codes of a list (keys `steps`, `name-<i>`, `endpoint-<i>`, `ring_s-<i>` with
    1-based step numbers; codes `too_many`, `required`, `too_long`, `bad_endpoint`,
    `ring_range`); empty when it may be saved. An empty list is allowed: the leak line then
    goes straight to its voicemail."""
    errors: dict[str, str] = {}
    if len(steps) > MAX_STEPS:
        errors["steps"] = "too_many"
    low, high = RING_S_RANGE
    for number, step in enumerate(steps, start=1):
        if not step.name.strip():
            errors[f"name-{number}"] = "required"
        elif len(step.name) > 100:
            errors[f"name-{number}"] = "too_long"
        if not ENDPOINT_PATTERN.fullmatch(step.endpoint):
            errors[f"endpoint-{number}"] = "bad_endpoint"
        if not low <= step.ring_s <= high:
            errors[f"ring_s-{number}"] = "ring_range"
    return errors


def _summary(department: str, steps: Sequence[DutyStep]) -> str:
    order = ", ".join(f"{s.name} ({s.endpoint}, {s.ring_s} s)" for s in steps) or "empty"
    return f"{department}: {order}"[:200]


class DutyRoster:
    """On-duty lists in the database (SQLite and PostgreSQL)."""

    def __init__(self, db: AsyncEngine) -> None:
        self._db = db

    async def seed(
        self, lists: Mapping[str, Sequence[DutyStep]], now: datetime, actor: str = "config.yaml"
    ) -> list[str]:
        """Store the lists of departments the database has none for yet (the engine's start,
        from config.yaml); returns the departments seeded. A list kept already is never
        overwritten: the console's edits win over config."""
        seeded: list[str] = []
        async with self._db.begin() as conn:
            known = set((await conn.execute(sa.select(duty_lists.c.department))).scalars())
            for department, steps in lists.items():
                if department in known:
                    continue
                await self._write(conn, department, steps, actor, now, "on_duty_seed")
                seeded.append(department)
        return seeded

    async def replace(
        self, department: str, steps: Sequence[DutyStep], actor: str, now: datetime
    ) -> DutyList:
        """Make `steps` the department's list (`DutyError` with field errors if not valid)."""
        errors = check_steps(steps)
        if errors:
            raise DutyError(errors)
        async with self._db.begin() as conn:
            await conn.execute(sa.delete(duty_steps).where(duty_steps.c.department == department))
            await conn.execute(sa.delete(duty_lists).where(duty_lists.c.department == department))
            await self._write(conn, department, steps, actor, now, "on_duty_set")
        return DutyList(department, tuple(steps), now, actor)

    async def _write(
        self,
        conn: AsyncConnection,
        department: str,
        steps: Sequence[DutyStep],
        actor: str,
        now: datetime,
        action: str,
    ) -> None:
        await conn.execute(
            sa.insert(duty_lists).values(department=department, updated_at=now, updated_by=actor)
        )
        if steps:
            await conn.execute(
                sa.insert(duty_steps),
                [
                    {
                        "department": department,
                        "position": position,
                        "name": s.name,
                        "endpoint": s.endpoint,
                        "ring_s": s.ring_s,
                    }
                    for position, s in enumerate(steps)
                ],
            )
        await conn.execute(
            sa.insert(audit_log).values(
                at=now,
                actor=actor[:100],
                account_id=None,
                action=action,
                reason=_summary(department, steps),
            )
        )

    async def get(self, department: str) -> DutyList | None:
        """The department's list, or None when the database keeps none for it."""
        lists = await self._read(department)
        return lists[0] if lists else None

    async def all(self) -> list[DutyList]:
        """Every list kept, by department name."""
        return await self._read(None)

    async def tonight(self, department: str) -> DutyList | None:
        """The list a leak call tonight rings, in order, with who changed it last (for the
        wallboard). Lists have no shifts yet, so tonight's is the one kept now."""
        return await self.get(department)

    async def on_duty(self, department: str) -> tuple[DutyStep, ...] | None:
        """The steps to ring for a leak call now (None: no list kept, use config's)."""
        kept = await self.get(department)
        return kept.steps if kept is not None else None

    async def _read(self, department: str | None) -> list[DutyList]:
        heads = sa.select(duty_lists).order_by(duty_lists.c.department)
        rows = sa.select(duty_steps).order_by(duty_steps.c.department, duty_steps.c.position)
        if department is not None:
            heads = heads.where(duty_lists.c.department == department)
            rows = rows.where(duty_steps.c.department == department)
        async with self._db.connect() as conn:
            kept = (await conn.execute(heads)).all()
            steps = (await conn.execute(rows)).all()
        by_department: dict[str, list[DutyStep]] = {}
        for row in steps:
            by_department.setdefault(row.department, []).append(
                DutyStep(row.name, row.endpoint, row.ring_s)
            )
        return [
            DutyList(
                row.department,
                tuple(by_department.get(row.department, ())),
                row.updated_at,
                row.updated_by,
            )
            for row in kept
        ]
