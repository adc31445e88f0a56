"""The billing request model: round trip, the rows written before it had a version, hostile
payloads, and the published JSON Schema (`docs/billing-request.schema.json`)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import ValidationError

from ivr.cli import billing
from ivr.domain import RequestKind
from ivr.intake.payload import (
    BillingKind,
    BillingPremise,
    BillingRequestV1,
    billing_request_schema,
    billing_request_schema_json,
    describe_invalid,
    read_billing_request,
)
from ivr.intake.service import CHANNELS

pytestmark = pytest.mark.unit

SCHEMA_FILE = Path(__file__).parents[3] / "docs" / "billing-request.schema.json"
NOW = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)

# an outbox payload as `IntakeService` wrote it before `schema_version` existed
LEGACY: dict[str, Any] = {
    "request_id": 7,
    "kind": "transfer_stop",
    "confirmation": "40213385",
    "linked_request_id": 8,
    "channel": "agent",
    "created_at": "2026-03-02T01:30:00+00:00",
    "customer_number": "0000000018",
    "premise": {
        "id": 101,
        "address": "本町1-2-3",
        "postal_code": "100-0001",
        "meter_number": "M101",
    },
    "fields": {"customer_number": "0000000018", "stop_date": "2026-03-10", "premise_id": 101},
}


def a_request(**change: Any) -> BillingRequestV1:
    values: dict[str, Any] = {
        "request_id": 7,
        "kind": "start",
        "confirmation": "40213385",
        "linked_request_id": None,
        "channel": "ivr",
        "created_at": NOW,
        "customer_number": None,
        "premise": BillingPremise(
            id=201, address="新町4-5", postal_code="100-0002", meter_number="M201"
        ),
        "fields": {"start_date": "2026-03-05", "contact_phone": "+819012345678", "premise_id": 201},
    }
    return BillingRequestV1(**{**values, **change})


def test_round_trip_through_the_outbox_json() -> None:
    request = a_request()
    stored = json.dumps(request.to_json(), ensure_ascii=False)  # what the JSON column holds
    assert read_billing_request(stored) == request
    assert json.loads(stored)["schema_version"] == 1


def test_created_at_keeps_the_isoformat_the_payload_always_had() -> None:
    assert a_request().to_json()["created_at"] == "2026-03-02T01:30:00+00:00"
    jst = NOW.astimezone(timezone(timedelta(hours=9)))
    assert read_billing_request(json.dumps(a_request(created_at=jst).to_json())).created_at == NOW


def test_a_payload_without_schema_version_is_version_1() -> None:
    request = read_billing_request(json.dumps(LEGACY))
    assert request.schema_version == 1
    assert request.to_json() == {"schema_version": 1, **LEGACY}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"schema_version": 2}, "schema_version"),
        ({"kind": "transfer"}, "kind"),  # billing only ever sees the two halves of a move
        ({"channel": "fax"}, "channel"),
        ({"request_id": "seven"}, "request_id"),
        ({"confirmation": "1234"}, "confirmation"),
        ({"created_at": "2026-03-02T01:30:00"}, "created_at"),  # no zone: ambiguous
        ({"premise": {"id": 1}}, "premise.address"),
        ({"fields": {"stop_date": ["2026-03-10"]}}, "fields.stop_date"),
        ({"extra": 1}, "extra"),
    ],
)
def test_what_is_not_a_billing_request(change: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        read_billing_request(json.dumps({**LEGACY, **change}))
    assert f"{where}" in describe_invalid(info.value)


def test_a_missing_field_is_named() -> None:
    payload = {k: v for k, v in LEGACY.items() if k != "fields"}
    with pytest.raises(ValidationError) as info:
        read_billing_request(json.dumps(payload))
    assert describe_invalid(info.value) == "invalid billing request: fields: Field required"


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", "null", '"payload"', '{"kind": '])
def test_garbage_is_invalid_not_a_crash(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        read_billing_request(text)
    assert describe_invalid(info.value).startswith("invalid billing request: ")


def test_the_description_of_a_bad_payload_carries_none_of_its_values() -> None:
    hostile = {
        **LEGACY,
        "customer_number": "山田花子 090-1234-5678",
        "premise": {**LEGACY["premise"], "id": "本町1-2-3"},
        "fields": {"holder_name": ["山田 花子"]},
        "山田花子": "0935821234",
        "schema_version": "0935821234",
    }
    with pytest.raises(ValidationError) as info:
        read_billing_request(json.dumps(hostile, ensure_ascii=False))
    text = describe_invalid(info.value)
    for secret in ("山田", "花子", "090", "0935821234", "本町"):
        assert secret not in text
    assert "customer_number" in text
    assert "premise.id" in text
    assert "?: Extra inputs are not permitted" in text  # the unknown key is not repeated


def test_kinds_are_what_the_intake_writes() -> None:
    written = {str(k) for k in RequestKind if k is not RequestKind.TRANSFER}
    assert set(get_args(BillingKind)) == written | {"transfer_stop", "transfer_start"}


def test_the_service_takes_the_channels_the_schema_names() -> None:
    assert set(CHANNELS) == set(billing_request_schema()["properties"]["channel"]["enum"])


def test_the_schema_says_every_field_is_sent() -> None:
    schema = billing_request_schema()
    assert set(schema["required"]) == set(BillingRequestV1.model_fields)
    assert schema["properties"]["schema_version"]["const"] == 1
    assert schema["additionalProperties"] is False


def test_the_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == billing_request_schema_json(), (
        "regenerate: hotline billing schema -o docs/billing-request.schema.json"
    )


def test_hotline_billing_schema_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="hotline")
    billing.add_commands(parser.add_subparsers(dest="command"))
    out = tmp_path / "schema.json"
    args = parser.parse_args(["billing", "schema", "-o", str(out)])
    assert args.func(args) == 0
    assert out.read_text(encoding="utf-8") == billing_request_schema_json()
    args = parser.parse_args(["billing", "schema"])
    assert args.func(args) == 0
    assert json.loads(capsys.readouterr().out) == billing_request_schema()
