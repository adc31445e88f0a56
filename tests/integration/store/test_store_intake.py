from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Protocol

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import RequestKind
from ivr.errors import IntakeRejected
from ivr.intake.service import IntakeRequest, IntakeService
from ivr.numbers import parse_confirmation_number
from ivr.store.accounts import AccountStore, AuditContext
from ivr.store.tables import audit_log, billing_outbox, intake_keys, service_requests
from tests.integration.store.storedata import NOW, cust, seed

pytestmark = pytest.mark.integration

IVR = AuditContext("ivr", "test")


def weekdays(start: date, end: date, /) -> int:
    return sum(
        1
        for n in range(1, (end - start).days + 1)
        if date.fromordinal(start.toordinal() + n).weekday() < 5
    )


def service(engine: AsyncEngine) -> IntakeService:
    return IntakeService(engine, business_days=weekdays, clock=lambda: NOW)


def req(kind: RequestKind, channel: str = "ivr", /, **fields: object) -> IntakeRequest:
    return IntakeRequest(kind, channel, "ivr" if channel == "ivr" else f"{channel}:t", fields)


VALID: dict[RequestKind, dict[str, object]] = {
    RequestKind.START: {
        "premise_id": 201,
        "start_date": "2026-03-05",
        "contact_phone": "090-1234-5678",
        "holder_name": "山田 花子",
        "holder_kana": "ヤマダ ハナコ",
    },
    RequestKind.STOP: {"customer_number": cust(1), "stop_date": "2026-03-06"},
    RequestKind.BANK_DEBIT: {"customer_number": cust(1)},
    RequestKind.TRANSFER: {
        "customer_number": cust(1),
        "stop_date": "2026-03-10",
        "start_date": "2026-03-11",
        "new_premise_id": 202,
    },
    RequestKind.NAME_CHANGE: {
        "customer_number": cust(2),
        "holder_name": "佐藤 太郎",
        "holder_kana": "サトウ タロウ",
    },
    RequestKind.PHONE_CHANGE: {"customer_number": cust(2), "new_phone": "0935821299"},
    RequestKind.RECONNECTION: {"customer_number": cust(3), "paid_on": "2026-03-01"},
    RequestKind.LEAK: {"premise_id": 101, "description": "メーター付近から漏水"},
}


async def counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        n_req = (
            await conn.execute(sa.select(sa.func.count()).select_from(service_requests))
        ).scalar()
        n_out = (
            await conn.execute(sa.select(sa.func.count()).select_from(billing_outbox))
        ).scalar()
    return int(n_req or 0), int(n_out or 0)


@pytest.mark.parametrize("kind", list(RequestKind))
@pytest.mark.parametrize("channel", ["ivr", "agent", "web"])
async def test_every_kind_is_committed_with_its_outbox_row(
    engine: AsyncEngine, kind: RequestKind, channel: str
) -> None:
    await seed(engine)
    receipt = await service(engine).submit(req(kind, channel, **VALID[kind]))
    assert parse_confirmation_number(receipt.confirmation) == receipt.confirmation
    assert len(receipt.spoken) == 2
    rows = await service(engine).get(receipt.confirmation)
    assert [r.id for r in rows] == list(receipt.request_ids)
    assert all(r.channel == channel and r.status == "accepted" for r in rows)
    async with engine.connect() as conn:
        out = (await conn.execute(sa.select(billing_outbox))).mappings().all()
    assert sorted(o["request_id"] for o in out) == list(receipt.request_ids)
    assert all(
        o["state"] == "pending" and o["payload"]["confirmation"] == receipt.confirmation
        for o in out
    )


async def test_transfer_is_a_linked_pair(engine: AsyncEngine) -> None:
    await seed(engine)
    receipt = await service(engine).submit(req(RequestKind.TRANSFER, **VALID[RequestKind.TRANSFER]))
    stop, start = await service(engine).get(receipt.confirmation)
    assert (stop.kind, stop.premise_id, stop.linked_request_id) == ("transfer_stop", 101, start.id)
    assert (start.kind, start.premise_id, start.linked_request_id) == (
        "transfer_start",
        202,
        stop.id,
    )
    assert "start_date" not in stop.fields
    assert start.fields["start_date"] == "2026-03-11"


