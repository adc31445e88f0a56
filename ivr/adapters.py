"""The flow's ports (`ivr.flow.ports`) implemented on the real services: accounts and notices from
`ivr.store`, calendars from `routing.hours`, intake through `ivr.intake`, call records into the
database's contact trail.

Which call asks: `CallServices` is shared by every call, so the adapters do not hold a call id.
They take a `CallIdSource` instead, and the engine passes `call_id_from_log_context`, which reads
the call id each session binds for its logs (`ivr.logs.bind_call_id`; service calls run in the
session's task or a task it creates, so they see it). Audit rows and intake rows therefore carry
the call id without the ports changing shape; outside a call they carry none.

Notices hold free text (``text_ja`` / ``text_en``) written in the admin console, while the flow
plays prompts. A caller hears one recorded prompt per *kind* of notice in force for their area
(``notice-planned-outage``, ``notice-construction``, ``notice-discoloured-water``,
``notice-other``), each kind once; the detail is on the website and with agents. Until the
catalog has a kind's prompt, the first fallback it does have is used (the ``-sample`` prompts, then
``outage-info-general``), so a notice never asks for a prompt that does not exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from ivr import logs
from ivr.callerid import normalise_caller_id, normalise_number
from ivr.calls.records import CallRecord
from ivr.domain import HoursState
from ivr.errors import IntakeRejected, InvalidNumber
from ivr.flow.ports import AccountSummary, IntakeOutcome
from ivr.intake.service import MAX_KEY_LENGTH, IntakeRequest, IntakeService
from ivr.intake.validation import RequestKind, accepted_fields
from ivr.store.accounts import AccountStore, AuditContext
from ivr.store.batching import BatchLoop
from ivr.store.calls import (
    AccountMatched,
    CallClosed,
    CallLog,
    CallOpened,
    TrailEntry,
    TrailEvent,
)
from ivr.store.models import Account, MatchKind, Notice
from routing.hours import Calendar as RoutingHours

log = logging.getLogger(__name__)

# call records ending within this long of each other share one transaction (a SIGKILL may lose
# the records of calls that ended in the last interval; their calls are over either way)
RECORD_BATCH_S = 0.25
# how old the notices a caller hears may be (an admin's new notice is heard within this long)
NOTICES_REFRESH_S = 10.0
RECORD_RETRY_S = 1.0
# how long `DbCallRecorder.write` waits for its batch (the session bounds it too)
RECORD_WAIT_S = 10.0

CallIdSource = Callable[[], str | None]

IVR_ACTOR = "ivr"


def call_id_from_log_context() -> str | None:
    """The call id the current session bound for its logs, or None outside a call."""
    # ivr.logs keeps the variable private; reading it here keeps one source of truth
    value = logs.current_call_id()
    return None if value == "-" else value


def _no_call() -> str | None:
    return None


def _source(call_id: str | CallIdSource | None) -> CallIdSource:
    if call_id is None:
        return _no_call
    if isinstance(call_id, str):
        fixed = call_id
        return lambda: fixed
    return call_id


# --- accounts -------------------------------------------------------------------------------

_STATUS: Mapping[str, Literal["active", "stopped", "shut_off"]] = {
    "active": "active",
    "stopped": "stopped",
    "shut_off": "shut_off",
}
# the flow knows three ways to pay: debit, a slip (convenience store or invoice), a card
_PAYMENT: Mapping[str, Literal["bank_debit", "slip", "card"]] = {
    "bank_debit": "bank_debit",
    "convenience_store": "slip",
    "invoice": "slip",
    "credit_card": "card",
}


def account_summary(account: Account) -> AccountSummary:
    """What the flow may know: no name, no address; the area of the first premise for notices."""
    return AccountSummary(
        customer_number=account.customer_number,
        area=account.premises[0].area_code if account.premises else "",
        status=_STATUS.get(account.status, "active"),
        balance_yen=account.balance_yen,
        payment=_PAYMENT.get(account.payment_method, "slip"),
    )


class StoreAccounts:
    """`AccountDirectory` on `AccountStore`; every look-up is audited as actor ``ivr``."""

    def __init__(self, store: AccountStore, call_id: str | CallIdSource | None = None) -> None:
        self._store = store
        self._call_id = _source(call_id)

    def _ctx(self, reason: str) -> AuditContext:
        return AuditContext(IVR_ACTOR, reason, self._call_id())

    async def lookup_by_phone(self, phone: str) -> Sequence[AccountSummary]:
        match = await self._store.match_caller(phone, self._ctx("caller-id match"))
        if match.kind is MatchKind.WITHHELD:
            return []
        return [account_summary(a) for a in match.accounts]

    async def lookup_by_customer_number(self, number: str) -> AccountSummary | None:
        try:
            account = await self._store.by_customer_number(
                number, self._ctx("customer number entered")
            )
        except InvalidNumber:
            # audited by the store as a failed look-up; to the caller it is "not found"
            return None
        return None if account is None else account_summary(account)


# --- notices --------------------------------------------------------------------------------

NOTICE_PROMPTS: Mapping[str, tuple[str, ...]] = {
    "planned_outage": ("notice-planned-outage", "notice-planned-outage-sample"),
    "construction": ("notice-construction",),
    "discoloured_water": ("notice-discoloured-water", "notice-discoloured-water-sample"),
    "other": ("notice-other",),
}
GENERIC_NOTICE_PROMPT = "outage-info-general"


def _any_prompt(_prompt_id: str) -> bool:
    return True


class StoreNotices:
    """`NoticeBoard` on the store's notices: one prompt per kind of notice in force.

    Every call asks for its area's notices; the notices change a few times a day. So the board
    keeps the notices that have not ended and reads them again at most every
    `NOTICES_REFRESH_S` (one query for all callers, not one per call); which of them are in
    force is decided per call at its own `now`, so a notice starts and ends on time.
    `has_prompt` says whether the prompt catalog has an id (the engine passes the live catalog).
    """

    def __init__(
        self,
        store: AccountStore,
        has_prompt: Callable[[str], bool] = _any_prompt,
        *,
        refresh_s: float = NOTICES_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._has_prompt = has_prompt
        self._refresh_s = refresh_s
        self._clock = clock
        self._notices: tuple[Notice, ...] = ()
        self._read_at: float | None = None
        self._reading = asyncio.Lock()

    def prompt_for(self, kind: str) -> str:
        for prompt_id in NOTICE_PROMPTS.get(kind, NOTICE_PROMPTS["other"]):
            if self._has_prompt(prompt_id):
                return prompt_id
        return GENERIC_NOTICE_PROMPT

    async def active_for(self, area: str, now: datetime) -> Sequence[str]:
        prompts: list[str] = []
        for notice in await self._not_ended(now):
            if notice.area_code != area or not notice.valid_from <= now < notice.valid_until:
                continue
            prompt_id = self.prompt_for(notice.kind)
            if prompt_id not in prompts:
                prompts.append(prompt_id)
        return prompts

    async def _not_ended(self, now: datetime) -> tuple[Notice, ...]:
        if self._fresh():
            return self._notices
        async with self._reading:
            # the calls that waited here while another read them use that read
            if not self._fresh():
                self._notices = await self._store.notices_not_ended(now)
                self._read_at = self._clock()
        return self._notices

    def _fresh(self) -> bool:
        return self._read_at is not None and self._clock() - self._read_at < self._refresh_s


# --- calendars ------------------------------------------------------------------------------


class UnknownCalendar(LookupError):
    """A flow asked for a calendar config.yaml does not define (the flow takes its error path)."""


class RoutingCalendar:
    """The flow's `Calendar` port over the named `routing.hours` calendars."""

    def __init__(self, calendars: Mapping[str, RoutingHours]) -> None:
        self._calendars = dict(calendars)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._calendars)

    async def state_at(self, name: str, now: datetime) -> HoursState:
        calendar = self._calendars.get(name)
        if calendar is None:
            raise UnknownCalendar(f"no calendar {name!r} in routing.calendars")
        return calendar.state_at(now)


