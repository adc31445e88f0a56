"""`RoutingCalendar`: the flow's `Calendar` port over the named `routing.hours` calendars."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ivr.domain import HoursState
from routing.hours import Calendar as RoutingHours


class UnknownCalendar(LookupError):
    """A flow asked for a calendar config.yaml does not define (the flow takes its error path)."""


class RoutingCalendar:
    """The flow's `Calendar` port over the named `routing.hours` calendars."""

    def __init__(self, calendars: Mapping[str, RoutingHours]) -> None:
        self._calendars = dict(calendars)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self._calendars)

    async def state_at(self, name: str, now: datetime) -> HoursState:
        calendar = self._calendars.get(name)
        if calendar is None:
            raise UnknownCalendar(f"no calendar {name!r} in routing.calendars")
        return calendar.state_at(now)
