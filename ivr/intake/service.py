"""The one intake service: the IVR, the agent console and the web form all submit through here.

`submit` validates (pure checks first, then the account / premise checks inside the transaction),
writes the service request row(s) and their billing outbox rows in ONE transaction, commits, and
only then returns the confirmation number the caller hears. A transfer (in-city move) writes a
stop at the old premise and a start at the new one, linked to each other, under one confirmation
number: both rows or neither.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, get_args

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ivr.domain import TOKYO, Channel, RequestKind
from ivr.errors import IntakeRejected
from ivr.intake.payload import BillingPremise, BillingRequestV1
from ivr.intake.validation import (
    BusinessDays,
    CleanFields,
    IntakeRules,
    jp_business_days_between,
    validate_fields,
)
from ivr.numbers import confirmation_number, speakable
from ivr.store.accounts import (
    AuditContext,
    account_by_number_in,
    premise_by_meter_in,
    premise_in,
    write_audit_in,
)
from ivr.store.models import Account, Premise, ServiceRequest
from ivr.store.tables import accounts, billing_outbox, intake_keys, phones, service_requests

CHANNELS: tuple[str, ...] = get_args(Channel)
MAX_KEY_LENGTH = 100  # intake_keys.key


@dataclass(frozen=True, slots=True)
class IntakeRequest:
    """What a channel collected. `actor` is ``ivr``, ``agent:<login>`` or ``web:<client>``."""

    kind: RequestKind
    channel: str
    actor: str
    fields: Mapping[str, object]
    call_id: str | None = None
    idempotency_key: str | None = None
    """The channel's name for this submission: a key seen before returns that request's receipt
    and writes nothing (a retried IVR step, a double-clicked web form). Up to 100 characters."""


@dataclass(frozen=True, slots=True)
class IntakeReceipt:
    """The committed result: read `confirmation` back to the caller (`spoken` groups)."""

    kind: RequestKind
    confirmation: str
    request_ids: tuple[int, ...]

    @property
    def spoken(self) -> tuple[str, ...]:
        return speakable(self.confirmation)


class _Rejected(Exception):
    def __init__(self, errors: dict[str, str], account_id: int | None) -> None:
        super().__init__(errors)
        self.errors = errors
        self.account_id = account_id


def _utcnow() -> datetime:
    return datetime.now(UTC)


class IntakeService:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        business_days: BusinessDays = jp_business_days_between,
        rules: IntakeRules | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._engine = engine
        self._business_days = business_days
        self._rules = rules or IntakeRules()
        self._clock = clock

    def today(self) -> date:
        return self._clock().astimezone(TOKYO).date()

    def check(self, kind: RequestKind, fields: Mapping[str, object]) -> dict[str, str]:
        """The pure checks only (for a web form's live validation); {} when they pass."""
        _, errors = validate_fields(kind, fields, self.today(), self._business_days, self._rules)
        return errors

    async def submit(self, request: IntakeRequest) -> IntakeReceipt:
        """Validate and commit; raises `IntakeRejected` with per-field codes, writing nothing."""
        errors: dict[str, str] = {}
        key = request.idempotency_key
        if key is not None and (not key or len(key) > MAX_KEY_LENGTH):
            raise IntakeRejected({"idempotency_key": "invalid"})
        if request.channel not in CHANNELS:
            errors["channel"] = "invalid"
        clean, field_errors = validate_fields(
            request.kind, request.fields, self.today(), self._business_days, self._rules
        )
        errors.update(field_errors)
        if errors or clean is None:
            # a retry gets its receipt even if its fields no longer pass (the day has turned);
            # a valid one finds its key inside `_write`, in the request's transaction
            earlier = None if key is None else await self.receipt_for_key(key, request)
            if earlier is not None:
                return earlier
            raise IntakeRejected(errors)
        now = self._clock()
        try:
            async with self._engine.begin() as conn:
                return await self._write(conn, request, clean, now)
        except IntegrityError:
            # the same key committed by a concurrent submission (PostgreSQL; SQLite writers are
            # serialised and find the key inside `_write`): that one is the request
            earlier = None if key is None else await self.receipt_for_key(key, request)
            if earlier is None:
                raise
            return earlier
        except _Rejected as rejected:
            # the look-up happened even though nothing is written: keep its audit row
            if clean.customer_number is not None:
                async with self._engine.begin() as conn:
                    await write_audit_in(
                        conn,
                        AuditContext(request.actor, f"intake:{request.kind}", request.call_id),
                        "lookup_number",
                        [rejected.account_id],
                    )
            raise IntakeRejected(rejected.errors) from None

    async def _write(
        self, conn: AsyncConnection, request: IntakeRequest, clean: CleanFields, now: datetime
    ) -> IntakeReceipt:
        if request.idempotency_key is not None:
            earlier = await _receipt_for_key_in(conn, request.idempotency_key, request)
            if earlier is not None:
                return earlier
        target = await _target_in(conn, request, clean)
        rows = _rows_of(request.kind, target, clean)
        account_id = target.account.id if target.account else None
        ids: tuple[int, ...] = ()
        for row in rows:
            premise_id = row.premise.id if row.premise else None
            rid = await self._insert(
                conn, request, row.kind, account_id, premise_id, dict(row.fields), now
            )
            ids += (rid,)
        confirmation = confirmation_number(ids[0])
        linked = _links(ids)
        for rid, other in zip(ids, linked, strict=True):
            await conn.execute(
                sa.update(service_requests)
                .where(service_requests.c.id == rid)
                .values(confirmation=confirmation, linked_request_id=other)
            )
        outbox_rows = [
            _outbox_row(
                BillingRequestV1(
                    request_id=rid,
                    kind=row.kind,
                    confirmation=confirmation,
                    linked_request_id=other,
                    channel=request.channel,
                    created_at=now,
                    customer_number=target.account.customer_number if target.account else None,
                    premise=_billing_premise(row.premise),
                    fields=dict(row.fields),
                ),
                now,
            )
            for rid, other, row in zip(ids, linked, rows, strict=True)
        ]
        await conn.execute(sa.insert(billing_outbox), outbox_rows)
        if target.account is not None:
            await _apply_to_account(conn, request, clean, target.account, self.today(), now)
        if request.idempotency_key is not None:
            # in the request's own transaction: no crash can leave a request without its key
            await conn.execute(
                sa.insert(intake_keys).values(
                    key=request.idempotency_key,
                    request_id=ids[0],
                    created_at=now,
                    digest=request_digest(request),
                )
            )
        return IntakeReceipt(request.kind, confirmation, ids)

    async def _insert(
        self,
        conn: AsyncConnection,
        request: IntakeRequest,
        kind: str,
        account_id: int | None,
        premise_id: int | None,
        fields: dict[str, Any],
        now: datetime,
    ) -> int:
        result = await conn.execute(
            sa.insert(service_requests)
            .values(
                kind=kind,
                status="accepted",
                account_id=account_id,
                premise_id=premise_id,
                fields=fields,
                channel=request.channel,
                actor=request.actor[:100],
                call_id=request.call_id,
                created_at=now,
            )
            .returning(service_requests.c.id)
        )
        return int(result.scalar_one())

    async def receipt_for_key(
        self, key: str, request: IntakeRequest | None = None
    ) -> IntakeReceipt | None:
        """The receipt of the request submitted with idempotency key `key`, if any; with
        `request`, `IntakeRejected` (idempotency_key: conflict) if the key was first used
        for a different request."""
        async with self._engine.connect() as conn:
            return await _receipt_for_key_in(conn, key, request)

    async def get(self, confirmation: str) -> tuple[ServiceRequest, ...]:
        """The request row(s) behind a confirmation number (two for a transfer)."""
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    sa.select(service_requests)
                    .where(service_requests.c.confirmation == confirmation)
                    .order_by(service_requests.c.id)
                )
            ).mappings()
            return tuple(ServiceRequest(**dict(r)) for r in rows)


