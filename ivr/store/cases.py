"""Complaints and requests ("cases") an agent keys during or after a call, sent to the work list
of the department that settles them, and their follow-up: received → in hand → answered, each
step with who took it and when (a step may be skipped, never undone).

A case names the call it came from and the caller's account, if any. Lists that show a case's
customer number write one audit row per account shown, in the same transaction, like every other
look-up of an account; keying a case and each step write an audit row too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.errors import HotlineError
from ivr.store.accounts import AuditContext, write_audit
from ivr.store.tables import CASE_KINDS, CASE_STATUSES, accounts, audit_log, cases

CaseStatus = Literal["received", "in_hand", "answered"]
MAX_SAID = 2000
MAX_ANSWER = 2000
MAX_CATEGORY = 32
LIST_MAX = 200


class CaseNotFound(HotlineError):
    """No case has this id (on this department's list)."""


class StepRefused(HotlineError):
    """The case is already at or past the step asked for."""


@dataclass(frozen=True, slots=True)
class CaseDraft:
    kind: str
    category: str
    said: str
    department: str
    call_id: str | None = None
    customer_number: str | None = None


@dataclass(frozen=True, slots=True)
class Case:
    id: int
    kind: str
    category: str
    said: str
    department: str
    call_id: str | None
    customer_number: str | None
    status: CaseStatus
    received_at: datetime
    received_by: str
    in_hand_at: datetime | None
    in_hand_by: str | None
    answered_at: datetime | None
    answered_by: str | None
    answer: str | None


def draft_problems(draft: CaseDraft, departments: Sequence[str]) -> dict[str, str]:
    """Field → problem code (`required`, `unknown`, `too_long`); empty when it can be stored."""
    problems: dict[str, str] = {}
    if draft.kind not in CASE_KINDS:
        problems["kind"] = "unknown"
    if not draft.category.strip():
        problems["category"] = "required"
    elif len(draft.category) > MAX_CATEGORY:
        problems["category"] = "too_long"
    if not draft.said.strip():
        problems["said"] = "required"
    elif len(draft.said) > MAX_SAID:
        problems["said"] = "too_long"
    if draft.department not in departments:
        problems["department"] = "required" if not draft.department else "unknown"
    return problems


def _case(row: Mapping[Any, Any]) -> Case:
    return Case(**{name: row[name] for name in Case.__slots__})


def _audit(actor: str, action: str, reason: str, at: datetime, call_id: str | None) -> sa.Insert:
    return sa.insert(audit_log).values(
        at=at, actor=actor[:100], account_id=None, action=action, reason=reason[:200],
        call_id=call_id,
    )  # fmt: skip


_SELECT = sa.select(
    *(c for c in cases.c if c.name != "account_id"),
    cases.c.account_id,
    accounts.c.customer_number,
).select_from(cases.outerjoin(accounts, accounts.c.id == cases.c.account_id))


class CaseStore:
    def __init__(self, db: AsyncEngine) -> None:
        self._db = db

    async def add(self, draft: CaseDraft, actor: str, now: datetime) -> Case:
        """Store a checked draft as received; an unknown customer number links no account."""
        async with self._db.begin() as conn:
            account_id = None
            if draft.customer_number:
                account_id = (
                    await conn.execute(
                        sa.select(accounts.c.id).where(
                            accounts.c.customer_number == draft.customer_number
                        )
                    )
                ).scalar_one_or_none()
            case_id = (
                await conn.execute(
                    sa.insert(cases)
                    .values(
                        kind=draft.kind,
                        category=draft.category.strip(),
                        said=draft.said.strip(),
                        department=draft.department,
                        call_id=draft.call_id,
                        account_id=account_id,
                        status="received",
                        received_at=now,
                        received_by=actor[:100],
                    )
                    .returning(cases.c.id)
                )
            ).scalar_one()
            what = f"case {case_id} {draft.kind} to {draft.department}"
            await conn.execute(_audit(actor, "case_add", what, now, draft.call_id))
            row = (await conn.execute(_SELECT.where(cases.c.id == case_id))).mappings().one()
        return _case(row)

    async def advance(
        self,
        case_id: int,
        department: str,
        status: CaseStatus,
        actor: str,
        now: datetime,
        answer: str | None = None,
    ) -> Case:
        """Take the case of `department` on to `status` (with the answer given, if any);
        `StepRefused` when it is already there or past it."""
        if status not in CASE_STATUSES[1:]:
            raise StepRefused(f"cannot go to {status!r}")
        where = sa.and_(cases.c.id == case_id, cases.c.department == department)
        async with self._db.begin() as conn:
            current = (
                await conn.execute(sa.select(cases.c.status).where(where).with_for_update())
            ).scalar_one_or_none()
            if current is None:
                raise CaseNotFound(f"no case {case_id}")
            if CASE_STATUSES.index(current) >= CASE_STATUSES.index(status):
                raise StepRefused(f"case {case_id} is {current}")
            values: dict[str, Any] = {
                "status": status,
                f"{status}_at": now,
                f"{status}_by": actor[:100],
            }
            if answer:
                values["answer"] = answer.strip()[:MAX_ANSWER]
            await conn.execute(sa.update(cases).where(where).values(values))
            await conn.execute(_audit(actor, f"case_{status}", f"case {case_id}", now, None))
            row = (await conn.execute(_SELECT.where(cases.c.id == case_id))).mappings().one()
        return _case(row)

    async def work_list(
        self, department: str, ctx: AuditContext, now: datetime, *, open_only: bool = False
    ) -> list[Case]:
        """The department's cases, open ones first then newest first; the accounts shown are
        audited under `ctx`."""
        where = cases.c.department == department
        if open_only:
            where = sa.and_(where, cases.c.status != "answered")
        order = (sa.case({"answered": 1}, value=cases.c.status, else_=0), cases.c.id.desc())
        return await self._listing(where, order, ctx, now)

    async def keyed_by(self, actor: str, ctx: AuditContext, now: datetime) -> list[Case]:
        """The cases `actor` keyed, newest first (the agent follows their status)."""
        return await self._listing(cases.c.received_by == actor, (cases.c.id.desc(),), ctx, now)

    async def _listing(
        self,
        where: sa.ColumnElement[bool],
        order: Sequence[sa.ColumnElement[Any]],
        ctx: AuditContext,
        now: datetime,
    ) -> list[Case]:
        async with self._db.begin() as conn:
            rows = (
                (await conn.execute(_SELECT.where(where).order_by(*order).limit(LIST_MAX)))
                .mappings()
                .all()
            )
            shown = sorted({r["account_id"] for r in rows if r["account_id"] is not None})
            if shown:
                await conn.run_sync(write_audit, ctx, "case_list", shown, now)
        return [_case(r) for r in rows]

    async def count_received(self, start: datetime, end: datetime) -> dict[str, int]:
        """Cases keyed in `[start, end)` by kind (what the reports count)."""
        async with self._db.connect() as conn:
            rows = await conn.execute(
                sa.select(cases.c.kind, sa.func.count())
                .where(cases.c.received_at >= start, cases.c.received_at < end)
                .group_by(cases.c.kind)
            )
            return {str(kind): int(n) for kind, n in rows}
