"""Typed configuration for routing: named calendars and queues, as config.yaml holds them.

The admin writes plain YAML (see `routing.hours.DEFAULT_CALENDARS` for the calendar shape); these
pydantic models type it once at the edge (`extra="forbid"`, frozen) and check it whole, so the
calendar and policy code only ever sees valid values. Times are written as `"HH:MM-HH:MM"` strings
and days as `"MM-DD"` (every year) or `"YYYY-MM-DD"` (once): YAML 1.1 would read an unquoted
`19:00` as the integer 1140, so a clock time is never a bare YAML scalar here.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ivr.domain import DEPARTMENT_NUMBER_PATTERN, ENDPOINT_PATTERN

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Index = date.weekday(): Monday is 0.
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

MINUTES_PER_DAY = 24 * 60

_INTERVAL = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_NAME = r"^[a-z][a-z0-9_]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Interval(_Model):
    """Opening hours within one day, as minutes after midnight; `end` may be 1440 (24:00)."""

    start: int = Field(ge=0, lt=MINUTES_PER_DAY)
    end: int = Field(gt=0, le=MINUTES_PER_DAY)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        match = _INTERVAL.match(value.strip())
        if match is None:
            raise ValueError(f"hours must look like '08:30-19:00', got {value!r}")
        sh, sm, eh, em = (int(g) for g in match.groups())
        if sm >= 60 or em >= 60 or sh > 23 or eh > 24 or (eh == 24 and em != 0):
            raise ValueError(f"not a clock time in {value!r} (00:00 to 24:00)")
        return {"start": sh * 60 + sm, "end": eh * 60 + em}

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            # Overnight spans are written as two days' intervals (…-24:00 and 00:00-…).
            raise ValueError(f"{self} closes before it opens")
        return self

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _listed(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


def _check_hours(hours: tuple[Interval, ...]) -> tuple[Interval, ...]:
    ordered = tuple(sorted(hours, key=lambda i: i.start))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start < before.end:
            raise ValueError(f"hours {before} and {after} overlap")
    return ordered


Hours = Annotated[tuple[Interval, ...], BeforeValidator(_listed), AfterValidator(_check_hours)]
"""A day's opening intervals: `"08:30-19:00"` or a list of them; `[]` means closed."""


class DaySpec(_Model):
    """A calendar day: every year (`month`/`day` from `"MM-DD"`) or once (`year` set)."""

    year: int | None = None
    month: int = Field(ge=1, le=12)
    day: int = Field(ge=1, le=31)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, date):
            return {"year": value.year, "month": value.month, "day": value.day}
        if not isinstance(value, str):
            return value
        text = value.strip()
        match = _MONTH_DAY.match(text)
        if match is not None:
            month, day = int(match.group(1)), int(match.group(2))
            try:
                date(2000, month, day)  # a leap year, so "02-29" is accepted
            except ValueError:
                raise ValueError(f"no such day {text!r}") from None
            return {"month": month, "day": day}
        try:
            once = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"a day must be 'MM-DD' or 'YYYY-MM-DD', got {value!r}") from None
        return {"year": once.year, "month": once.month, "day": once.day}

    def key(self) -> tuple[int, int]:
        return (self.month, self.day)


class DateRange(_Model):
    """Inclusive days `start`..`end`. Yearly ranges may wrap the year ("12-29" to "01-03")."""

    name: str = Field(min_length=1)
    start: DaySpec
    end: DaySpec

    @model_validator(mode="after")
    def _same_kind(self) -> Self:
        if (self.start.year is None) != (self.end.year is None):
            raise ValueError(f"{self.name}: start and end must both be 'MM-DD' or both dates")
        if self.start.year is not None and self.end.year is not None:
            start = date(self.start.year, self.start.month, self.start.day)
            end = date(self.end.year, self.end.month, self.end.day)
            if end < start:
                raise ValueError(f"{self.name}: ends before it starts")
        return self

    def contains(self, day: date) -> bool:
        if self.start.year is not None and self.end.year is not None:
            start = date(self.start.year, self.start.month, self.start.day)
            end = date(self.end.year, self.end.month, self.end.day)
            return start <= day <= end
        key = (day.month, day.day)
        if self.start.key() <= self.end.key():
            return self.start.key() <= key <= self.end.key()
        return key >= self.start.key() or key <= self.end.key()


class PeakSeason(DateRange):
    """A season with its own hours: `weekly` replaces the normal hours of the weekdays it names
    (other weekdays keep theirs); `holidays`, if set, opens national holidays with those hours."""

    weekly: dict[Weekday, Hours] = Field(default_factory=dict)
    holidays: Hours | None = None


