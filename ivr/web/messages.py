"""The messages the engine pushes to an agent's page over its live connection (`ivr.web.hub`):
pydantic models keyed on `type`, one union `ConsoleMessage`, and its JSON Schema, a versioned
contract published as `docs/console-messages.schema.json` (`console_message_schema`).

`offer` is the screen-pop, pushed when a call is OFFERED to the agent (before the phone is
answered): who calls, their account(s), what they did and keyed in the IVR, the notices in their
area, how long they waited and the accounts' recent contacts. `pop_for` builds it from the
database (`ivr.store.pop`, which audits every account shown). Then `call_answered`,
`call_ended`, or `offer_withdrawn` (the caller hung up, the phone rang out, the offer was passed
on); `agent_state` whenever the agent's state changes; `heartbeat` so the page can tell a live
connection from a silent dead one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

import phonenumbers
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import StoredKind
from ivr.store.accounts import AuditContext
from ivr.store.calls import CallEvent
from ivr.store.models import Account, Notice, ServiceRequest
from ivr.store.pop import Contact, PopRecord, read_pop
from ivr.store.tables import ACCOUNT_STATUSES, NOTICE_KINDS, PAYMENT_METHODS
from routing.policy import AgentStatus

SCHEMA_VERSION = 1
SCHEMA_ID = f"https://suido-hotline.example/schemas/console-messages/v{SCHEMA_VERSION}.json"
POP_REASON = "offer"

CallerKind = Literal[
    "number", "withheld", "unavailable", "payphone", "empty", "malformed", "unknown"
]
AccountStatus = Literal["active", "stopped", "shut_off"]
PaymentMethod = Literal["bank_debit", "convenience_store", "credit_card", "invoice"]
NoticeKind = Literal["construction", "planned_outage", "discoloured_water", "other"]
ContactChannel = Literal["phone", "ivr", "agent", "web"]
Language = Literal["ja", "en"]
WithdrawnReason = Literal["caller_hung_up", "timed_out", "passed_on"]
"""The caller hung up while the phone rang; the phone rang out; the agent passed it on."""


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        # the schema's readers see the fields' docstrings as descriptions
        use_attribute_docstrings=True,
        json_schema_serialization_defaults_required=True,
    )


class PopPremise(_Model):
    address: str
    postal_code: str
    area_code: str
    meter_number: str


class PopContactRequest(_Model):
    kind: StoredKind
    confirmation: str | None
    status: str


class PopContact(_Model):
    """An earlier contact: a call (`channel` phone, its outcome, requests made on it) or a
    request made without a call."""

    at: AwareDatetime
    channel: ContactChannel
    call_id: str | None
    outcome: str | None
    requests: tuple[PopContactRequest, ...]


class PopAccount(_Model):
    customer_number: str
    holder_name: str
    holder_kana: str
    status: AccountStatus
    balance_yen: int
    overdue_since: date | None
    payment_method: PaymentMethod
    premises: tuple[PopPremise, ...]
    phones: tuple[str, ...]
    """As the agent reads them: national format (093-582-1234)."""
    contacts: tuple[PopContact, ...]
    """The last 7 days, newest first."""


class MenuChoice(_Model):
    at: AwareDatetime
    menu: str
    key: str
    to: str


class Entry(_Model):
    """Something the caller keyed in the IVR (a date, a meter number, a customer number)."""

    at: AwareDatetime
    field: str
    value: str | None
    """None when the engine did not hand the value over with the call."""
    confirmed: bool
    """The caller heard it read back and pressed 1."""


class Intake(_Model):
    """A request the caller made in the IVR on this call, with the number to read back."""

    at: AwareDatetime
    kind: StoredKind
    confirmation: str | None
    status: str


class PopNotice(_Model):
    area_code: str
    kind: NoticeKind
    text_ja: str
    text_en: str
    valid_from: AwareDatetime
    valid_until: AwareDatetime


class Offer(_Model):
    """The screen-pop: pushed when the call is offered to the agent."""

    type: Literal["offer"] = "offer"
    call_id: str
    offered_at: AwareDatetime
    caller_number: str | None
    """National format (093-582-1234); None unless `caller_kind` is ``number``."""
    caller_kind: CallerKind
    accounts: tuple[PopAccount, ...]
    account_chosen: bool
    """True: the IVR matched the one account; False: every account listing the caller's number
    (none was chosen), or none."""
    matched_by: str | None
    """How the IVR matched the account (caller_id, customer_number), if it did."""
    ivr_path: tuple[MenuChoice, ...]
    entries: tuple[Entry, ...]
    intakes: tuple[Intake, ...]
    notices: tuple[PopNotice, ...]
    language: Language | None
    queue: str | None
    enqueued_at: AwareDatetime | None
    waited_s: float | None
    """Offer time minus the time the caller joined the queue (from the trail)."""


class OfferWithdrawn(_Model):
    type: Literal["offer_withdrawn"] = "offer_withdrawn"
    call_id: str
    at: AwareDatetime
    reason: WithdrawnReason


class CallAnswered(_Model):
    type: Literal["call_answered"] = "call_answered"
    call_id: str
    at: AwareDatetime


class CallEnded(_Model):
    type: Literal["call_ended"] = "call_ended"
    call_id: str
    at: AwareDatetime
    wrap_up_until: AwareDatetime | None
    """When after-call work ends unless the agent ends it first; None: no wrap-up."""


class AgentStateChanged(_Model):
    type: Literal["agent_state"] = "agent_state"
    status: AgentStatus
    since: AwareDatetime
    reason: str | None
    """Why paused (break, training, no answer, ...); None otherwise."""
    call_id: str | None


TransferStepName = Literal[
    "requested", "ringing", "consulting", "connected", "transferred", "failed", "cancelled"
]


class TransferStep(_Model):
    """A step of a transfer the agent asked for: `requested`, the department `ringing`, the
    agent `consulting` it (attended: Complete or Cancel now), the caller `connected` to it or
    `transferred` to another queue, or `failed` / `cancelled` (the caller is back with the
    agent, or back in the queue after a blind transfer: `detail` says why)."""

    type: Literal["transfer"] = "transfer"
    call_id: str
    at: AwareDatetime
    step: TransferStepName
    target: str
    """The department, or the queue (``queue:<name>``)."""
    detail: str


class CallHold(_Model):
    """The caller of the agent's call went on hold (`held`: music, the agent's leg stays up) or
    came off it (Resume, or the call ended while held)."""

    type: Literal["hold"] = "hold"
    call_id: str
    at: AwareDatetime
    held: bool


class WrapUpRecorded(_Model):
    """The call's wrap-up code is on its trail (`unclassified`: wrap-up ended without one)."""

    type: Literal["wrap_up"] = "wrap_up"
    call_id: str
    at: AwareDatetime
    reason: str