async def test_transfer_is_all_or_nothing(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(engine)
    # the second outbox row of the pair violates the unique key: the stop must vanish too
    fixed = uuid.UUID(int=42)
    monkeypatch.setattr("ivr.intake.service.uuid.uuid4", lambda: fixed)
    with pytest.raises(sa.exc.IntegrityError):
        await service(engine).submit(req(RequestKind.TRANSFER, **VALID[RequestKind.TRANSFER]))
    assert await counts(engine) == (0, 0)


@pytest.mark.parametrize(
    ("kind", "change", "errors"),
    [
        (RequestKind.STOP, {"customer_number": cust(77)}, {"customer_number": "unknown_account"}),
        (RequestKind.STOP, {"customer_number": cust(4)}, {"customer_number": "account_stopped"}),
        (RequestKind.STOP, {"customer_number": cust(5)}, {"premise_id": "required"}),
        (RequestKind.STOP, {"premise_id": 102}, {"premise_id": "not_account_premise"}),
        (RequestKind.START, {"premise_id": 999}, {"premise_id": "unknown_premise"}),
        (RequestKind.TRANSFER, {"new_premise_id": 999}, {"new_premise_id": "unknown_premise"}),
        (RequestKind.TRANSFER, {"new_premise_id": 101}, {"new_premise_id": "same_premise"}),
        (RequestKind.TRANSFER, {"start_date": "2026-03-09"}, {"start_date": "before_stop"}),
        (RequestKind.TRANSFER, {"stop_date": "2026-03-01"}, {"stop_date": "in_the_past"}),
        (
            RequestKind.RECONNECTION,
            {"customer_number": cust(1)},
            {"customer_number": "not_shut_off"},
        ),
        (RequestKind.LEAK, {"premise_id": 999}, {"premise_id": "unknown_premise"}),
        (RequestKind.NAME_CHANGE, {"holder_kana": "abc"}, {"holder_kana": "invalid_kana"}),
        # what PostgreSQL's jsonb and text refuse, and an id past BIGINT: field errors, not
        # database errors
        (
            RequestKind.NAME_CHANGE,
            {"holder_name": "佐藤\x00太郎"},
            {"holder_name": "invalid_characters"},
        ),
        (
            RequestKind.LEAK,
            {"description": "水漏れ\udc80"},
            {"description": "invalid_characters"},
        ),
        (RequestKind.START, {"premise_id": 2**63}, {"premise_id": "invalid"}),
        (RequestKind.START, {"holder_name": {"a": "b"}}, {"holder_name": "invalid"}),
    ],
)
async def test_rejections_write_nothing_but_the_audit(
    engine: AsyncEngine,
    store: AccountStore,
    kind: RequestKind,
    change: dict[str, object],
    errors: dict[str, str],
) -> None:
    await seed(engine)
    with pytest.raises(IntakeRejected) as info:
        await service(engine).submit(req(kind, **{**VALID[kind], **change}))
    assert info.value.errors == errors
    assert await counts(engine) == (0, 0)
    trail = await store.audit_trail()
    pure_check_failed = set(errors.values()) & {
        "before_stop",
        "in_the_past",
        "invalid_kana",
        "invalid_characters",
        "invalid",
    }
    if "customer_number" in VALID[kind] and not pure_check_failed:
        assert [a.reason for a in trail] == [f"intake:{kind}"]
    else:
        assert trail == []  # rejected before any account was looked up


async def test_stop_for_an_account_with_two_premises_names_one(engine: AsyncEngine) -> None:
    await seed(engine)
    fields = {**VALID[RequestKind.STOP], "customer_number": cust(5), "premise_id": "106"}
    receipt = await service(engine).submit(req(RequestKind.STOP, "agent", **fields))
    (row,) = await service(engine).get(receipt.confirmation)
    assert row.premise_id == 106


async def test_unknown_channel_is_rejected(engine: AsyncEngine) -> None:
    with pytest.raises(IntakeRejected) as info:
        await service(engine).submit(req(RequestKind.LEAK, "fax", address="x"))
    assert info.value.errors == {"channel": "invalid"}


async def test_intake_lookups_are_audited(engine: AsyncEngine) -> None:
    await seed(engine)
    await service(engine).submit(req(RequestKind.STOP, **VALID[RequestKind.STOP]))
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(audit_log))).mappings().all()
    assert [(r["account_id"], r["reason"]) for r in rows] == [(1, "intake:stop")]