@dataclass(frozen=True, slots=True)
class _Target:
    """What a request is about, as the database has it."""

    account: Account | None
    premise: Premise | None
    new_premise: Premise | None
    """A move's destination."""


@dataclass(frozen=True, slots=True)
class _Row:
    """One service request row to write (a move writes two)."""

    kind: str
    premise: Premise | None
    fields: Mapping[str, Any]


async def _target_in(conn: AsyncConnection, request: IntakeRequest, clean: CleanFields) -> _Target:
    """The account and premise(s) a request names, checked against each other; `_Rejected` with
    every problem found (the account look-up is audited either way)."""
    errors: dict[str, str] = {}
    account = await _account_in(conn, request, clean, errors)
    premise, _ = await _named_premise(conn, clean, "premise_id", "meter_number", errors)
    if account is not None:
        premise = _check_account(request.kind, account, premise, errors)
    new_premise, new_field = await _named_premise(
        conn, clean, "new_premise_id", "new_meter_number", errors
    )
    if new_premise is not None and premise is not None and new_premise.id == premise.id:
        errors[new_field] = "same_premise"
    if errors:
        raise _Rejected(errors, account.id if account else None)
    return _Target(account, premise, new_premise)


async def _account_in(
    conn: AsyncConnection, request: IntakeRequest, clean: CleanFields, errors: dict[str, str]
) -> Account | None:
    if clean.customer_number is None:
        return None
    ctx = AuditContext(request.actor, f"intake:{request.kind}", request.call_id)
    account = await account_by_number_in(conn, clean.customer_number, ctx)
    if account is None:
        errors["customer_number"] = "unknown_account"
    return account