class CaseStatusChanged(_Model):
    """A complaint or request the agent keyed moved on at its department (`ivr.web.cases`):
    taken `in_hand` or `answered` (with the answer), by whom and when. Sent to the agent's
    open pages only: the case list (`/agent/cases`) shows it without a reload; a page opened
    later reads it from the database."""

    type: Literal["case_status"] = "case_status"
    case_id: int
    status: Literal["in_hand", "answered"]
    by: str
    at: AwareDatetime
    answer: str | None = None


class Heartbeat(_Model):
    type: Literal["heartbeat"] = "heartbeat"
    at: AwareDatetime


ConsoleMessage = Annotated[
    Offer
    | OfferWithdrawn
    | CallAnswered
    | CallEnded
    | AgentStateChanged
    | TransferStep
    | CallHold
    | WrapUpRecorded
    | CaseStatusChanged
    | Heartbeat,
    Field(discriminator="type"),
]
MESSAGE = TypeAdapter[ConsoleMessage](ConsoleMessage)


def message_json(message: ConsoleMessage) -> str:
    return MESSAGE.dump_json(message).decode()


def read_message(text: str | bytes) -> ConsoleMessage:
    """A message from its JSON; `pydantic.ValidationError` if it is not one."""
    return MESSAGE.validate_json(text)


def console_message_schema() -> dict[str, Any]:
    """The JSON Schema of every message the console's live connection carries."""
    schema = MESSAGE.json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Suido Hotline console message",
        **schema,
    }


