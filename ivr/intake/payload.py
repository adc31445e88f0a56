"""The billing request: what the outbox carries and billing receives, one versioned contract.

`IntakeService` builds a `BillingRequestV1` for each request row and stores its JSON in the row's
billing outbox entry; the dispatcher reads it back with `read_billing_request` before every
delivery, so a row that is not a billing request (hand-edited, written by a newer engine) is
dead-lettered instead of reaching billing. Rows written before the payload carried
``schema_version`` are version 1. The JSON Schema is published as `docs/billing-request.schema.json`
(`hotline billing schema`).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
)

from ivr.domain import Channel, StoredKind
from ivr.numbers import CONFIRMATION_DIGITS, CUSTOMER_NUMBER_DIGITS

SCHEMA_ID = "https://suido-hotline.example/schemas/billing-request.json"

# billing's vocabulary is the stored one (ivr.domain): one definition for the table, the model
# and its JSON Schema
BillingKind = StoredKind

Confirmation = Annotated[str, Field(pattern=f"^[0-9]{{{CONFIRMATION_DIGITS}}}$")]
CustomerNumber = Annotated[str, Field(pattern=f"^[0-9]{{{CUSTOMER_NUMBER_DIGITS}}}$")]
# `isoformat()`, as the payload has always carried it (pydantic would write UTC as ``Z``)
Timestamp = Annotated[
    AwareDatetime,
    PlainSerializer(datetime.isoformat, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class BillingPremise(BaseModel):
    """The premise a request is about, as our records have it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    address: str
    postal_code: str
    meter_number: str


class BillingRequestV1(BaseModel):
    """One accepted service request, as handed to billing (idempotent by the delivery's key)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="Suido Hotline billing request",
        json_schema_serialization_defaults_required=True,
    )

    schema_version: Literal[1] = 1
    """Missing in rows written before the payload was versioned: those are version 1."""
    request_id: int = Field(gt=0)
    kind: BillingKind
    confirmation: Confirmation
    linked_request_id: int | None = Field(gt=0)
    """The other half of an in-city move (stop ↔ start); null otherwise."""
    channel: Channel
    created_at: Timestamp
    customer_number: CustomerNumber | None
    """Null for a request made without an account (a start by a new customer, a leak)."""
    premise: BillingPremise | None
    fields: dict[str, str | int]
    """The validated intake fields (dates ISO, phones E.164), as `ivr.intake.validation` names
    them; a move's stop has no ``start_date``, its start no ``stop_date``."""

    def to_json(self) -> dict[str, Any]:
        """The JSON object stored in the outbox row and sent to billing."""
        return self.model_dump(mode="json")


def read_billing_request(text: str | bytes) -> BillingRequestV1:
    """An outbox row's payload (its JSON text) as a billing request; `ValidationError` if it is
    not one (not JSON, fields missing or of the wrong type, an unknown ``schema_version``)."""
    return BillingRequestV1.model_validate_json(text)


# names of the model's own fields; any other part of an error's location is the payload's data
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def describe_invalid(exc: ValidationError) -> str:
    """What is wrong with a payload, without its values: locations and pydantic's messages only
    (``premise.id: Input should be a valid integer``), fit for a log line or `last_error`."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(
            str(part) if isinstance(part, int) or _NAME.fullmatch(part) else "?"
            for part in error["loc"]
        )
        problems.append(f"{where}: {error['msg']}" if where else error["msg"])
    return "invalid billing request: " + "; ".join(problems)


def billing_request_schema() -> dict[str, Any]:
    """The JSON Schema of what billing receives (`hotline billing schema`)."""
    schema = BillingRequestV1.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def billing_request_schema_json() -> str:
    return json.dumps(billing_request_schema(), indent=2, ensure_ascii=False) + "\n"