def keyed(kind: RequestKind, key: str, **fields: object) -> IntakeRequest:
    return IntakeRequest(kind, "web", "web:t", {**VALID[kind], **fields}, idempotency_key=key)


async def test_a_retried_key_gets_the_first_receipt_and_writes_nothing(
    engine: AsyncEngine,
) -> None:
    await seed(engine)
    intake = service(engine)
    first = await intake.submit(keyed(RequestKind.TRANSFER, "form-1"))
    # a double-clicked form: the second submission carries the same key
    again = await intake.submit(keyed(RequestKind.TRANSFER, "form-1"))
    assert again == first
    assert again.kind is RequestKind.TRANSFER
    assert len(again.request_ids) == 2
    assert await counts(engine) == (2, 2)
    other = await intake.submit(keyed(RequestKind.LEAK, "form-2"))
    assert other.confirmation != first.confirmation
    assert await counts(engine) == (3, 3)


async def test_a_retry_after_its_date_has_passed_still_gets_the_first_receipt(
    engine: AsyncEngine,
) -> None:
    await seed(engine)
    first = await service(engine).submit(keyed(RequestKind.STOP, "form-late"))
    week_later = IntakeService(engine, business_days=weekdays, clock=lambda: NOW + timedelta(7))
    assert await week_later.submit(keyed(RequestKind.STOP, "form-late")) == first
    assert await counts(engine) == (1, 1)


async def test_concurrent_submissions_of_one_key_make_one_request(engine: AsyncEngine) -> None:
    await seed(engine)
    intake = service(engine)
    receipts = await asyncio.gather(
        *(intake.submit(keyed(RequestKind.STOP, "ivr-call-7:stop")) for _ in range(4))
    )
    assert len({r.confirmation for r in receipts}) == 1
    assert await counts(engine) == (1, 1)


async def test_a_key_reused_for_another_request_is_a_conflict_and_writes_nothing(
    engine: AsyncEngine,
) -> None:
    await seed(engine)
    intake = service(engine)
    first = await intake.submit(keyed(RequestKind.LEAK, "form-9"))
    for other in (
        keyed(RequestKind.BANK_DEBIT, "form-9"),
        keyed(RequestKind.LEAK, "form-9", description="別の場所で漏水"),
        # invalid as well: still a conflict, not the first receipt
        keyed(RequestKind.STOP, "form-9", stop_date="2026-02-01"),
    ):
        with pytest.raises(IntakeRejected) as info:
            await intake.submit(other)
        assert info.value.errors == {"idempotency_key": "conflict"}
    assert await counts(engine) == (1, 1)
    # the genuine retry still gets its receipt
    assert await intake.submit(keyed(RequestKind.LEAK, "form-9")) == first


async def test_a_key_kept_before_digests_were_kept_is_not_compared(engine: AsyncEngine) -> None:
    await seed(engine)
    intake = service(engine)
    first = await intake.submit(keyed(RequestKind.LEAK, "form-old"))
    async with engine.begin() as conn:
        await conn.execute(sa.update(intake_keys).values(digest=None))
    assert await intake.submit(keyed(RequestKind.BANK_DEBIT, "form-old")) == first


async def test_a_rejected_submission_leaves_its_key_free(engine: AsyncEngine) -> None:
    await seed(engine)
    intake = service(engine)
    with pytest.raises(IntakeRejected) as info:
        await intake.submit(keyed(RequestKind.STOP, "form-3", stop_date="2026-02-01"))
    assert info.value.errors == {"stop_date": "in_the_past"}
    fixed = await intake.submit(keyed(RequestKind.STOP, "form-3"))
    assert (await intake.get(fixed.confirmation))[0].kind == "stop"


@pytest.mark.parametrize("key", ["", "k" * 101])
async def test_an_unusable_key_is_rejected(engine: AsyncEngine, key: str) -> None:
    with pytest.raises(IntakeRejected) as info:
        await service(engine).submit(keyed(RequestKind.LEAK, key))
    assert info.value.errors == {"idempotency_key": "invalid"}
    assert await counts(engine) == (0, 0)


