"""What an agent's screen-pop shows about a call, read in one transaction that also audits it.

`read_pop` reads the call row, its trail, the caller's account(s) with premises and phones, the
notices in force in their areas, the requests made on this call and the accounts' contacts of
the last `CONTACT_DAYS` days, and writes one audit row per account shown (`AuditContext`: the
agent and the call) in the same transaction: a pop that showed an account is never missing from
the audit log. At most `POP_STATEMENTS` statements, however long the trail or the history.

The accounts: the one the IVR matched (`calls.account_id`), else every account that lists the
caller's number (several share a landline; none was chosen), else none (withheld, unknown).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.accounts import (
    AuditContext,
    Row,
    accounts_from_phone_rows,
    load_accounts,
    write_audit,
)
from ivr.store.calls import CallEvent
from ivr.store.models import Account, Notice, ServiceRequest
from ivr.store.notices import notices_once, select_in_force
from ivr.store.tables import (
    accounts,
    call_events,
    calls,
    phones,
    premises,
    service_requests,
)

CONTACT_DAYS = 7
# the call, its trail, the accounts (one joined statement), notices, this call's requests, the
# contacts (one UNION), the audit rows
POP_STATEMENTS = 7
AUDIT_ACTION = "screen_pop"
# the channel of a contact that was a call (requests carry their own: ivr, agent, web)
PHONE = "phone"


@dataclass(frozen=True, slots=True)
class PopCall:
    id: str
    caller_e164: str | None
    caller_kind: str
    account_id: int | None
    started_at: datetime


@dataclass(frozen=True, slots=True)
class ContactRequest:
    kind: str
    confirmation: str | None
    status: str


@dataclass(frozen=True, slots=True)
class Contact:
    """One earlier contact of an account: a call (`channel` ``phone``, its outcome, the requests
    made on it) or a request made without a call (on the web, by an agent)."""

    account_id: int
    at: datetime
    channel: str
    call_id: str | None
    outcome: str | None
    requests: tuple[ContactRequest, ...] = ()


@dataclass(frozen=True, slots=True)
class PopRecord:
    call: PopCall
    events: tuple[CallEvent, ...]
    accounts: tuple[Account, ...]
    account_chosen: bool
    """True: the IVR matched this one account; False: the accounts listing the caller's number."""
    notices: tuple[Notice, ...]
    requests: tuple[ServiceRequest, ...]
    """Requests made on this call (the IVR's intake), oldest first."""
    contacts: tuple[Contact, ...]
    """The accounts' other contacts since `CONTACT_DAYS` before now, newest first."""


async def call_account(
    db: AsyncEngine, call_id: str, ctx: AuditContext, now: datetime
) -> Account | None:
    """The account the IVR matched for `call_id` (`calls.account_id`), audited under `ctx`
    as the pop is; None when the IVR chose none (nothing is shown, nothing audited)."""
    async with db.begin() as conn:
        return await conn.run_sync(_call_account, call_id, ctx, now)


def _call_account(
    conn: sa.Connection, call_id: str, ctx: AuditContext, now: datetime
) -> Account | None:
    account_id = conn.execute(
        sa.select(calls.c.account_id).where(calls.c.id == call_id)
    ).scalar_one_or_none()
    if account_id is None:
        return None
    found = load_accounts(conn, [account_id])
    write_audit(conn, ctx, AUDIT_ACTION, [account_id], now)
    return found[0] if found else None


async def read_pop(
    db: AsyncEngine, call_id: str, ctx: AuditContext, now: datetime
) -> PopRecord | None:
    """The pop of `call_id` as of `now`, audited under `ctx`; None if no such call is stored."""
    async with db.begin() as conn:
        return await conn.run_sync(_read_pop, call_id, ctx, now)


def _read_pop(
    conn: sa.Connection, call_id: str, ctx: AuditContext, now: datetime
) -> PopRecord | None:
    row = conn.execute(sa.select(calls).where(calls.c.id == call_id)).mappings().one_or_none()
    if row is None:
        return None
    call = PopCall(
        id=row["id"],
        caller_e164=row["caller_e164"],
        caller_kind=row["caller_kind"],
        account_id=row["account_id"],
        started_at=row["started_at"],
    )
    events = tuple(
        CallEvent(**dict(r))
        for r in conn.execute(
            sa.select(call_events)
            .where(call_events.c.call_id == call_id)
            .order_by(call_events.c.id)
        ).mappings()
    )
    found = _accounts(conn, call)
    ids = [a.id for a in found]
    areas = sorted({p.area_code for a in found for p in a.premises})
    record = PopRecord(
        call=call,
        events=events,
        accounts=found,
        account_chosen=call.account_id is not None,
        notices=_notices(conn, areas, now),
        requests=_requests_of_call(conn, call_id),
        contacts=_contacts(conn, ids, call_id, now),
    )
    write_audit(conn, ctx, AUDIT_ACTION, ids, now)
    return record


_PREMISE_COLUMNS = [c.label(f"premise_{c.name}") for c in premises.c]