def _check_account(
    kind: RequestKind, account: Account, premise: Premise | None, errors: dict[str, str]
) -> Premise | None:
    """Whether `account` can have a `kind` request (at `premise`); returns the premise, which
    for a stop or a move is the account's only one when none was named."""
    if kind in (RequestKind.STOP, RequestKind.TRANSFER):
        premise = _premise_to_leave(account, premise, errors)
    if kind is RequestKind.RECONNECTION and account.status != "shut_off":
        errors["customer_number"] = "not_shut_off"
    return premise


def _premise_to_leave(
    account: Account, premise: Premise | None, errors: dict[str, str]
) -> Premise | None:
    if account.status == "stopped":
        errors["customer_number"] = "account_stopped"
    elif premise is None and "premise_id" not in errors:
        if len(account.premises) == 1:
            return account.premises[0]
        if not account.premises:
            errors["customer_number"] = "no_premise"
        else:
            errors["premise_id"] = "required"
    elif premise is not None and premise.account_id != account.id:
        errors["premise_id"] = "not_account_premise"
    return premise


def _rows_of(kind: RequestKind, target: _Target, clean: CleanFields) -> tuple[_Row, ...]:
    """The rows a request writes: a move is a stop at the old premise and a start at the new
    one, each without the other's date."""
    if kind is not RequestKind.TRANSFER:
        return (_Row(str(kind), target.premise, clean.values),)
    if target.premise is None or target.new_premise is None:  # checked; narrows the types
        raise IntakeRejected({"new_premise_id": "unknown_premise"})
    stop_fields = {k: v for k, v in clean.values.items() if k != "start_date"}
    start_fields = {k: v for k, v in clean.values.items() if k != "stop_date"}
    return (
        _Row("transfer_stop", target.premise, stop_fields),
        _Row("transfer_start", target.new_premise, start_fields),
    )


def _links(ids: tuple[int, ...]) -> tuple[int | None, ...]:
    """Each row's linked row: the two halves of a move point at each other."""
    if len(ids) == 2:
        return (ids[1], ids[0])
    return (None,) * len(ids)


