"""Intake validation shared by the IVR, agents and the web form (pure: no I/O).

`validate_fields` turns the raw fields a channel collected (keypad digits, form strings, JSON) into
clean typed values, or a per-field map of stable error codes:

    required, unknown_field, invalid, invalid_date, in_the_past, too_soon, too_far,
    in_the_future (paid_on), before_stop (transfer: start earlier than stop; the same day is
    fine, people move in a day), invalid_phone, invalid_number, invalid_kana, too_long,
    invalid_characters (NUL or a lone surrogate: nothing a keyboard types, nothing a database
    stores)

`invalid` also stands for a value that is not text, a whole number or a date (a JSON object,
list or boolean where a field's text belongs).

`recording` is a reference to audio the IVR recorded (the caller saying the new holder name, or
describing a leak and where it is); staff listen to it, so it stands in for the typed name of a
name change and for the address of a leak.

Checks that need the database (the account exists, the premise exists, the account's status) are
done by `IntakeService` inside the transaction that writes the request.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

import jpholiday

from ivr.callerid import normalise_number
from ivr.domain import RequestKind
from ivr.errors import InvalidNumber
from ivr.numbers import customer_number, parse_customer_number


class BusinessDays(Protocol):
    def __call__(self, start: date, end: date, /) -> int:
        """Business days in the half-open interval (start, end]; 0 if end <= start."""
        ...


def is_business_day(day: date) -> bool:
    """Weekdays that are neither a Japanese national holiday nor the Dec 29 – Jan 3 closure."""
    return day.weekday() < 5 and day not in closed_weekdays(day.year)


@functools.lru_cache(maxsize=16)
def closed_weekdays(year: int) -> frozenset[date]:
    """The weekdays of `year` on which the bureau is closed: national holidays and the
    Dec 29 – Jan 3 closure. jpholiday takes ~0.3 ms a day (~0.1 s a year), so each year is
    worked out once per process."""
    first = date(year, 1, 1)
    days = (first + timedelta(days=n) for n in range((date(year, 12, 31) - first).days + 1))
    closed = {
        day
        for day in days
        # date.max has no next day, which jpholiday looks at; it is in the closure anyway
        if day.weekday() < 5
        and (_year_end_closure(day) or (day != date.max and jpholiday.is_holiday(day)))
    }
    return frozenset(closed)


async def prepare_business_days(today: date) -> None:
    """Work out this year's and next year's closed days in a thread, when the engine starts:
    otherwise the first intake of the year spends that time on the event loop, every call
    waiting meanwhile (the generated hostile-intake suite found it: 327 ms for the first stop
    request of a process, 0.3 ms for the next)."""
    await asyncio.to_thread(lambda: [closed_weekdays(y) for y in (today.year, today.year + 1)])


def _year_end_closure(day: date) -> bool:
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def jp_business_days_between(start: date, end: date, /) -> int:
    """Default `BusinessDays`: Mon–Fri, minus JP holidays and the year-end closure. Weekdays
    are counted by arithmetic and each year's closed days looked up once, so a date years
    away costs a few set look-ups per year, not a look-up per day."""
    if end <= start:
        return 0
    first = start + timedelta(days=1)
    days = (end - first).days + 1
    full_weeks, rest = divmod(days, 7)
    weekdays = full_weeks * 5 + sum(1 for n in range(rest) if (first.weekday() + n) % 7 < 5)
    closed = sum(
        1
        for year in range(first.year, end.year + 1)
        for day in closed_weekdays(year)
        if first <= day <= end
    )
    return weekdays - closed


@dataclass(frozen=True)
class IntakeRules:
    """Per-kind lead times (business days between today and the date) and the booking horizon."""

    lead_business_days: Mapping[RequestKind, int] = field(
        default_factory=lambda: {
            RequestKind.START: 2,
            RequestKind.STOP: 2,
            RequestKind.TRANSFER: 2,
            RequestKind.NAME_CHANGE: 0,
        }
    )
    horizon_days: int = 90
    max_text: int = 500


# fields each kind requires / accepts (customer_number handled separately)
_REQUIRED: dict[RequestKind, tuple[str, ...]] = {
    # and the premise (`_ONE_OF`)
    RequestKind.START: ("start_date", "contact_phone"),
    RequestKind.STOP: ("stop_date",),
    # and the new premise (`_ONE_OF`)
    RequestKind.TRANSFER: ("stop_date", "start_date"),
    RequestKind.NAME_CHANGE: ("holder_name", "holder_kana"),
    RequestKind.PHONE_CHANGE: ("new_phone",),
    RequestKind.RECONNECTION: (),
    RequestKind.LEAK: (),
    RequestKind.BANK_DEBIT: (),
}
_OPTIONAL: dict[RequestKind, tuple[str, ...]] = {
    RequestKind.START: (
        "customer_number",
        "premise_id",
        "meter_number",
        "holder_name",
        "holder_kana",
        "recording",
    ),
    RequestKind.STOP: ("premise_id", "forwarding_address", "contact_phone"),
    RequestKind.TRANSFER: ("premise_id", "new_premise_id", "new_meter_number", "contact_phone"),
    RequestKind.NAME_CHANGE: ("effective_date", "reason", "recording"),
    RequestKind.PHONE_CHANGE: ("old_phone",),
    RequestKind.RECONNECTION: ("paid_on", "contact_phone"),
    RequestKind.LEAK: (
        "customer_number",
        "premise_id",
        "address",
        "description",
        "contact_phone",
        "recording",
    ),
    RequestKind.BANK_DEBIT: ("contact_phone",),
}
# one of these must be given: a premise by its id (agents, web) or by the meter number printed on
# the card left at a vacant premise (the IVR cannot take an address)
_ONE_OF: dict[RequestKind, tuple[tuple[str, ...], ...]] = {
    RequestKind.START: (("premise_id", "meter_number"),),
    RequestKind.TRANSFER: (("new_premise_id", "new_meter_number"),),
}
NEEDS_ACCOUNT = frozenset(
    {
        RequestKind.STOP,
        RequestKind.TRANSFER,
        RequestKind.NAME_CHANGE,
        RequestKind.PHONE_CHANGE,
        RequestKind.RECONNECTION,
        RequestKind.BANK_DEBIT,
    }
)
_DATE_FIELDS = frozenset({"start_date", "stop_date", "effective_date", "paid_on"})
_ID_FIELDS = frozenset({"premise_id", "new_premise_id"})
_PHONE_FIELDS = frozenset({"contact_phone", "new_phone", "old_phone"})
# recording names are chosen by the engine (ARI recording names), never by a caller
_RECORDING = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$")
_KANA = re.compile(r"^[\u30a1-\u30fa\u30fc\u30fb\u3000 ]+$")
# meter numbers as printed: digits (and letters in some utilities' schemes), no spaces
_METER = re.compile(r"^[0-9A-Za-z-]{4,16}$")
_METER_FIELDS = frozenset({"meter_number", "new_meter_number"})
# stand-ins for `field_problems`: a well-formed customer number, and some day
_SAMPLE_CUSTOMER = customer_number(1)
_SAMPLE_DAY = date(2000, 1, 3)


def accepted_fields(kind: RequestKind) -> frozenset[str]:
    """Every field name `kind` takes (required or optional, the customer number included)."""
    names = set(_REQUIRED[kind]) | set(_OPTIONAL[kind])
    if kind in NEEDS_ACCOUNT:
        names.add("customer_number")
    return frozenset(names)


def field_problems(kind: RequestKind, names: Collection[str]) -> dict[str, str]:
    """What `validate_fields` would say about the field *names* alone, whatever their values:
    ``unknown_field`` for a name `kind` does not take, ``required`` for a field it needs that is
    not among `names` (the first of a group of alternatives, as `validate_fields` reports it).

    For checks made before any value exists (a flow's `intake` node, at load time); the answer
    comes from `validate_fields` itself, so the two cannot disagree.
    """
    # any value that is not blank; a customer number must parse (it makes a start's holder known)
    sample = {name: _SAMPLE_CUSTOMER if name == "customer_number" else "x" for name in names}
    _, errors = validate_fields(kind, sample, _SAMPLE_DAY)
    return {name: code for name, code in errors.items() if code in ("required", "unknown_field")}


def alternatives(kind: RequestKind, name: str) -> tuple[str, ...]:
    """The fields that can stand in for `name` in what `kind` requires (`name` first), e.g. a
    start's premise: ``("premise_id", "meter_number")``."""
    for group in _ONE_OF.get(kind, ()):
        if name in group:
            return group
    return (name,)


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def parse_date(value: object) -> date:
    """A date from a `date`, ISO ``2026-04-01`` or keyed ``20260401``; ValueError otherwise."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d{8}", text):
            text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
    raise ValueError("not a date")


# the largest id a database column holds (BIGINT): a larger one overflowed at the insert
_MAX_ID = 2**63 - 1
# NUL and lone surrogates: PostgreSQL's text and jsonb refuse them, and no keyboard types them
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _value_problem(value: object) -> str | None:
    """Why `value` cannot be a field's value at all, whatever the field: only text, whole
    numbers and dates are (a dict, list, bytes or bool was stored as its Python text)."""
    if isinstance(value, bool) or not isinstance(value, str | int | date):
        return "invalid"
    if isinstance(value, str) and _UNSTORABLE.search(value):
        return "invalid_characters"
    return None


def _parse_id(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError("not an id")
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and value.strip().isdigit():
        n = int(value.strip())
    else:
        raise ValueError("not an id")
    if not 0 < n <= _MAX_ID:
        raise ValueError("not an id")
    return n


@dataclass(frozen=True)
class CleanFields:
    """Typed values after validation; `values` is JSON-ready (dates as ISO strings)."""

    kind: RequestKind
    customer_number: str | None
    values: dict[str, Any]
    dates: dict[str, date]
    ids: dict[str, int]


def validate_fields(
    kind: RequestKind,
    raw: Mapping[str, object],
    today: date,
    business_days: BusinessDays = jp_business_days_between,
    rules: IntakeRules | None = None,
) -> tuple[CleanFields | None, dict[str, str]]:
    """Check `raw` for `kind`; returns (clean fields, {}) or (None, {field: error code})."""
    rules = rules or IntakeRules()
    errors = _name_errors(kind, raw)
    values, dates, ids = _parse_values(kind, raw, rules, errors)
    customer = values.get("customer_number")
    for check in _CROSS_CHECKS:
        check(kind, raw, customer, errors)
    _date_errors(kind, dates, today, business_days, rules, errors)
    if errors:
        return None, errors
    return CleanFields(kind, customer, values, dates, ids), {}


def _name_errors(kind: RequestKind, raw: Mapping[str, object]) -> dict[str, str]:
    """``unknown_field`` for each name `kind` does not take, ``required`` for each it needs
    that is missing or blank."""
    allowed = accepted_fields(kind)
    errors = {name: "unknown_field" for name in raw if name not in allowed}
    required = list(_REQUIRED[kind])
    if kind in NEEDS_ACCOUNT:
        required.insert(0, "customer_number")
    for name in required:
        if _is_blank(raw.get(name)):
            errors[name] = "required"
    return errors


class _Invalid(Exception):
    """A field's value is not acceptable; `code` is the error code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# a field's value -> its clean value (a date for a date field), or `_Invalid` / `ValueError` /
# `InvalidNumber`
_Parser = Callable[[object, IntakeRules], str | int | date]


def _parse_values(
    kind: RequestKind, raw: Mapping[str, object], rules: IntakeRules, errors: dict[str, str]
) -> tuple[dict[str, Any], dict[str, date], dict[str, int]]:
    """The clean values of the given fields `kind` takes (JSON-ready), with the dates and ids
    typed too; each value that does not parse is an error on its field."""
    values: dict[str, Any] = {}
    dates: dict[str, date] = {}
    ids: dict[str, int] = {}
    for name in sorted(accepted_fields(kind)):
        value = raw.get(name)
        if name in errors or _is_blank(value):
            continue
        problem = _value_problem(value)
        if problem is not None:
            errors[name] = problem
            continue
        try:
            clean = _PARSERS.get(name, _text)(value, rules)
        except _Invalid as invalid:
            errors[name] = invalid.code
            continue
        except InvalidNumber:
            errors[name] = "invalid_number"
            continue
        except ValueError:
            errors[name] = "invalid_date" if name in _DATE_FIELDS else "invalid"
            continue
        if isinstance(clean, date):
            dates[name] = clean
            values[name] = clean.isoformat()
            continue
        values[name] = clean
        if isinstance(clean, int):  # only the id fields' parser gives ints
            ids[name] = clean
    return values, dates, ids


def _customer(value: object, _rules: IntakeRules) -> str:
    return parse_customer_number(str(value))


def _date(value: object, _rules: IntakeRules) -> date:
    return parse_date(value)


def _id(value: object, _rules: IntakeRules) -> int:
    return _parse_id(value)


def _phone(value: object, _rules: IntakeRules) -> str:
    e164 = normalise_number(str(value))
    if e164 is None:
        raise _Invalid("invalid_phone")
    return e164


def _matching(pattern: re.Pattern[str]) -> _Parser:
    def parse(value: object, _rules: IntakeRules) -> str:
        text = str(value).strip()
        if not pattern.fullmatch(text):
            raise _Invalid("invalid")
        return text

    return parse


def _kana(value: object, _rules: IntakeRules) -> str:
    text = str(value).strip()
    if not _KANA.fullmatch(text):
        raise _Invalid("invalid_kana")
    if len(text) > _MAX_NAME:
        raise _Invalid("too_long")
    return text


def _limited(text: str, limit: int) -> str:
    if len(text) > limit:
        raise _Invalid("too_long")
    return text


def _holder_name(value: object, _rules: IntakeRules) -> str:
    return _limited(str(value).strip(), _MAX_NAME)


def _text(value: object, rules: IntakeRules) -> str:
    """Free text (an address, a description, a reason): any field without a parser of its own."""
    return _limited(str(value).strip(), rules.max_text)


_MAX_NAME = 100  # holder names and their kana
_PARSERS: dict[str, _Parser] = {
    "customer_number": _customer,
    **dict.fromkeys(_DATE_FIELDS, _date),
    **dict.fromkeys(_ID_FIELDS, _id),
    **dict.fromkeys(_PHONE_FIELDS, _phone),
    **dict.fromkeys(_METER_FIELDS, _matching(_METER)),
    "recording": _matching(_RECORDING),
    "holder_kana": _kana,
    "holder_name": _holder_name,
}


# what one field's value alone cannot say: (kind, raw fields, the clean customer number, errors)
_CrossCheck = Callable[[RequestKind, Mapping[str, object], str | None, dict[str, str]], None]


def _holder_of_start(
    kind: RequestKind, raw: Mapping[str, object], customer: str | None, errors: dict[str, str]
) -> None:
    # a new customer starting service must say who they are: keyed (agent, web) or spoken on a
    # recording (IVR) that staff transcribe
    if kind is RequestKind.START and customer is None and _is_blank(raw.get("recording")):
        for name in ("holder_name", "holder_kana"):
            if _is_blank(raw.get(name)):
                errors.setdefault(name, "required")


def _one_of_each_group(
    kind: RequestKind, raw: Mapping[str, object], _customer: str | None, errors: dict[str, str]
) -> None:
    # the first name of a `_ONE_OF` group is the one reported missing
    for needed in _ONE_OF.get(kind, ()):
        if all(_is_blank(raw.get(name)) for name in needed):
            errors.setdefault(needed[0], "required")


def _name_on_recording(
    kind: RequestKind, raw: Mapping[str, object], _customer: str | None, errors: dict[str, str]
) -> None:
    # the holder says the new name on a recording; staff transcribe it from there
    if kind is RequestKind.NAME_CHANGE and not _is_blank(raw.get("recording")):
        for name in ("holder_name", "holder_kana"):
            if errors.get(name) == "required":
                del errors[name]


def _where_the_leak_is(
    kind: RequestKind, raw: Mapping[str, object], _customer: str | None, errors: dict[str, str]
) -> None:
    # a leak needs somewhere to send the crew: a premise, an address, the caller's account (its
    # premises), or a recording in which the caller says where
    if kind is RequestKind.LEAK and all(
        _is_blank(raw.get(name))
        for name in ("premise_id", "address", "customer_number", "recording")
    ):
        errors.setdefault("address", "required")


_CROSS_CHECKS: tuple[_CrossCheck, ...] = (
    _holder_of_start,
    _one_of_each_group,
    _name_on_recording,
    _where_the_leak_is,
)


def _date_errors(
    kind: RequestKind,
    dates: Mapping[str, date],
    today: date,
    business_days: BusinessDays,
    rules: IntakeRules,
    errors: dict[str, str],
) -> None:
    """The dates against today: booked dates within the lead time and the horizon, a payment
    not in the future, a move's start not before its stop."""
    lead = rules.lead_business_days.get(kind, 0)
    horizon = today + timedelta(days=rules.horizon_days)
    for name in ("start_date", "stop_date", "effective_date"):
        day = dates.get(name)
        problem = (
            None if day is None else _booking_problem(day, today, lead, horizon, business_days)
        )
        if problem is not None:
            errors[name] = problem
    paid_on = dates.get("paid_on")
    if paid_on is not None and paid_on > today:
        errors["paid_on"] = "in_the_future"
    if kind is RequestKind.TRANSFER:
        stop, start = dates.get("stop_date"), dates.get("start_date")
        if stop and start and start < stop and "start_date" not in errors:
            errors["start_date"] = "before_stop"


def _booking_problem(
    day: date, today: date, lead: int, horizon: date, business_days: BusinessDays
) -> str | None:
    if day < today:
        return "in_the_past"
    # the horizon first: business days are counted only up to a date the bureau would book
    if day > horizon:
        return "too_far"
    if lead and business_days(today, day) < lead:
        return "too_soon"
    return None
