"""Account look-ups — by caller ID, by customer number — each one written to the audit log.

Every function that reveals an account takes an `AuditContext` (who asks, why, on which call) and
writes the audit row in the same transaction as the read, so a look-up that returned data is never
missing from the log. The `*_in` variants work inside a caller's transaction (intake uses them);
`AccountStore` opens its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.callerid import CallerId, normalise_caller_id
from ivr.domain import utc_now
from ivr.errors import InvalidNumber
from ivr.numbers import parse_customer_number
from ivr.store.models import Account, AuditEntry, CallerMatch, MatchKind, Notice, Premise
from ivr.store.notices import notice_of, notices_once, select_in_force, select_live_not_ended
from ivr.store.tables import accounts, audit_log, phones, premises

if TYPE_CHECKING:
    from ivr.store.lookup_path import LookupPath


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who looks at accounts and why: ``actor`` is ``ivr``, ``agent:<login>``, ``api:<client>``."""

    actor: str
    reason: str
    call_id: str | None = None


# a row as SQLAlchemy returns it, or as the SQLite look-up path builds it from the driver's cursor
Row = RowMapping | Mapping[str, Any]


def premise_from_row(row: Row, prefix: str = "") -> Premise:
    """A premise from a `premises` row (or a joined row whose premise columns carry `prefix`)."""
    return Premise(
        id=row[f"{prefix}id"],
        account_id=row[f"{prefix}account_id"],
        address=row[f"{prefix}address"],
        postal_code=row[f"{prefix}postal_code"],
        area_code=row[f"{prefix}area_code"],
        meter_number=row[f"{prefix}meter_number"],
    )


def _account_from_row(r: Row, premises: Iterable[Premise], phones: Iterable[str]) -> Account:
    return Account(
        id=r["id"],
        customer_number=r["customer_number"],
        holder_name=r["holder_name"],
        holder_kana=r["holder_kana"],
        status=r["status"],
        balance_yen=r["balance_yen"],
        overdue_since=r["overdue_since"],
        payment_method=r["payment_method"],
        premises=tuple(premises),
        phones=tuple(phones),
    )


# The functions below take a synchronous `sa.Connection`: the SQLite look-up path runs them
# whole in its worker thread, and the `*_in` wrappers run them on an `AsyncConnection` through
# `run_sync` (one implementation for both).


def load_accounts(conn: sa.Connection, ids: Sequence[int]) -> tuple[Account, ...]:
    """Accounts with their premises and phones, in the order of `ids` (eager, three queries)."""
    if not ids:
        return ()
    by_id = {
        r["id"]: r
        for r in conn.execute(sa.select(accounts).where(accounts.c.id.in_(ids))).mappings()
    }
    prem: dict[int, list[Premise]] = {}
    for r in conn.execute(
        sa.select(premises).where(premises.c.account_id.in_(ids)).order_by(premises.c.id)
    ).mappings():
        prem.setdefault(r["account_id"], []).append(premise_from_row(r))
    tel: dict[int, list[str]] = {}
    for r in conn.execute(
        sa.select(phones.c.account_id, phones.c.e164)
        .where(phones.c.account_id.in_(ids))
        .order_by(phones.c.id)
    ).mappings():
        tel.setdefault(r["account_id"], []).append(r["e164"])
    return tuple(
        _account_from_row(by_id[i], prem.get(i, ()), tel.get(i, ())) for i in ids if i in by_id
    )


def audit_rows(
    ctx: AuditContext, action: str, account_ids: Iterable[int | None], at: datetime
) -> list[dict[str, object]]:
    return [
        {
            "at": at,
            "actor": ctx.actor[:100],
            "account_id": account_id,
            "action": action,
            "reason": ctx.reason[:200],
            "call_id": ctx.call_id,
        }
        for account_id in account_ids
    ]


# built once: every caller-ID look-up writes an audit row, and building the statement costs more
# than running it
_AUDIT_INSERT = sa.insert(audit_log)


def write_audit(
    conn: sa.Connection,
    ctx: AuditContext,
    action: str,
    account_ids: Iterable[int | None],
    now: datetime | None = None,
) -> None:
    rows = audit_rows(ctx, action, account_ids, now or utc_now())
    if rows:
        conn.execute(_AUDIT_INSERT, rows)


async def write_audit_in(
    conn: AsyncConnection,
    ctx: AuditContext,
    action: str,
    account_ids: Iterable[int | None],
    now: datetime | None = None,
) -> None:
    await conn.run_sync(write_audit, ctx, action, list(account_ids), now)


# active accounts first: the caller most likely rings about the water they use now
_STATUS_ORDER = sa.case({"active": 0, "shut_off": 1}, value=accounts.c.status, else_=2)

# the caller-ID match is on every incoming call: one statement brings the accounts with their
# premises and phones
MATCHED_PHONE = phones.alias("matched")
_LISTED = phones.alias("listed")
_PREMISE_COLUMNS = [c.label(f"premise_{c.name}") for c in premises.c]
BY_PHONE = (
    sa.select(accounts, *_PREMISE_COLUMNS, _LISTED.c.id.label("phone_id"), _LISTED.c.e164)
    .select_from(
        accounts.join(MATCHED_PHONE, MATCHED_PHONE.c.account_id == accounts.c.id)
        .outerjoin(premises, premises.c.account_id == accounts.c.id)
        .outerjoin(_LISTED, _LISTED.c.account_id == accounts.c.id)
    )
    .where(MATCHED_PHONE.c.e164 == sa.bindparam("e164"))
    .order_by(_STATUS_ORDER, accounts.c.id, premises.c.id, _LISTED.c.id)
)