# --- intake ---------------------------------------------------------------------------------

# flow field names that the intake service knows by another name
_RENAMED = {"name_recording": "recording", "leak_recording": "recording"}
_KEY_MAX = MAX_KEY_LENGTH


def _stored_key(key: str) -> str:
    if len(key) <= _KEY_MAX:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def intake_fields(kind: RequestKind, fields: Mapping[str, str]) -> dict[str, str]:
    """The flow's fields in the service's names.

    - blank values are left out (an unidentified caller's ``customer_number`` is ``""``);
    - ``caller_id`` becomes ``contact_phone`` when the kind takes one and none was keyed, and is
      dropped otherwise (a withheld or unusable caller id is dropped too: it is not an error the
      caller could fix);
    - ``name_recording`` / ``leak_recording`` become ``recording`` (a reference staff listen to).

    Any other name is passed through, so a flow field the service does not take is rejected as
    ``unknown_field`` rather than silently lost.
    """
    out: dict[str, str] = {}
    caller_id = ""
    for name, value in fields.items():
        if not value.strip():
            continue
        if name == "caller_id":
            caller_id = value
            continue
        out[_RENAMED.get(name, name)] = value
    if (
        caller_id
        and "contact_phone" in accepted_fields(kind)
        and "contact_phone" not in out
        and normalise_number(caller_id) is not None
    ):
        out["contact_phone"] = caller_id
    return out


