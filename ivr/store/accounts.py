"""Account look-ups — by caller ID, by customer number — each one written to the audit log.

Every function that reveals an account takes an `AuditContext` (who asks, why, on which call) and
writes the audit row in the same transaction as the read, so a look-up that returned data is never
missing from the log. The `*_in` variants work inside a caller's transaction (intake uses them);
`AccountStore` opens its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.callerid import CallerId, normalise_caller_id
from ivr.errors import InvalidNumber
from ivr.store.models import Account, AuditEntry, CallerMatch, MatchKind, Notice, Premise
from ivr.store.numbers import parse_customer_number
from ivr.store.tables import accounts, audit_log, notices, phones, premises


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who looks at accounts and why: ``actor`` is ``ivr``, ``agent:<login>``, ``api:<client>``."""

    actor: str
    reason: str
    call_id: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def premise_from_row(row: RowMapping, prefix: str = "") -> Premise:
    """A premise from a `premises` row (or a joined row whose premise columns carry `prefix`)."""
    return Premise(
        id=row[f"{prefix}id"],
        account_id=row[f"{prefix}account_id"],
        address=row[f"{prefix}address"],
        postal_code=row[f"{prefix}postal_code"],
        area_code=row[f"{prefix}area_code"],
        meter_number=row[f"{prefix}meter_number"],
    )


async def load_accounts_in(conn: AsyncConnection, ids: Sequence[int]) -> tuple[Account, ...]:
    """Accounts with their premises and phones, in the order of `ids` (eager, three queries)."""
    if not ids:
        return ()
    acc_rows = (await conn.execute(sa.select(accounts).where(accounts.c.id.in_(ids)))).mappings()
    by_id = {r["id"]: r for r in acc_rows}
    prem: dict[int, list[Premise]] = {}
    for r in (
        await conn.execute(
            sa.select(premises).where(premises.c.account_id.in_(ids)).order_by(premises.c.id)
        )
    ).mappings():
        prem.setdefault(r["account_id"], []).append(premise_from_row(r))
    tel: dict[int, list[str]] = {}
    for r in (
        await conn.execute(
            sa.select(phones.c.account_id, phones.c.e164)
            .where(phones.c.account_id.in_(ids))
            .order_by(phones.c.id)
        )
    ).mappings():
        tel.setdefault(r["account_id"], []).append(r["e164"])
    out = []
    for i in ids:
        if i not in by_id:
            continue
        r = by_id[i]
        out.append(
            Account(
                id=r["id"],
                customer_number=r["customer_number"],
                holder_name=r["holder_name"],
                holder_kana=r["holder_kana"],
                status=r["status"],
                balance_yen=r["balance_yen"],
                overdue_since=r["overdue_since"],
                payment_method=r["payment_method"],
                premises=tuple(prem.get(i, ())),
                phones=tuple(tel.get(i, ())),
            )
        )
    return tuple(out)


