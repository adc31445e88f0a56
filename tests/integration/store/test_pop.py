"""The screen-pop from the database, on SQLite and PostgreSQL: a caller's trail as the engine
writes it (menu choices, keyed dates, an intake with its confirmation), their account, the
notices in their area and their last week's contacts become what the agent reads; every
account shown is in the audit log with the agent and the call; a fixed number of statements."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.callerid import CallerId, CallerIdKind
from ivr.store.calls import AccountMatched, CallClosed, CallLog, CallOpened, TrailEntry, TrailEvent
from ivr.store.pop import POP_STATEMENTS
from ivr.store.tables import audit_log, service_requests
from ivr.web.messages import pop_for
from tests.integration.store.storedata import NOW, cust, seed
from tests.support.notices import insert_notice

pytestmark = pytest.mark.integration

CALLER = "+81935821234"  # account 1, premise 101 in area chuo-01
SHARED_LINE = "+81935550000"  # accounts 2 (active) and 3 (shut off)
OFFER_AT = NOW + timedelta(seconds=73)


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def number(e164: str) -> CallerId:
    return CallerId(CallerIdKind.NUMBER, e164)


def ev(call_id: str, seconds: float, what: str, **data: str) -> TrailEvent:
    return TrailEvent(call_id, what, at(seconds), data)


def the_call(call_id: str, caller: CallerId) -> list[TrailEntry]:
    """A caller's way through the hotline to the operator queue, as the engine writes it."""
    return [
        CallOpened(call_id, caller, at(0)),
        ev(call_id, 0.1, "entered", node="greeting", flow="hotline", version="2027.1"),
        ev(call_id, 2, "menu_choice", node="greeting", key="1", to="lang_ja"),
        ev(call_id, 8, "menu_choice", node="main_menu", key="3", to="stop_menu"),
        ev(call_id, 15, "collected", node="stop_date", variable="stop_date"),
        ev(call_id, 16, "re_enter", node="stop_date", variable="stop_date"),
        ev(call_id, 22, "collected", node="stop_date", variable="stop_date", confirmed="true"),
        ev(call_id, 26, "collected", node="meter", variable="start_meter"),
        ev(call_id, 28, "intake_created", node="stop_intake", kind="stop"),
        ev(call_id, 30, "to_queue", node="operator", queue="general"),
        ev(call_id, 30.5, "enqueued", queue="general", agent="", detail="5"),
        ev(call_id, 72.5, "offered", queue="general", agent="agent1"),
    ]


def earlier_call(call_id: str, days_ago: float, outcome: str) -> list[TrailEntry]:
    start = NOW - timedelta(days=days_ago)
    return [
        CallOpened(call_id, number(CALLER), start),
        AccountMatched(call_id, cust(1), "caller_id", start + timedelta(seconds=3)),
        CallClosed(call_id, start + timedelta(minutes=4), True, outcome, number(CALLER), start),
    ]


def request_row(call_id: str | None, seconds: float, kind: str, confirmation: str) -> Any:
    return {
        "kind": kind,
        "status": "accepted",
        "account_id": 1,
        "premise_id": 101,
        "fields": {},
        "confirmation": confirmation,
        "linked_request_id": None,
        "channel": "ivr" if call_id else "web",
        "actor": "ivr" if call_id else "web:form",
        "call_id": call_id,
        "created_at": at(seconds),
    }


DAY = 86400.0


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncEngine:
    await seed(engine)
    await CallLog(engine).append_many(
        [
            *earlier_call("call-1d", 1, "completed"),
            *earlier_call("call-3d", 3, "abandoned"),
            *earlier_call("call-10d", 10, "completed"),
            *the_call("call-now", number(CALLER)),
            AccountMatched("call-now", cust(1), "caller_id", at(3)),
        ]
    )
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(service_requests),
            [
                request_row("call-now", 28, "stop", "40000013"),
                request_row("call-3d", -3 * DAY + 60, "bank_debit", "40000021"),
            ],
        )
        for area, text, from_s, until_s in (
            ("chuo-01", "本町1丁目 断水工事", -DAY, DAY),
            ("chuo-01", "終わった工事", -3 * DAY, -DAY),
            ("chuo-02", "ほかの地区", -DAY, DAY),
        ):
            await insert_notice(conn, [area], at(from_s), at(until_s), text_ja=text)
        # its audio could not be made: callers do not hear it, agents are not told of it
        await insert_notice(
            conn, ["chuo-01"], at(-DAY), at(DAY), text_ja="音声なし", audio="failed"
        )
    return engine


async def audit_of(db: AsyncEngine, call_id: str) -> list[tuple[str, int | None, str, str]]:
    async with db.connect() as conn:
        rows = await conn.execute(
            sa.select(
                audit_log.c.actor, audit_log.c.account_id, audit_log.c.action, audit_log.c.reason
            )
            .where(audit_log.c.call_id == call_id)
            .order_by(audit_log.c.id)
        )
        return [tuple(r) for r in rows]