def _outbox_row(request: BillingRequestV1, now: datetime) -> dict[str, Any]:
    return {
        "request_id": request.request_id,
        "idempotency_key": f"suido-{uuid.uuid4()}",
        "payload": request.to_json(),
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def _named_premise(
    conn: AsyncConnection,
    clean: CleanFields,
    id_field: str,
    meter_field: str,
    errors: dict[str, str],
) -> tuple[Premise | None, str]:
    """The premise a request names by id or by meter number, and the field that named it; one
    that does not exist is an error on that field."""
    premise_id = clean.ids.get(id_field)
    meter = clean.values.get(meter_field)
    if premise_id is not None:
        premise = await premise_in(conn, premise_id)
        if premise is None:
            errors[id_field] = "unknown_premise"
        return premise, id_field
    if meter is not None:
        premise = await premise_by_meter_in(conn, meter)
        if premise is None:
            errors[meter_field] = "unknown_meter"
        return premise, meter_field
    return None, id_field


def _phone_label(e164: str) -> str:
    return "mobile" if e164[:5] in ("+8170", "+8180", "+8190") else "home"


async def _apply_to_account(
    conn: AsyncConnection,
    request: IntakeRequest,
    clean: CleanFields,
    account: Account,
    today: date,
    now: datetime,
) -> None:
    """Changes our own copy of the account too, in the request's transaction: the caller's next
    call is matched by the new number; the agent's screen shows the new holder.

    A name change with a later effective date, or one given only as a recording, is left to the
    billing side (which takes it from the outbox); the account here keeps the current holder.
    """
    kind = request.kind
    ctx = AuditContext(request.actor, f"intake:{kind}", request.call_id)
    if kind is RequestKind.PHONE_CHANGE:
        new = clean.values["new_phone"]
        old = clean.values.get("old_phone")
        if new not in account.phones:
            await conn.execute(
                sa.insert(phones).values(account_id=account.id, e164=new, label=_phone_label(new))
            )
        if old is not None and old != new:
            await conn.execute(
                sa.delete(phones).where(phones.c.account_id == account.id, phones.c.e164 == old)
            )
        await write_audit_in(conn, ctx, "update_phones", [account.id], now)
    elif kind is RequestKind.NAME_CHANGE:
        name = clean.values.get("holder_name")
        kana = clean.values.get("holder_kana")
        effective = clean.dates.get("effective_date")
        if name is None or kana is None or (effective is not None and effective > today):
            return
        await conn.execute(
            sa.update(accounts)
            .where(accounts.c.id == account.id)
            .values(holder_name=name, holder_kana=kana)
        )
        await write_audit_in(conn, ctx, "update_holder", [account.id], now)


def request_digest(request: IntakeRequest) -> str:
    """What a submission asked for, as a digest: its kind, channel and fields exactly as sent
    (a retry sends the same again; anything else under the same key is another request)."""
    content = json.dumps(
        [
            str(request.kind),
            request.channel,
            {k: request.fields[k] for k in sorted(request.fields)},
        ],
        ensure_ascii=False,
        default=repr,
    )
    return hashlib.sha256(content.encode("utf-8", "surrogatepass")).hexdigest()


async def _receipt_for_key_in(
    conn: AsyncConnection, key: str, request: IntakeRequest | None = None
) -> IntakeReceipt | None:
    found = (
        await conn.execute(
            sa.select(service_requests.c.confirmation, intake_keys.c.digest)
            .join(intake_keys, intake_keys.c.request_id == service_requests.c.id)
            .where(intake_keys.c.key == key)
        )
    ).one_or_none()
    if found is None:
        return None
    first, digest = found
    if request is not None and digest is not None and digest != request_digest(request):
        # the same key with other content: returning the first receipt would drop this request
        # without a word (a bank-debit sign-up got a leak report's receipt)
        raise IntakeRejected({"idempotency_key": "conflict"})
    rows = (
        await conn.execute(
            sa.select(service_requests.c.id, service_requests.c.kind)
            .where(service_requests.c.confirmation == first)
            .order_by(service_requests.c.id)
        )
    ).all()
    stored = rows[0].kind
    kind = RequestKind.TRANSFER if stored.startswith("transfer_") else RequestKind(stored)
    return IntakeReceipt(kind, first, tuple(r.id for r in rows))


def _billing_premise(premise: Premise | None) -> BillingPremise | None:
    if premise is None:
        return None
    return BillingPremise(
        id=premise.id,
        address=premise.address,
        postal_code=premise.postal_code,
        meter_number=premise.meter_number,
    )