class CalendarConfig(_Model):
    """One named calendar. Precedence, strongest first: closures, then a peak season's hours,
    then national holidays, then the weekly hours. `always_open` (24 h × 365 d) takes nothing
    else."""

    always_open: bool = False
    weekly: dict[Weekday, Hours] = Field(default_factory=dict)
    national_holidays: Literal["closed", "open"] = "closed"
    closures: tuple[DateRange, ...] = ()
    peak: tuple[PeakSeason, ...] = ()

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        if self.always_open:
            if self.weekly or self.closures or self.peak:
                raise ValueError("always_open calendars take no weekly, closures or peak")
            return self
        has_hours = any(self.weekly.values()) or any(
            any(p.weekly.values()) or p.holidays for p in self.peak
        )
        if not has_hours:
            raise ValueError("calendar is never open: give weekly hours or always_open: true")
        return self


JoinPolicy = Literal["join", "refuse", "overflow"]


class AnnounceConfig(_Model):
    """What a waiting caller hears about the queue, and when."""

    on_entry: bool = True
    every_s: int | None = Field(default=60, gt=0)
    position: bool = True
    expected_wait: bool = True


class CallbackConfig(_Model):
    """When a waiting caller is offered a callback instead of holding on (at most once per call)."""

    enabled: bool = False
    after_s: int | None = Field(default=None, ge=0)
    expected_wait_over_s: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _has_trigger(self) -> Self:
        if self.enabled and self.after_s is None and self.expected_wait_over_s is None:
            raise ValueError("callback enabled without after_s or expected_wait_over_s")
        return self


class Label(_Model):
    """A name as the console shows it, in both its languages."""

    ja: str = Field(min_length=1, max_length=40)
    en: str = Field(min_length=1, max_length=40)


class QueueConfig(_Model):
    """One ACD queue. `None` limits mean unlimited."""

    calendar: str
    skills: tuple[str, ...] = ()
    max_length: int | None = Field(default=None, gt=0)
    max_wait_s: int | None = Field(default=None, gt=0)
    max_expected_wait_s: int | None = Field(default=None, gt=0)
    when_full: Literal["refuse", "overflow"] = "overflow"
    when_no_agents: JoinPolicy = "overflow"
    # Used for the expected-wait estimate until the queue has measured its own handle time.
    average_handle_s: int = Field(default=300, gt=0)
    ring_timeout_s: int = Field(default=20, gt=0)
    wrap_up_s: int = Field(default=30, ge=0)
    announce: AnnounceConfig = AnnounceConfig()
    callback: CallbackConfig = CallbackConfig()
    # the queue's name on the console (transfer targets); None: the config key is shown
    label: Label | None = None


ConfigName = Annotated[str, Field(pattern=_NAME)]


def _dial_string(value: str) -> str:
    # `agent1` without `PJSIP/` would fail on every call it is rung for: it fails at load
    if not ENDPOINT_PATTERN.fullmatch(value):
        raise ValueError(
            "not a phone the engine can ring (e.g. PJSIP/agent1, PJSIP/0312345678@trunk)"
        )
    return value


Endpoint = Annotated[str, Field(max_length=200), AfterValidator(_dial_string)]


DEFAULT_CALENDARS: dict[str, Any] = {
    "phone": {
        "weekly": {day: ["08:30-19:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat")},
        "national_holidays": "closed",
        "closures": [{"name": "year-end", "start": "12-29", "end": "01-03"}],
        "peak": [
            {
                "name": "moving-season",
                "start": "03-01",
                "end": "04-30",
                "weekly": {"sun": ["08:30-19:00"]},
                "holidays": ["08:30-19:00"],
            }
        ],
    },
    "emergency": {"always_open": True},
    "construction": {
        "weekly": {day: ["08:30-17:15"] for day in ("mon", "tue", "wed", "thu", "fri")},
        "national_holidays": "closed",
        "closures": [{"name": "year-end", "start": "12-29", "end": "01-03"}],
    },
}
"""Sample calendars: the hotline's phone hours, the 24 h emergency line and a department."""


class AgentConfig(_Model):
    """A human agent: the phone the ACD rings (an ARI endpoint such as `PJSIP/agent1`) and the
    skills that queues may require."""

    endpoint: Endpoint
    skills: tuple[str, ...] = ()
    # the demo seed only (scripts/start, the call tests): ready when the engine starts, as if
    # the agent had signed in and pressed Ready. Real agents come from the staff table and are
    # ready only once they choose so in the console
    ready_at_start: bool = False


class PauseReason(_Model):
    """A reason an agent may give for a pause, as the console shows it."""

    ja: str = Field(min_length=1, max_length=40)
    en: str = Field(min_length=1, max_length=40)


UNCLASSIFIED = "unclassified"
"""The wrap-up code of a call whose wrap-up ended without the agent giving one (the timer ran
out, or the agent went ready / paused / logged out first): the reports count it as such."""

DEFAULT_WRAP_UP_CODES: dict[str, dict[str, str]] = {
    "start_stop": {"ja": "開始・中止", "en": "Start / stop"},
    "moving": {"ja": "転居", "en": "Moving"},
    "billing": {"ja": "料金・支払い", "en": "Bill / payment"},
    "leak": {"ja": "漏水・断水", "en": "Leak / outage"},
    "complaint": {"ja": "苦情・要望", "en": "Complaint / request"},
    "enquiry": {"ja": "問い合わせ", "en": "Enquiry"},
    "other": {"ja": "その他", "en": "Other"},
}