class ServiceIntake:
    """`IntakeSink` on `IntakeService`: field names mapped, rejections as ``field:code``, and
    at most one request per key (the service keeps the key in the request's own transaction).
    """

    def __init__(
        self,
        service: IntakeService,
        call_id: str | CallIdSource | None = None,
    ) -> None:
        self._service = service
        self._call_id = _source(call_id)

    async def create(self, kind: str, fields: Mapping[str, str], key: str) -> IntakeOutcome:
        try:
            request_kind = RequestKind(kind)
        except ValueError:
            return IntakeOutcome(False, errors=("kind:unknown",))
        request = IntakeRequest(
            request_kind,
            IVR_ACTOR,
            IVR_ACTOR,
            intake_fields(request_kind, fields),
            self._call_id(),
            idempotency_key=_stored_key(key),
        )
        try:
            receipt = await self._service.submit(request)
        except IntakeRejected as rejected:
            errors = tuple(f"{name}:{code}" for name, code in sorted(rejected.errors.items()))
            return IntakeOutcome(False, errors=errors)
        return IntakeOutcome(True, confirmation=receipt.confirmation)


# --- call records ---------------------------------------------------------------------------


def _parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


class DbCallRecorder:
    """`CallRecorder` into the append-only contact trail (`calls` + `call_events`).

    Every trail entry is handed over as it happens, with its own time, and written in batches
    (`ivr.store.batching`): whatever all calls handed over in the last `interval_s` is one
    transaction, in order. So a killed engine loses at most the last batch of the trail, and
    reports see waits and answer times as they were. `write` (the session's end) adds the end
    and waits until it is committed. Keyed digits are not stored: they may be customer
    numbers, and the trail already says what the caller chose.
    """

    def __init__(self, call_log: CallLog, *, interval_s: float = RECORD_BATCH_S) -> None:
        self._log = call_log
        self._pending: list[TrailEntry] = []
        self._loop = BatchLoop(
            "call-records",
            self._write_batch,
            lambda: bool(self._pending),
            interval_s=interval_s,
            retry_s=RECORD_RETRY_S,
        )

    @property
    def batches(self) -> int:
        return self._loop.batches

    def start(self) -> None:
        self._loop.start()

    async def aclose(self) -> None:
        await self._loop.aclose()

    async def flush(self) -> bool:
        """Wait until every entry handed over so far is committed (False: not within the
        record wait; the entries stay pending)."""
        return await self._loop.stored(RECORD_WAIT_S)

    def _hand_over(self, entry: TrailEntry) -> None:
        self._pending.append(entry)
        self._loop.start()
        self._loop.poke()

    def opened(self, call_id: str, caller: str, at: datetime) -> None:
        self._hand_over(CallOpened(call_id, normalise_caller_id(caller), at))

    def event(self, call_id: str, kind: str, at: datetime, data: Mapping[str, str]) -> None:
        self._hand_over(TrailEvent(call_id, kind, at, data))

    def matched(self, call_id: str, customer_number: str, by: str, at: datetime) -> None:
        self._hand_over(AccountMatched(call_id, customer_number, by, at))

    async def write(self, record: CallRecord) -> None:
        now = datetime.now(UTC)
        self._hand_over(
            CallClosed(
                record.call_id,
                _parse_time(record.ended_at) or now,
                ended=record.outcome != "detached",
                reason_code=record.outcome or None,
                caller=normalise_caller_id(record.caller),
                started_at=_parse_time(record.started_at) or now,
            )
        )
        # the session bounds this wait (calls.record_write_timeout_s); the entries stay pending
        # and are written with a later batch if the database is slow
        await self._loop.stored(RECORD_WAIT_S)

    async def _write_batch(self) -> bool:
        batch, self._pending = self._pending, []
        try:
            await self._log.append_many(batch)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("call trail not written (%s); retrying", type(exc).__name__)
            self._pending = batch + self._pending
            return False
        return True