def console_message_schema_json() -> str:
    return json.dumps(console_message_schema(), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------- building the pop


def national_number(e164: str) -> str:
    """An E.164 number as a Japanese agent reads it (093-582-1234)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


async def pop_for(
    db: AsyncEngine,
    call_id: str,
    agent: str,
    now: datetime,
    ivr: Mapping[str, str] | None = None,
) -> Offer:
    """The screen-pop of `call_id` for the agent signed in as `agent` (their login), offered at
    `now`; each account shown is audited (``agent:<login>``, the call). `ivr` is what the caller
    keyed, as the flow handed it over with the call (`CallHandle.context`): the trail says what
    was keyed, never the value. A call not (yet) stored gives a pop with only its id and time."""
    ctx = AuditContext(f"agent:{agent}", POP_REASON, call_id)
    record = await read_pop(db, call_id, ctx, now)
    if record is None:
        return bare_offer(call_id, now)
    return offer_from(record, now, ivr or {})


def bare_offer(call_id: str, now: datetime) -> Offer:
    """A pop with only the call's id and offer time: for a call not stored yet, or to push at
    once when the database does not answer in time (the phone rings all the same)."""
    return Offer(
        call_id=call_id,
        offered_at=now,
        caller_number=None,
        caller_kind="unknown",
        accounts=(),
        account_chosen=False,
        matched_by=None,
        ivr_path=(),
        entries=(),
        intakes=(),
        notices=(),
        language=None,
        queue=None,
        enqueued_at=None,
        waited_s=None,
    )


def offer_from(record: PopRecord, now: datetime, ivr: Mapping[str, str]) -> Offer:
    """The pop from what the store read (pure)."""
    events = record.events
    offered_at = _last_at(events, "offered", now) or now
    enqueued = _last(events, "enqueued", offered_at)
    queued = enqueued or _last(events, "to_queue", offered_at)
    matched = _last(events, "account_matched", offered_at)
    e164 = record.call.caller_e164
    return Offer(
        call_id=record.call.id,
        offered_at=offered_at,
        caller_number=national_number(e164) if e164 else None,
        caller_kind=_caller_kind(record.call.caller_kind, e164),
        accounts=tuple(_account(a, record.contacts) for a in record.accounts),
        account_chosen=record.account_chosen,
        matched_by=str(matched.data.get("by")) if matched else None,
        ivr_path=_menu_choices(events),
        entries=_entries(events, ivr),
        intakes=tuple(_intake(r) for r in record.requests),
        notices=tuple(_notice(n) for n in record.notices),
        language=_language(ivr.get("language")),
        queue=str(queued.data.get("queue")) if queued and queued.data.get("queue") else None,
        enqueued_at=enqueued.at if enqueued else None,
        waited_s=(offered_at - enqueued.at).total_seconds() if enqueued else None,
    )


def _last(events: tuple[CallEvent, ...], kind: str, until: datetime) -> CallEvent | None:
    found = None
    for e in events:
        if e.kind == kind and e.at <= until:
            found = e
    return found


def _last_at(events: tuple[CallEvent, ...], kind: str, until: datetime) -> datetime | None:
    found = _last(events, kind, until)
    return found.at if found else None


_CALLER_KINDS: dict[str, CallerKind] = {kind: kind for kind in get_args(CallerKind)}


def _caller_kind(kind: str, e164: str | None) -> CallerKind:
    """``number`` exactly when there is a number to show; a row of before the streamed trail
    (its caller not known) is ``unknown``."""
    if e164 is not None:
        return "number"
    found = _CALLER_KINDS.get(kind, "unknown")
    return "unknown" if found == "number" else found


def _language(value: str | None) -> Language | None:
    if value == "ja":
        return "ja"
    if value == "en":
        return "en"
    return None


def _menu_choices(events: tuple[CallEvent, ...]) -> tuple[MenuChoice, ...]:
    return tuple(
        MenuChoice(
            at=e.at,
            menu=str(e.data.get("node", "")),
            key=str(e.data.get("key", "")),
            to=str(e.data.get("to", "")),
        )
        for e in events
        if e.kind == "menu_choice"
    )


def _entries(events: tuple[CallEvent, ...], ivr: Mapping[str, str]) -> tuple[Entry, ...]:
    """Each field the caller keyed, in the order first keyed; keyed again (re-entered, or the
    menu came round again), the last one counts."""
    latest: dict[str, Entry] = {}
    for e in events:
        if e.kind != "collected" or not e.data.get("variable"):
            continue
        name = str(e.data["variable"])
        latest.pop(name, None)
        latest[name] = Entry(
            at=e.at,
            field=name,
            value=ivr.get(name),
            confirmed=e.data.get("confirmed") == "true",
        )
    return tuple(latest.values())


def _intake(r: ServiceRequest) -> Intake:
    return Intake(
        at=r.created_at,
        kind=r.kind,
        confirmation=r.confirmation,
        status=r.status,
    )


def _notice(n: Notice) -> PopNotice:
    return PopNotice(
        area_code=n.area_code,
        kind=n.kind,
        text_ja=n.text_ja,
        text_en=n.text_en,
        valid_from=n.valid_from,
        valid_until=n.valid_until,
    )


def _account(a: Account, contacts: tuple[Contact, ...]) -> PopAccount:
    return PopAccount(
        customer_number=a.customer_number,
        holder_name=a.holder_name,
        holder_kana=a.holder_kana,
        status=a.status,
        balance_yen=a.balance_yen,
        overdue_since=a.overdue_since,
        payment_method=a.payment_method,
        premises=tuple(
            PopPremise(
                address=p.address,
                postal_code=p.postal_code,
                area_code=p.area_code,
                meter_number=p.meter_number,
            )
            for p in a.premises
        ),
        phones=tuple(national_number(p) for p in a.phones),
        contacts=tuple(_contact(c) for c in contacts if c.account_id == a.id),
    )


def _contact(c: Contact) -> PopContact:
    return PopContact(
        at=c.at,
        channel=c.channel,
        call_id=c.call_id,
        outcome=c.outcome,
        requests=tuple(
            PopContactRequest(
                kind=q.kind,
                confirmation=q.confirmation,
                status=q.status,
            )
            for q in c.requests
        ),
    )


# the Literals above spell the tables' check constraints: one test keeps them equal
TABLE_VOCABULARY = {
    "status": (AccountStatus, ACCOUNT_STATUSES),
    "payment_method": (PaymentMethod, PAYMENT_METHODS),
    "notice_kind": (NoticeKind, NOTICE_KINDS),
}