async def write_audit_in(
    conn: AsyncConnection,
    ctx: AuditContext,
    action: str,
    account_ids: Iterable[int | None],
    now: datetime | None = None,
) -> None:
    at = now or _now()
    rows = [
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
    if rows:
        await conn.execute(sa.insert(audit_log), rows)


# active accounts first: the caller most likely rings about the water they use now
_STATUS_ORDER = sa.case({"active": 0, "shut_off": 1}, value=accounts.c.status, else_=2)


async def match_caller_in(
    conn: AsyncConnection, caller: CallerId, ctx: AuditContext
) -> CallerMatch:
    if caller.e164 is None:
        kind = MatchKind.NONE if caller.kind == "malformed" else MatchKind.WITHHELD
        await write_audit_in(conn, ctx, "lookup_caller", [None])
        return CallerMatch(kind, caller)
    found = await _accounts_by_phone_in(conn, caller.e164)
    await write_audit_in(conn, ctx, "lookup_caller", [a.id for a in found] or [None])
    if not found:
        return CallerMatch(MatchKind.NONE, caller)
    return CallerMatch(MatchKind.ONE if len(found) == 1 else MatchKind.SEVERAL, caller, found)


# the caller-ID match is on every incoming call: one statement brings the accounts with their
# premises and phones (each statement costs a thread hop with aiosqlite, ~0.5-1 ms)
_MATCHED = phones.alias("matched")
_LISTED = phones.alias("listed")
_PREMISE_COLUMNS = [c.label(f"premise_{c.name}") for c in premises.c]
_BY_PHONE = (
    sa.select(accounts, *_PREMISE_COLUMNS, _LISTED.c.id.label("phone_id"), _LISTED.c.e164)
    .select_from(
        accounts.join(_MATCHED, _MATCHED.c.account_id == accounts.c.id)
        .outerjoin(premises, premises.c.account_id == accounts.c.id)
        .outerjoin(_LISTED, _LISTED.c.account_id == accounts.c.id)
    )
    .where(_MATCHED.c.e164 == sa.bindparam("e164"))
    .order_by(_STATUS_ORDER, accounts.c.id, premises.c.id, _LISTED.c.id)
)


async def _accounts_by_phone_in(conn: AsyncConnection, e164: str) -> tuple[Account, ...]:
    """The accounts listing `e164` (active first), as `load_accounts_in` would build them."""
    rows = (await conn.execute(_BY_PHONE, {"e164": e164})).mappings().all()
    order: list[int] = []
    head: dict[int, RowMapping] = {}
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
        Account(
            id=aid,
            customer_number=head[aid]["customer_number"],
            holder_name=head[aid]["holder_name"],
            holder_kana=head[aid]["holder_kana"],
            status=head[aid]["status"],
            balance_yen=head[aid]["balance_yen"],
            overdue_since=head[aid]["overdue_since"],
            payment_method=head[aid]["payment_method"],
            premises=tuple(prem[aid][k] for k in sorted(prem[aid])),
            phones=tuple(tel[aid][k] for k in sorted(tel[aid])),
        )
        for aid in order
    )


async def account_by_number_in(
    conn: AsyncConnection, customer_number: str, ctx: AuditContext
) -> Account | None:
    """The account with this customer number; `InvalidNumber` before any query if malformed."""
    number = parse_customer_number(customer_number)
    found_id = (
        await conn.execute(sa.select(accounts.c.id).where(accounts.c.customer_number == number))
    ).scalar_one_or_none()
    await write_audit_in(conn, ctx, "lookup_number", [found_id])
    if found_id is None:
        return None
    found = await load_accounts_in(conn, [found_id])
    return found[0] if found else None


async def premise_in(conn: AsyncConnection, premise_id: int) -> Premise | None:
    row = (
        (await conn.execute(sa.select(premises).where(premises.c.id == premise_id)))
        .mappings()
        .one_or_none()
    )
    return None if row is None else premise_from_row(row)


class AccountStore:
    """Account look-ups for the IVR, the agent console and the REST API."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def match_caller(
        self, number: str | None, ctx: AuditContext, presentation: str | None = None
    ) -> CallerMatch:
        """Normalise the presented caller ID and find the accounts that list it."""
        caller = normalise_caller_id(number, presentation)
        async with self._engine.begin() as conn:
            return await match_caller_in(conn, caller, ctx)

    async def by_customer_number(self, customer_number: str, ctx: AuditContext) -> Account | None:
        """Look up a keyed customer number; None if unknown, `InvalidNumber` if malformed.

        A malformed number is audited too (as a failed look-up) and never reaches the query.
        """
        try:
            number = parse_customer_number(customer_number)
        except InvalidNumber:
            async with self._engine.begin() as conn:
                await write_audit_in(conn, ctx, "lookup_number_invalid", [None])
            raise
        async with self._engine.begin() as conn:
            return await account_by_number_in(conn, number, ctx)

    async def notices_for(self, area_codes: Iterable[str], at: datetime) -> tuple[Notice, ...]:
        """Notices in force at `at` for any of the areas (a caller's premises)."""
        codes = sorted(set(area_codes))
        if not codes:
            return ()
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(notices)
                    .where(
                        notices.c.area_code.in_(codes),
                        notices.c.valid_from <= at,
                        notices.c.valid_until > at,
                    )
                    .order_by(notices.c.valid_from, notices.c.id)
                )
            ).mappings()
            return tuple(Notice(**dict(r)) for r in rows)

    async def audit_trail(
        self, account_id: int | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """Most recent audit rows first (for an account, or all)."""
        q = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if account_id is not None:
            q = q.where(audit_log.c.account_id == account_id)
        async with self._engine.connect() as conn:
            return [AuditEntry(**dict(r)) for r in (await conn.execute(q)).mappings()]