def _accounts(conn: sa.Connection, call: PopCall) -> tuple[Account, ...]:
    """The call's account, or the accounts listing its caller's number: one statement, the
    rows shaped as the caller-ID look-up's (`accounts_from_phone_rows`)."""
    if call.account_id is not None:
        which: sa.ColumnElement[bool] = accounts.c.id == call.account_id
    elif call.caller_e164 is not None:
        which = accounts.c.id.in_(
            sa.select(phones.c.account_id).where(phones.c.e164 == call.caller_e164)
        )
    else:
        return ()
    # active accounts first, as the IVR's look-up orders them
    status_order = sa.case({"active": 0, "shut_off": 1}, value=accounts.c.status, else_=2)
    rows = conn.execute(
        sa.select(accounts, *_PREMISE_COLUMNS, phones.c.id.label("phone_id"), phones.c.e164)
        .select_from(
            accounts.outerjoin(premises, premises.c.account_id == accounts.c.id).outerjoin(
                phones, phones.c.account_id == accounts.c.id
            )
        )
        .where(which)
        .order_by(status_order, accounts.c.id, premises.c.id, phones.c.id)
    ).mappings()
    return accounts_from_phone_rows(rows)


def _notices(conn: sa.Connection, areas: list[str], now: datetime) -> tuple[Notice, ...]:
    if not areas:
        return ()
    return notices_once(conn.execute(select_in_force(areas, now)).mappings())


def _requests_of_call(conn: sa.Connection, call_id: str) -> tuple[ServiceRequest, ...]:
    rows = conn.execute(
        sa.select(service_requests)
        .where(service_requests.c.call_id == call_id)
        .order_by(service_requests.c.id)
    ).mappings()
    return tuple(ServiceRequest(**dict(r)) for r in rows)


def _contacts(
    conn: sa.Connection, ids: list[int], call_id: str, now: datetime
) -> tuple[Contact, ...]:
    """Earlier calls of the accounts and their requests since `CONTACT_DAYS` ago (one UNION):
    a request made on one of those calls is listed under its call."""
    if not ids:
        return ()
    since = now - timedelta(days=CONTACT_DAYS)
    text = sa.String(32)
    earlier_calls = sa.select(
        calls.c.account_id.label("account_id"),
        calls.c.started_at.label("at"),
        sa.literal(PHONE, text).label("channel"),
        calls.c.id.label("call_id"),
        calls.c.reason_code.label("outcome"),
        sa.cast(sa.null(), text).label("kind"),
        sa.cast(sa.null(), text).label("confirmation"),
        sa.cast(sa.null(), text).label("status"),
    ).where(
        calls.c.account_id.in_(ids),
        calls.c.started_at >= since,
        calls.c.started_at <= now,
        calls.c.id != call_id,
    )
    requests = sa.select(
        service_requests.c.account_id,
        service_requests.c.created_at,
        sa.cast(service_requests.c.channel, text),
        service_requests.c.call_id,
        sa.cast(sa.null(), text),
        sa.cast(service_requests.c.kind, text),
        sa.cast(service_requests.c.confirmation, text),
        sa.cast(service_requests.c.status, text),
    ).where(
        service_requests.c.account_id.in_(ids),
        service_requests.c.created_at >= since,
        service_requests.c.created_at <= now,
        sa.or_(service_requests.c.call_id.is_(None), service_requests.c.call_id != call_id),
    )
    union = sa.union_all(earlier_calls, requests).subquery()
    rows = conn.execute(sa.select(union).order_by(union.c.at.desc(), union.c.call_id)).mappings()
    return _group_contacts(rows)


def _group_contacts(rows: Any) -> tuple[Contact, ...]:
    """Contacts in row order (newest first), a call's requests under the call."""
    calls_seen: dict[tuple[int, str], int] = {}
    contacts: list[Contact] = []
    loose: list[Row] = []
    for r in rows:
        if r["kind"] is None:
            calls_seen[(r["account_id"], r["call_id"])] = len(contacts)
            contacts.append(_contact(r))
        else:
            loose.append(r)
    for r in loose:
        request = ContactRequest(r["kind"], r["confirmation"], r["status"])
        at = calls_seen.get((r["account_id"], r["call_id"])) if r["call_id"] else None
        if at is None:
            contacts.append(_contact(r, (request,)))
            continue
        call = contacts[at]
        contacts[at] = Contact(
            call.account_id,
            call.at,
            call.channel,
            call.call_id,
            call.outcome,
            (*call.requests, request),
        )
    return tuple(sorted(contacts, key=lambda c: c.at, reverse=True))


def _contact(r: Row, requests: tuple[ContactRequest, ...] = ()) -> Contact:
    return Contact(
        account_id=r["account_id"],
        at=_aware(r["at"]),
        channel=r["channel"],
        call_id=r["call_id"],
        outcome=r["outcome"],
        requests=requests,
    )


def _aware(value: Any) -> datetime:
    """A UNION's column may come back without `UtcDateTime`'s processing: naive is UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)  # noqa: S101 — both selects give a timestamp
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