@contextmanager
def statements(db: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            seen.append(statement)

    sa.event.listen(db.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        sa.event.remove(db.sync_engine, "before_cursor_execute", count)


async def test_the_pop_shows_the_caller_as_the_agent_must_read_them(db: AsyncEngine) -> None:
    keyed = {"stop_date": "2027-03-31", "start_meter": "M000000101", "language": "ja"}
    with statements(db) as seen:
        offer = await pop_for(db, "call-now", "agent1", OFFER_AT, keyed)
    assert len(seen) == POP_STATEMENTS
    assert offer.type == "offer"
    assert (offer.caller_number, offer.caller_kind) == ("093-582-1234", "number")
    assert offer.account_chosen
    assert offer.matched_by == "caller_id"
    (account,) = offer.accounts
    assert account.customer_number == cust(1)
    assert (account.holder_name, account.holder_kana, account.status) == (
        "試験 1",
        "シケン",
        "active",
    )
    assert (account.balance_yen, account.overdue_since, account.payment_method) == (
        0,
        None,
        "bank_debit",
    )
    assert [p.address for p in account.premises] == ["若葉市中央区本町1丁目101番"]
    assert account.phones == ("093-582-1234",)
    # the IVR path in order, with its times; what was keyed, the last entry counting
    assert [(c.menu, c.key, c.at) for c in offer.ivr_path] == [
        ("greeting", "1", at(2)),
        ("main_menu", "3", at(8)),
    ]
    assert [(e.field, e.value, e.confirmed) for e in offer.entries] == [
        ("stop_date", "2027-03-31", True),
        ("start_meter", "M000000101", False),
    ]
    assert [(i.kind, i.confirmation, i.at) for i in offer.intakes] == [("stop", "40000013", at(28))]
    # in force in the caller's area only
    assert [n.text_ja for n in offer.notices] == ["本町1丁目 断水工事"]
    assert offer.language == "ja"
    assert offer.queue == "general"
    assert offer.offered_at == at(72.5)
    assert offer.waited_s == 42.0
    # two of the three earlier calls are within 7 days, newest first; the request made on the
    # older one is listed under it
    assert [(c.call_id, c.channel, c.outcome) for c in account.contacts] == [
        ("call-1d", "phone", "completed"),
        ("call-3d", "phone", "abandoned"),
    ]
    assert account.contacts[0].at == NOW - timedelta(days=1)
    assert [(r.kind, r.confirmation) for r in account.contacts[1].requests] == [
        ("bank_debit", "40000021")
    ]
    assert await audit_of(db, "call-now") == [("agent:agent1", 1, "screen_pop", "offer")]


async def test_a_request_made_on_the_web_is_a_contact_of_its_own(db: AsyncEngine) -> None:
    async with db.begin() as conn:
        await conn.execute(
            sa.insert(service_requests), [request_row(None, -2 * DAY, "start", "40000039")]
        )
    with statements(db) as seen:
        offer = await pop_for(db, "call-now", "agent1", OFFER_AT)
    assert len(seen) == POP_STATEMENTS  # however long the history
    (account,) = offer.accounts
    assert [(c.channel, c.call_id) for c in account.contacts] == [
        ("phone", "call-1d"),
        ("web", None),
        ("phone", "call-3d"),
    ]
    assert [(r.kind, r.confirmation) for r in account.contacts[1].requests] == [
        ("start", "40000039")
    ]
    # no values handed over: the pop still says what was keyed, and that it was confirmed
    assert [(e.field, e.value, e.confirmed) for e in offer.entries] == [
        ("stop_date", None, True),
        ("start_meter", None, False),
    ]


async def test_a_withheld_caller_is_shown_as_withheld_with_no_account(db: AsyncEngine) -> None:
    await CallLog(db).append_many(the_call("call-anon", CallerId(CallerIdKind.WITHHELD)))
    offer = await pop_for(db, "call-anon", "agent1", OFFER_AT)
    assert (offer.caller_number, offer.caller_kind) == (None, "withheld")
    assert offer.accounts == ()
    assert not offer.account_chosen
    assert offer.notices == ()
    assert [c.key for c in offer.ivr_path] == ["1", "3"]
    assert offer.waited_s == 42.0
    assert await audit_of(db, "call-anon") == []


async def test_every_account_on_a_shared_line_is_listed_when_none_was_chosen(
    db: AsyncEngine,
) -> None:
    await CallLog(db).append_many(the_call("call-shared", number(SHARED_LINE)))
    async with db.begin() as conn:
        # one notice for both accounts' areas (chuo-02 and chuo-01)
        await insert_notice(conn, ["chuo-01", "chuo-02"], at(-DAY), at(DAY), text_ja="両地区")
    offer = await pop_for(db, "call-shared", "agent2", OFFER_AT)
    # the notices of both accounts' areas, each once
    assert sorted(n.text_ja for n in offer.notices) == sorted(
        ["ほかの地区", "本町1丁目 断水工事", "両地区"]
    )
    assert not offer.account_chosen
    # the active account first, as the IVR's look-up orders them
    assert [(a.customer_number, a.status) for a in offer.accounts] == [
        (cust(2), "active"),
        (cust(3), "shut_off"),
    ]
    assert offer.accounts[1].balance_yen == 3000
    assert str(offer.accounts[1].overdue_since) == "2026-01-10"
    assert offer.caller_number == "093-555-0000"
    assert await audit_of(db, "call-shared") == [
        ("agent:agent2", 2, "screen_pop", "offer"),
        ("agent:agent2", 3, "screen_pop", "offer"),
    ]


async def test_a_call_not_yet_stored_gives_a_bare_pop_and_no_audit(db: AsyncEngine) -> None:
    offer = await pop_for(db, "call-unknown", "agent1", OFFER_AT)
    assert (offer.call_id, offer.offered_at, offer.caller_kind) == (
        "call-unknown",
        OFFER_AT,
        "unknown",
    )
    assert offer.accounts == ()
    assert await audit_of(db, "call-unknown") == []
