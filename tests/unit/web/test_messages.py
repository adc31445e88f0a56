"""The console's live messages: each type reads back as itself by its `type`, nothing else is a
message, the published JSON Schema is the generated one, and the pop built from the store's
record says what an agent must read (pure: the database side is tests/integration/store)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from ivr.store.calls import CallEvent
from ivr.store.models import Account, Premise, ServiceRequest
from ivr.store.pop import Contact, ContactRequest, PopCall, PopRecord
from ivr.web.messages import (
    TABLE_VOCABULARY,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallHold,
    CaseStatusChanged,
    ConsoleMessage,
    Heartbeat,
    Offer,
    OfferWithdrawn,
    TransferStep,
    WrapUpRecorded,
    console_message_schema,
    console_message_schema_json,
    message_json,
    national_number,
    offer_from,
    read_message,
)

pytestmark = pytest.mark.unit

SCHEMA_FILE = Path(__file__).parents[3] / "docs" / "console-messages.schema.json"
T0 = datetime(2027, 2, 10, 0, 30, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def bare_offer(**change: Any) -> Offer:
    fields: dict[str, Any] = {
        "call_id": "call-1",
        "offered_at": T0,
        "caller_number": "093-582-1234",
        "caller_kind": "number",
        "accounts": (),
        "account_chosen": False,
        "matched_by": None,
        "ivr_path": (),
        "entries": (),
        "intakes": (),
        "notices": (),
        "language": "ja",
        "queue": "general",
        "enqueued_at": at(-30),
        "waited_s": 30.0,
        **change,
    }
    return Offer(**fields)


EVERY_TYPE: list[ConsoleMessage] = [
    bare_offer(),
    OfferWithdrawn(call_id="call-1", at=T0, reason="caller_hung_up"),
    CallAnswered(call_id="call-1", at=T0),
    CallEnded(call_id="call-1", at=T0, wrap_up_until=at(60)),
    AgentStateChanged(status="paused", since=T0, reason="break", call_id=None),
    TransferStep(call_id="call-1", at=T0, step="consulting", target="works", detail=""),
    CallHold(call_id="call-1", at=T0, held=True),
    WrapUpRecorded(call_id="call-1", at=T0, reason="billing"),
    CaseStatusChanged(case_id=7, status="answered", by="agent:dept1", at=T0, answer="Fixed"),
    Heartbeat(at=T0),
]


@pytest.mark.parametrize("message", EVERY_TYPE, ids=lambda m: m.type)
def test_each_message_reads_back_as_itself(message: ConsoleMessage) -> None:
    text = message_json(message)
    assert read_message(text) == message
    assert type(read_message(text)) is type(message)


def test_the_types_are_the_ones_the_page_knows() -> None:
    assert [m.type for m in EVERY_TYPE] == [
        "offer",
        "offer_withdrawn",
        "call_answered",
        "call_ended",
        "agent_state",
        "transfer",
        "hold",
        "wrap_up",
        "case_status",
        "heartbeat",
    ]
    mapping = console_message_schema()["discriminator"]["mapping"]
    assert set(mapping) == {m.type for m in EVERY_TYPE}


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "offer_accepted", "call_id": "c", "at": "2027-02-10T00:30:00Z"}',
        '{"type": "call_answered", "call_id": "c", "at": "2027-02-10T00:30:00Z", "x": 1}',
        '{"type": "call_answered", "call_id": "c", "at": "2027-02-10T00:30:00"}',
        '{"type": "offer_withdrawn", "call_id": "c", "at": "2027-02-10T00:30:00Z",'
        ' "reason": "bored"}',
    ],
    ids=["unknown type", "extra field", "naive time", "unknown reason"],
)
def test_anything_else_is_not_a_message(text: str) -> None:
    with pytest.raises(ValidationError):
        read_message(text)


def test_the_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == console_message_schema_json(), (
        "regenerate: python -c 'from ivr.web.messages import console_message_schema_json as s;"
        ' open("docs/console-messages.schema.json", "w").write(s())\''
    )


def test_the_schema_is_versioned_and_says_every_field_is_sent() -> None:
    schema = console_message_schema()
    assert schema["$id"].endswith("/console-messages/v1.json")
    offer = schema["$defs"]["Offer"]
    assert set(offer["required"]) == set(Offer.model_fields)
    assert offer["additionalProperties"] is False


@pytest.mark.parametrize("name", sorted(TABLE_VOCABULARY))
def test_the_messages_spell_the_tables_vocabulary(name: str) -> None:
    literal, stored = TABLE_VOCABULARY[name]
    assert set(get_args(literal)) == set(stored)


def test_numbers_are_shown_as_a_japanese_agent_reads_them() -> None:
    assert national_number("+81935821234") == "093-582-1234"
    assert national_number("+819012345678") == "090-1234-5678"


# ---------------------------------------------------------------------- the pop from a record


def event(seconds: float, what: str, **data: str) -> CallEvent:
    return CallEvent(id=int(seconds * 10), call_id="call-1", at=at(seconds), kind=what, data=data)


ACCOUNT = Account(
    id=7,
    customer_number="0000000075",
    holder_name="若葉 花子",
    holder_kana="ワカバ ハナコ",
    status="shut_off",
    balance_yen=4200,
    overdue_since=date(2027, 1, 5),
    payment_method="convenience_store",
    premises=(Premise(1, 7, "若葉市中央区本町1丁目1番", "800-0001", "chuo-01", "M000000001"),),
    phones=("+81935821234",),
)


def record(events: tuple[CallEvent, ...], **change: Any) -> PopRecord:
    fields: dict[str, Any] = {
        "call": PopCall("call-1", "+81935821234", "number", 7, at(0)),
        "events": events,
        "accounts": (ACCOUNT,),
        "account_chosen": True,
        "notices": (),
        "requests": (),
        "contacts": (),
        **change,
    }
    return PopRecord(**fields)


TRAIL = (
    event(0, "entered_ivr"),
    event(0.1, "entered", node="greeting", flow="hotline"),
    event(2, "menu_choice", node="greeting", key="1", to="lang_ja"),
    event(3, "account_matched", by="caller_id"),
    event(8, "menu_choice", node="main_menu", key="3", to="stop_menu"),
    event(15, "collected", node="stop_date", variable="stop_date"),
    event(16, "re_enter", node="stop_date", variable="stop_date"),
    event(22, "collected", node="stop_date", variable="stop_date", confirmed="true"),
    event(25, "intake_created", node="stop_intake", kind="stop"),
    event(30, "to_queue", node="operator", queue="general"),
    event(30.5, "enqueued", queue="general", agent="", detail="5"),
    event(72.5, "offered", queue="general", agent="agent1"),
)


def test_the_pop_says_what_the_caller_did_and_how_long_they_waited() -> None:
    request = ServiceRequest(
        1, "stop", "accepted", 7, 1, {}, "40012345", None, "ivr", "ivr", "call-1", at(25)
    )
    contact = Contact(7, at(-86400), "phone", "call-0", "completed", ())
    other = Contact(8, at(-3600), "web", None, None, (ContactRequest("start", "4001", "accepted"),))
    offer = offer_from(
        record(TRAIL, requests=(request,), contacts=(contact, other)),
        at(73),
        {"stop_date": "2027-03-31", "language": "ja"},
    )
    assert offer.offered_at == at(72.5)  # the trail's offer, not the time the pop was built
    assert offer.waited_s == 42.0
    assert offer.queue == "general"
    assert offer.caller_number == "093-582-1234"
    assert offer.matched_by == "caller_id"
    assert [(c.menu, c.key, c.at) for c in offer.ivr_path] == [
        ("greeting", "1", at(2)),
        ("main_menu", "3", at(8)),
    ]
    # re-entered: the confirmed second entry is the one that counts
    assert [(e.field, e.value, e.confirmed, e.at) for e in offer.entries] == [
        ("stop_date", "2027-03-31", True, at(22))
    ]
    assert [(i.kind, i.confirmation) for i in offer.intakes] == [("stop", "40012345")]
    (account,) = offer.accounts
    assert (account.holder_name, account.status, account.balance_yen) == (
        "若葉 花子",
        "shut_off",
        4200,
    )
    assert account.phones == ("093-582-1234",)
    # each account lists only its own contacts
    assert [c.call_id for c in account.contacts] == ["call-0"]


def test_a_withheld_caller_has_no_number_and_no_wait_before_queueing() -> None:
    offer = offer_from(
        record(
            TRAIL[:4],
            call=PopCall("call-1", None, "withheld", None, at(0)),
            accounts=(),
            account_chosen=False,
        ),
        at(10),
        {},
    )
    assert (offer.caller_number, offer.caller_kind) == (None, "withheld")
    assert offer.offered_at == at(10)
    assert (offer.queue, offer.enqueued_at, offer.waited_s) == (None, None, None)
    assert offer.language is None
