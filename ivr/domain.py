"""Facts the whole hotline shares, each defined once: the utility's time zone, what "now" is,
and the states a calendar of opening hours can be in. Pure: no I/O.

The model call centre keeps its hours, holidays and closures in Japan; the database and the call
trail keep UTC. So: `tokyo_now` for anything decided by the clock on the wall (hours, dates a
caller keys), `utc_now` for anything stored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")

HoursState = Literal["open", "closed", "holiday", "peak"]
"""What a calendar says at a moment: ``peak`` is open, at the March–April peak."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def tokyo_now() -> datetime:
    return datetime.now(TOKYO)