def accounts_from_phone_rows(rows: Iterable[Row]) -> tuple[Account, ...]:
    """The accounts in `BY_PHONE` rows (one row per account x premise x phone), in row order."""
    order: list[int] = []
    head: dict[int, Row] = {}
    prem: dict[int, dict[int, Premise]] = {}
    tel: dict[int, dict[int, str]] = {}
    for r in rows:
        aid = r["id"]
        if aid not in head:
            head[aid] = r
            order.append(aid)
            prem[aid] = {}
            tel[aid] = {}
        if r["premise_id"] is not None:
            prem[aid][r["premise_id"]] = premise_from_row(r, "premise_")
        if r["phone_id"] is not None:
            tel[aid][r["phone_id"]] = r["e164"]
    return tuple(
        _account_from_row(
            head[aid],
            (prem[aid][k] for k in sorted(prem[aid])),
            (tel[aid][k] for k in sorted(tel[aid])),
        )
        for aid in order
    )


def caller_match(caller: CallerId, found: tuple[Account, ...]) -> CallerMatch:
    if caller.e164 is None:
        return CallerMatch(
            MatchKind.NONE if caller.kind == "malformed" else MatchKind.WITHHELD, caller
        )
    if not found:
        return CallerMatch(MatchKind.NONE, caller)
    return CallerMatch(MatchKind.ONE if len(found) == 1 else MatchKind.SEVERAL, caller, found)


def match_caller(conn: sa.Connection, caller: CallerId, ctx: AuditContext) -> CallerMatch:
    """Find the accounts listing the caller's number and audit the look-up (two statements)."""
    found: tuple[Account, ...] = ()
    if caller.e164 is not None:
        found = accounts_from_phone_rows(
            conn.execute(BY_PHONE, {"e164": caller.e164}).mappings().all()
        )
    write_audit(conn, ctx, "lookup_caller", [a.id for a in found] or [None])
    return caller_match(caller, found)


def account_by_number(
    conn: sa.Connection, customer_number: str, ctx: AuditContext
) -> Account | None:
    """The account with this customer number; `InvalidNumber` before any query if malformed."""
    number = parse_customer_number(customer_number)
    found_id = conn.execute(
        sa.select(accounts.c.id).where(accounts.c.customer_number == number)
    ).scalar_one_or_none()
    write_audit(conn, ctx, "lookup_number", [found_id])
    if found_id is None:
        return None
    found = load_accounts(conn, [found_id])
    return found[0] if found else None


async def account_by_number_in(
    conn: AsyncConnection, customer_number: str, ctx: AuditContext
) -> Account | None:
    return await conn.run_sync(account_by_number, customer_number, ctx)


async def premise_by_meter_in(conn: AsyncConnection, meter_number: str) -> Premise | None:
    """The premise whose water meter carries `meter_number` (as printed; case as stored)."""
    return await _premise_where(conn, premises.c.meter_number == meter_number)


async def premise_in(conn: AsyncConnection, premise_id: int) -> Premise | None:
    return await _premise_where(conn, premises.c.id == premise_id)


async def _premise_where(
    conn: AsyncConnection, condition: sa.ColumnElement[bool]
) -> Premise | None:
    row = (await conn.execute(sa.select(premises).where(condition))).mappings().one_or_none()
    return None if row is None else premise_from_row(row)


class AccountStore:
    """Account look-ups for the IVR, the agent console and the REST API.

    Look-ups go through a path of their own (`ivr.store.lookup_path`), opened on first use and
    closed by `aclose()` (or `async with`); other reads use `engine`.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._path: LookupPath | None = None

    async def __aenter__(self) -> AccountStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        path, self._path = self._path, None
        if path is not None:
            await path.aclose()

    @property
    def path(self) -> LookupPath:
        """The look-up path (opened on first use), for other short writes that should take the
        same way to the database (the call memory's batches)."""
        return self._lookups

    @property
    def _lookups(self) -> LookupPath:
        if self._path is None:
            from ivr.store.lookup_path import open_lookup_path  # it builds on this module

            self._path = open_lookup_path(self._engine)
        return self._path

    async def match_caller(
        self, number: str | None, ctx: AuditContext, presentation: str | None = None
    ) -> CallerMatch:
        """Normalise the presented caller ID and find the accounts that list it."""
        return await self._lookups.match_caller(normalise_caller_id(number, presentation), ctx)

    async def by_customer_number(self, customer_number: str, ctx: AuditContext) -> Account | None:
        """Look up a keyed customer number; None if unknown, `InvalidNumber` if malformed.

        A malformed number is audited too (as a failed look-up) and never reaches the query.
        """
        try:
            number = parse_customer_number(customer_number)
        except InvalidNumber:
            await self._lookups.run(write_audit, ctx, "lookup_number_invalid", [None])
            raise
        return await self._lookups.run(account_by_number, number, ctx)

    async def notices_for(self, area_codes: Iterable[str], at: datetime) -> tuple[Notice, ...]:
        """Notices in force at `at` for any of the areas (a caller's premises), each once;
        "in force" is `ivr.store.notices.in_force`."""
        codes = sorted(set(area_codes))
        if not codes:
            return ()
        async with self._engine.connect() as conn:
            return notices_once((await conn.execute(select_in_force(codes, at))).mappings())

    async def notices_not_ended(self, at: datetime) -> tuple[Notice, ...]:
        """Every live notice (audio ready) in force at `at` or starting later, one per
        (notice, area), oldest first."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select_live_not_ended(at))).mappings()
            return tuple(notice_of(r) for r in rows)

    async def audit_trail(
        self, account_id: int | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Most recent audit rows first (for an account, or all)."""
        q = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if account_id is not None:
            q = q.where(audit_log.c.account_id == account_id)
        async with self._engine.connect() as conn:
            return [AuditEntry(**dict(r)) for r in (await conn.execute(q)).mappings()]
