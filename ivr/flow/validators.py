"""Checks for keyed-in values (`collect` node `validator:`), returning the normalised value.

Customer numbers are 10 digits whose last digit is a Damm check digit (the one
`ivr.numbers` issues), so a single mistyped digit or two swapped neighbours are caught
before anything is looked up. Dates are
keyed as YYYYMMDD and must lie within a year of today: the hotline only takes move and stop
dates in that window.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import phonenumbers

from ivr.errors import InvalidNumber
from ivr.flow.model import KEYED_LENGTHS
from ivr.flow.say import parse_date
from ivr.numbers import parse_customer_number

DATE_WINDOW = timedelta(days=366)


def customer_number(value: str, now: datetime) -> str | None:
    # the same check digit the store issues and checks (ivr.numbers: Damm)
    try:
        return parse_customer_number(value)
    except InvalidNumber:
        return None


def date_value(value: str, now: datetime) -> str | None:
    try:
        day = parse_date(value)
    except ValueError:
        return None
    fewest, most = KEYED_LENGTHS["date"]
    if not fewest <= len(value) <= most or abs(day - now.date()) > DATE_WINDOW:
        return None
    return day.isoformat()


def phone(value: str, now: datetime) -> str | None:
    """A Japanese number keyed with its leading 0, kept as keyed (read back digit by digit)."""
    if not value.isdigit() or not value.startswith("0"):
        return None
    try:
        parsed = phonenumbers.parse(value, "JP")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return value


VALIDATORS = {"date": date_value, "customer_number": customer_number, "phone": phone}


def validate(kind: str | None, value: str, now: datetime) -> str | None:
    """The normalised value, or None when it is not acceptable."""
    if kind is None:
        return value
    return VALIDATORS[kind](value, now)