DEFAULT_PAUSE_REASONS: dict[str, dict[str, str]] = {
    "break": {"ja": "休憩", "en": "Break"},
    "lunch": {"ja": "昼休み", "en": "Lunch"},
    "after_call_work": {"ja": "後処理", "en": "After-call work"},
    "training": {"ja": "研修", "en": "Training"},
    "meeting": {"ja": "打ち合わせ", "en": "Meeting"},
}


DEPARTMENT_RING_S = 20
"""How long a department's line rings (a department added in the console has no config)."""


class DepartmentConfig(_Model):
    """A department callers are transferred to: a SIP endpoint, or a phone `number` dialled
    through `RoutingConfig.outbound_endpoint`. `on_duty` is the escalation list rung in order,
    `ring_timeout_s` each, for emergencies (bypassing `calendar`)."""

    endpoint: Endpoint | None = None
    number: str | None = Field(default=None, pattern=f"^{DEPARTMENT_NUMBER_PATTERN.pattern}$")
    calendar: str | None = None
    on_duty: tuple[Endpoint, ...] = ()
    ring_timeout_s: int = Field(default=DEPARTMENT_RING_S, gt=0)
    label: Label | None = None
    """The department's name on the console (transfer targets); None: the config key."""
    # how long an on-duty phone that answered has to press 1 before the next one is rung
    accept_timeout_s: int = Field(default=15, gt=0)

    @model_validator(mode="after")
    def _reachable(self) -> Self:
        if self.endpoint is not None and self.number is not None:
            raise ValueError("give either endpoint or number, not both")
        if self.endpoint is None and self.number is None and not self.on_duty:
            raise ValueError("a department needs an endpoint, a number or an on_duty list")
        return self


class RoutingConfig(_Model):
    """The `routing:` section of config.yaml: named calendars, the queues that use them, the
    agents the ACD rings and the departments calls are transferred to."""

    calendars: dict[ConfigName, CalendarConfig] = Field(
        default_factory=lambda: dict(DEFAULT_CALENDARS), validate_default=True
    )
    queues: dict[ConfigName, QueueConfig] = Field(default_factory=dict)
    agents: dict[ConfigName, AgentConfig] = Field(default_factory=dict)
    departments: dict[ConfigName, DepartmentConfig] = Field(default_factory=dict)
    # what an agent may pause for (the console's choices, in this order); "no answer" is the
    # ACD's own reason for an offer that rang out and is not one of them
    pause_reasons: dict[ConfigName, PauseReason] = Field(
        default_factory=lambda: dict(DEFAULT_PAUSE_REASONS), validate_default=True, min_length=1
    )
    # how an agent classifies a call in wrap-up (required; the reports group by it), in this
    # order on the console; "unclassified" is the engine's own for a wrap-up ended without one
    wrap_up_codes: dict[ConfigName, PauseReason] = Field(
        default_factory=lambda: dict(DEFAULT_WRAP_UP_CODES), validate_default=True, min_length=1
    )
    # How a department's `number` is dialled: `{number}` is replaced (a trunk in production).
    outbound_endpoint: str = Field(default="PJSIP/{number}@trunk", pattern=r"\{number\}")
    # The number a called-back resident sees (the hotline's own, so they can call it again);
    # empty: none is sent and the phone shows "anonymous".
    outbound_caller_id: str = Field(default="", pattern=r"^\+?[0-9]{0,15}$")

    @model_validator(mode="after")
    def _references(self) -> Self:
        if UNCLASSIFIED in self.wrap_up_codes:
            raise ValueError(
                f"wrap_up_codes: {UNCLASSIFIED!r} is the engine's own code for a call left "
                "without one; choose another name"
            )
        known = ", ".join(sorted(self.calendars))
        for name, queue in self.queues.items():
            if queue.calendar not in self.calendars:
                raise ValueError(
                    f"queue {name}: unknown calendar {queue.calendar!r} (known: {known})"
                )
        for name, dept in self.departments.items():
            if dept.calendar is not None and dept.calendar not in self.calendars:
                raise ValueError(
                    f"department {name}: unknown calendar {dept.calendar!r} (known: {known})"
                )
        return self

    def department_endpoint(self, name: str) -> str:
        """The dial string of a department (KeyError for an unknown one; ValueError if it only
        has an on-duty list)."""
        dept = self.departments[name]
        dial = self.dial_string(dept.endpoint, dept.number)
        if dial is None:
            raise ValueError(f"department {name} has no endpoint or number, only an on-duty list")
        return dial

    def dial_string(self, endpoint: str | None, number: str | None) -> str | None:
        """What is rung for a department line: its endpoint, else its number through
        `outbound_endpoint`; None when it has neither."""
        if endpoint is not None:
            return endpoint
        if number is not None:
            return self.outbound_endpoint.replace("{number}", number)
        return None
