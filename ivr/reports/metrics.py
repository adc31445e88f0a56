"""The report's figures and their formulas, pure: counts summed from the roll-up become rates
here, each with the formula printed beside it on the report.

Queue contacts (a call's queue part; a callback call is counted apart, under callbacks):
  Q  = calls that entered the queue
  S  = short abandons: abandoned after waiting less than the short-abandon threshold
  A  = answered, A_T = answered within the answer threshold T
  B  = abandoned (long: S left out), B_T = of those within T
  F  = flow-outs: callback requested, overflowed, queue closed while waiting
  offered O = Q − S = A + B + F
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields


@dataclass(slots=True)
class QueueFigures:
    """Summed counts and seconds of queue contacts (additive: totals are sums, longest wait a
    maximum)."""

    queued: int = 0
    short_abandons: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    callbacks: int = 0
    overflows: int = 0
    closed: int = 0
    unfinished: int = 0
    wait_answered_s: float = 0.0
    longest_wait_s: float = 0.0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrap_s: float = 0.0
    # every queue contact's wait, answered or not (the callers' patience is estimated from it)
    wait_all_s: float = 0.0

    def add(self, other: QueueFigures) -> None:
        for name in _SUMMED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.longest_wait_s = max(self.longest_wait_s, other.longest_wait_s)

    @property
    def offered(self) -> int:
        return self.queued - self.short_abandons

    @property
    def asa_s(self) -> float | None:
        return _ratio(self.wait_answered_s, self.answered)

    @property
    def aht_s(self) -> float | None:
        return _ratio(self.talk_s + self.hold_s + self.wrap_s, self.answered)

    @property
    def patience_s(self) -> float | None:
        """Mean patience, if exponential: time all callers waited / abandons (the estimate
        that counts the callers answered before they gave up as waiting at least so long)."""
        abandons = self.abandoned + self.short_abandons
        return self.wait_all_s / abandons if abandons else None

    @property
    def abandon_rate(self) -> float | None:
        return _ratio(self.abandoned, self.offered)

    @property
    def abandon_rate_with_short(self) -> float | None:
        return _ratio(self.abandoned + self.short_abandons, self.queued)

    def service_levels(self) -> dict[str, float | None]:
        return {v.key: v.value(self) for v in SERVICE_LEVELS}


QUEUE_FIELDS = tuple(f.name for f in fields(QueueFigures))
_SUMMED = tuple(name for name in QUEUE_FIELDS if name != "longest_wait_s")


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True, slots=True)
class ServiceLevel:
    key: str
    label: str
    formula: str
    value: Callable[[QueueFigures], float | None]


SERVICE_LEVELS = (
    ServiceLevel(
        "answered_only",
        "Answered only (Asterisk servicelevelperf)",
        "A_T / A",
        lambda f: _ratio(f.answered_within, f.answered),
    ),
    ServiceLevel(
        "abandons_ignored",
        "Abandons within T ignored (Cisco type 1)",
        "A_T / (A + B − B_T)",
        lambda f: _ratio(f.answered_within, f.answered + f.abandoned - f.abandoned_within),
    ),
    ServiceLevel(
        "abandons_against",
        "Abandons count against (Cisco type 2, Genesys)",
        "A_T / (A + B)",
        lambda f: _ratio(f.answered_within, f.answered + f.abandoned),
    ),
    ServiceLevel(
        "abandons_in_favour",
        "Abandons within T count in favour (Cisco type 3, Asterisk servicelevelperf2)",
        "(A_T + B_T) / (A + B)",
        lambda f: _ratio(f.answered_within + f.abandoned_within, f.answered + f.abandoned),
    ),
    ServiceLevel(
        "of_offered",
        "Of all offered, flow-outs included (Twilio Flex real-time)",
        "A_T / O",
        lambda f: _ratio(f.answered_within, f.offered),
    ),
)
SERVICE_LEVEL_KEYS = tuple(v.key for v in SERVICE_LEVELS)

LEGEND = """Q  = calls that entered the queue (callback calls are counted under callbacks)
S  = short abandons: abandoned after waiting less than the short-abandon threshold
A  = answered; A_T = answered within the answer threshold T
B  = abandoned (long: S left out); B_T = abandoned within T
F  = flow-outs: callback requested, overflowed, queue closed while waiting
O  = offered = Q − S = A + B + F"""

FORMULAS: tuple[tuple[str, str], ...] = (
    ("offered", "O = Q − S = A + B + F (short abandons S reported apart)"),
    ("abandon rate", "B / O; with short abandons: (B + S) / Q"),
    ("ASA", "Σ wait of answered calls / A (wait: first enqueue → agent answered)"),
    (
        "AHT",
        "Σ (talk + hold + wrap-up) / A (talk: answered → call ended, less hold; hold: the "
        "agent's Hold → Resume; wrap-up: the agent's wrap_up state for the call)",
    ),
    ("longest wait", "max wait of any queue contact (answered, abandoned or flowed out)"),
    (
        "self-service rate",
        "requests taken by the IVR / requests taken by phone (IVR + agent); per interval: "
        "each request in the interval its call started in (a web request in the one it was "
        "made in), Tokyo time",
    ),
    ("IVR-completed calls", "calls with an intake created and neither an agent nor a department"),
    (
        "repeat contacts",
        "calls of an identified account that called before within the repeat window / "
        "calls of identified accounts",
    ),
    (
        "first-contact resolution",
        "1 − calls of an identified account followed by another call of it within the repeat "
        "window / calls of identified accounts (calls of the last days can still be followed)",
    ),
    (
        "callbacks",
        "requested: callback kept; dialled: the hotline rang the caller; completed: the "
        "callback call reached an agent; failed: given up (the caller did not answer, or the "
        "callback was lost)",
    ),
    (
        "calls while closed",
        "calls told the hotline (or its queue) was closed or on holiday, by the opening-hours "
        "calendar the call was counted by",
    ),
    (
        "within / outside opening hours",
        "a queued call by its queue's calendar, any other call by reports.calendar",
    ),
    (
        "transfers by department",
        "attempted: calls sent to the department; put through: a person there took the call",
    ),
    (
        "agent time",
        "seconds in each status (ready, paused by reason, on a call, wrap-up) from the "
        "agents' status trail, cut at Tokyo midnight",
    ),
)
