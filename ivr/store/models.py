"""Plain frozen records the repositories return: no session, no lazy loading, safe to share."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ivr.callerid import CallerId


@dataclass(frozen=True, slots=True)
class Premise:
    id: int
    account_id: int | None
    address: str
    postal_code: str
    area_code: str
    meter_number: str


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    customer_number: str
    holder_name: str
    holder_kana: str
    status: str
    balance_yen: int
    overdue_since: date | None
    payment_method: str
    premises: tuple[Premise, ...] = ()
    phones: tuple[str, ...] = ()

    @property
    def is_shut_off(self) -> bool:
        return self.status == "shut_off"

    @property
    def is_overdue(self) -> bool:
        return self.overdue_since is not None


class MatchKind(enum.StrEnum):
    ONE = "one"
    SEVERAL = "several"
    NONE = "none"
    """A usable number (or a malformed one) that no account lists."""
    WITHHELD = "withheld"
    """No number to look up: withheld, unavailable, payphone or empty (see `CallerMatch.caller`)."""


@dataclass(frozen=True, slots=True)
class CallerMatch:
    kind: MatchKind
    caller: CallerId
    accounts: tuple[Account, ...] = ()

    @property
    def account(self) -> Account | None:
        """The account when exactly one matched."""
        return self.accounts[0] if self.kind is MatchKind.ONE else None


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    area_code: str
    kind: str
    text_ja: str
    text_en: str
    valid_from: datetime
    valid_until: datetime


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    id: int
    kind: str
    status: str
    account_id: int | None
    premise_id: int | None
    fields: Mapping[str, Any]
    confirmation: str | None
    linked_request_id: int | None
    channel: str
    actor: str
    call_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    request_id: int
    idempotency_key: str
    payload: Mapping[str, Any]
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    account_id: int | None
    action: str
    reason: str
    call_id: str | None
