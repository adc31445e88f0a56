"""Facts the whole hotline shares, each defined once: the utility's time zone, what "now" is,
the states a calendar of opening hours can be in, and the kinds of request a resident makes.
Pure: no I/O.

The model call centre keeps its hours, holidays and closures in Japan; the database and the call
trail keep UTC. So: `tokyo_now` for anything decided by the clock on the wall (hours, dates a
caller keys), `utc_now` for anything stored.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")

ENDPOINT_PATTERN = re.compile(r"(PJSIP|SIP|IAX2|Local)/[A-Za-z0-9@+._/:-]{1,180}")
"""A dial string the engine can ring (`PJSIP/agent1`, `PJSIP/0312345678@trunk`): agents' phones,
departments and on-duty steps, in config.yaml and in the console alike."""

DEPARTMENT_NUMBER_PATTERN = re.compile(r"\+?[0-9]{2,20}")
"""A department's phone number, dialled through the trunk (`0312345678`, `+81312345678`)."""

HoursState = Literal["open", "closed", "holiday", "peak"]
"""What a calendar says at a moment: ``peak`` is open, at the March–April peak."""


Channel = Literal["ivr", "agent", "web"]
"""Where a request was taken: by the IVR, by an agent, or on the web intake form."""

StoredKind = Literal[
    "start",
    "stop",
    "transfer_stop",
    "transfer_start",
    "name_change",
    "phone_change",
    "reconnection",
    "leak",
    "bank_debit",
]
"""A service request as stored and as billing receives it: an in-city move (`RequestKind`
``transfer``) is kept as a linked stop and start."""


class RequestKind(enum.StrEnum):
    """What a resident can ask for, by phone, to an agent or on the web: the flows' `intake`
    nodes, the intake service and the agent console name requests with these."""

    START = "start"
    STOP = "stop"
    TRANSFER = "transfer"
    NAME_CHANGE = "name_change"
    PHONE_CHANGE = "phone_change"
    RECONNECTION = "reconnection"
    LEAK = "leak"
    BANK_DEBIT = "bank_debit"
    """Post the caller a bank-debit (口座振替) application form for their account."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def tokyo_now() -> datetime:
    return datetime.now(TOKYO)