async def test_a_phone_change_moves_the_caller_id_match(
    engine: AsyncEngine, store: AccountStore
) -> None:
    await seed(engine)
    # account 2 shares 093-555-0000 with account 3 and gives it up for a new landline
    await service(engine).submit(
        req(
            RequestKind.PHONE_CHANGE,
            "agent",
            customer_number=cust(2),
            new_phone="093-582-1299",
            old_phone="0935550000",
        )
    )
    new = await store.match_caller("0935821299", IVR)
    assert [a.id for a in new.accounts] == [2]
    old = await store.match_caller("0935550000", IVR)
    assert [a.id for a in old.accounts] == [3]
    assert new.account is not None
    assert new.account.phones == ("+819012345678", "+81935821299")
    trail = await store.audit_trail()
    assert ("update_phones", 2) in [(a.action, a.account_id) for a in trail]


@pytest.mark.parametrize(
    ("effective", "holder"),
    [(None, "佐藤 太郎"), ("2026-03-02", "佐藤 太郎"), ("2026-04-01", "試験 2")],
)
async def test_a_name_change_in_force_renames_the_holder(
    engine: AsyncEngine, store: AccountStore, effective: str | None, holder: str
) -> None:
    await seed(engine)
    fields = dict(VALID[RequestKind.NAME_CHANGE])
    if effective is not None:
        fields["effective_date"] = effective
    await service(engine).submit(req(RequestKind.NAME_CHANGE, "agent", **fields))
    account = await store.by_customer_number(cust(2), IVR)
    assert account is not None
    assert account.holder_name == holder


class RequestOf(Protocol):
    """`_move` or `_start`: a request of one kind from the fields a test gives."""

    def __call__(self, **fields: object) -> IntakeRequest: ...


def _move(**fields: object) -> IntakeRequest:
    base = {k: v for k, v in VALID[RequestKind.TRANSFER].items() if k != "new_premise_id"}
    return req(RequestKind.TRANSFER, **{**base, **fields})


async def test_a_move_names_the_new_home_by_its_meter_number(engine: AsyncEngine) -> None:
    await seed(engine)
    receipt = await service(engine).submit(_move(new_meter_number="M000000202"))
    stop, start = await service(engine).get(receipt.confirmation)
    assert (stop.kind, stop.premise_id) == ("transfer_stop", 101)
    assert (start.kind, start.premise_id) == ("transfer_start", 202)


def _start(**fields: object) -> IntakeRequest:
    base = {
        k: v
        for k, v in VALID[RequestKind.START].items()
        if k not in ("premise_id", "holder_name", "holder_kana")
    }
    return req(RequestKind.START, **{**base, **fields})


async def test_a_new_resident_starts_by_meter_number_and_a_spoken_name(
    engine: AsyncEngine,
) -> None:
    await seed(engine)
    receipt = await service(engine).submit(
        _start(meter_number="M000000201", recording="rec-hotline-1")
    )
    (row,) = await service(engine).get(receipt.confirmation)
    assert (row.kind, row.premise_id, row.account_id) == ("start", 201, None)
    assert row.fields["recording"] == "rec-hotline-1"


@pytest.mark.parametrize(
    ("request_of", "fields", "errors"),
    [
        (_move, {"new_meter_number": "M000000999"}, {"new_meter_number": "unknown_meter"}),
        (_move, {"new_meter_number": "M000000101"}, {"new_meter_number": "same_premise"}),
        (_move, {"new_meter_number": "12"}, {"new_meter_number": "invalid"}),
        (_move, {}, {"new_premise_id": "required"}),
        (
            _start,
            {"meter_number": "M000000999", "recording": "r1"},
            {"meter_number": "unknown_meter"},
        ),
        (_start, {"recording": "r1"}, {"premise_id": "required"}),
        (
            _start,
            {"meter_number": "M000000201"},
            {"holder_name": "required", "holder_kana": "required"},
        ),
    ],
)
async def test_a_start_or_move_without_a_known_home_or_a_name_is_rejected(
    engine: AsyncEngine,
    request_of: RequestOf,
    fields: dict[str, object],
    errors: dict[str, str],
) -> None:
    await seed(engine)
    with pytest.raises(IntakeRejected) as info:
        await service(engine).submit(request_of(**fields))
    assert info.value.errors == errors
    assert await counts(engine) == (0, 0)
