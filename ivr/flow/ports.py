"""Ports the flow needs from the rest of the engine, with small in-memory fakes for the simulator.

The real services (`ivr.store` accounts and notices, `routing.hours` calendars, `ivr.intake`)
implement these Protocols; mypy checks the fakes against the same Protocols.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from ivr.callerid import normalise_number
from ivr.domain import HoursState


@dataclass(frozen=True)
class AccountSummary:
    """What the flow may know about an account (no names: they are not read out)."""

    customer_number: str
    area: str
    status: Literal["active", "stopped", "shut_off"] = "active"
    balance_yen: int = 0
    payment: Literal["bank_debit", "slip", "card"] = "slip"

    def variables(self) -> dict[str, str]:
        return {
            "account_number": self.customer_number,
            "account_area": self.area,
            "account_status": self.status,
            "account_balance": str(self.balance_yen),
            "account_payment": self.payment,
        }


@dataclass(frozen=True)
class IntakeOutcome:
    ok: bool
    confirmation: str | None = None
    errors: tuple[str, ...] = ()


class AccountDirectory(Protocol):
    async def lookup_by_phone(
        self, phone: str, *, call_id: str | None = None
    ) -> Sequence[AccountSummary]: ...

    async def lookup_by_customer_number(
        self, number: str, *, call_id: str | None = None
    ) -> AccountSummary | None: ...


class Calendar(Protocol):
    async def state_at(self, name: str, now: datetime) -> HoursState: ...


class NoticeBoard(Protocol):
    async def active_for(self, area: str, now: datetime) -> Sequence[str]:
        """Prompt ids of the notices in force for `area` at `now`."""
        ...


class IntakeSink(Protocol):
    async def create(
        self, kind: str, fields: Mapping[str, str], key: str, *, call_id: str | None = None
    ) -> IntakeOutcome:
        """Create (idempotently on `key`) an intake; committed before the outcome is returned."""
        ...


# --- fakes ----------------------------------------------------------------------------------


@dataclass
class FakeAccounts:
    accounts: list[AccountSummary] = field(default_factory=list)
    phones: dict[str, list[str]] = field(default_factory=dict)
    """Phone number in any form the real store accepts (national, E.164, hyphens) ->
    customer numbers; matched as the store matches them, by their E.164 form."""

    async def lookup_by_phone(
        self, phone: str, *, call_id: str | None = None
    ) -> Sequence[AccountSummary]:
        wanted = normalise_number(phone)
        numbers = [
            n for key, ns in self.phones.items() if normalise_number(key) == wanted for n in ns
        ]
        return [a for a in self.accounts if wanted is not None and a.customer_number in numbers]

    async def lookup_by_customer_number(
        self, number: str, *, call_id: str | None = None
    ) -> AccountSummary | None:
        return next((a for a in self.accounts if a.customer_number == number), None)


@dataclass
class FakeCalendar:
    """Every calendar answers `rule(name, now)`; by default phone hours Mon-Sat 08:30-19:00."""

    rule: Callable[[str, datetime], HoursState] | None = None

    async def state_at(self, name: str, now: datetime) -> HoursState:
        if self.rule is not None:
            return self.rule(name, now)
        return simple_hours(name, now)


def simple_hours(name: str, now: datetime) -> HoursState:
    """A rough calendar for demos: emergencies always open; phone Mon-Sat 08:30-19:00, closed
    Dec 29 - Jan 3, Sundays open in March-April (peak). National holidays are not known here."""
    if name == "emergency":
        return "open"
    if (now.month, now.day) >= (12, 29) or (now.month, now.day) <= (1, 3):
        return "holiday"
    minutes = now.hour * 60 + now.minute
    in_hours = 8 * 60 + 30 <= minutes < 19 * 60
    peak = now.month in (3, 4)
    if not in_hours or (now.weekday() == 6 and not peak):
        return "closed"
    return "peak" if peak else "open"


@dataclass
class FakeNotices:
    by_area: dict[str, list[str]] = field(default_factory=dict)

    async def active_for(self, area: str, now: datetime) -> Sequence[str]:
        return list(self.by_area.get(area, []))


@dataclass
class FakeIntake:
    """Confirmation numbers `K` + 5 digits counting up from `first`; `reject` fails a kind."""

    first: int = 10001
    reject: dict[str, tuple[str, ...]] = field(default_factory=dict)
    created: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _by_key: dict[str, str] = field(default_factory=dict)

    async def create(
        self, kind: str, fields: Mapping[str, str], key: str, *, call_id: str | None = None
    ) -> IntakeOutcome:
        if kind in self.reject:
            return IntakeOutcome(False, errors=self.reject[kind])
        if key not in self._by_key:
            self._by_key[key] = f"K{self.first + len(self.created):05d}"
            self.created.append((kind, dict(fields)))
        return IntakeOutcome(True, confirmation=self._by_key[key])


@dataclass
class Fakes:
    accounts: AccountDirectory = field(default_factory=FakeAccounts)
    calendar: Calendar = field(default_factory=FakeCalendar)
    notices: NoticeBoard = field(default_factory=FakeNotices)
    intake: IntakeSink = field(default_factory=FakeIntake)
