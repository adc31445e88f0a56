"""Staffing from arrivals and handle times: Erlang C (callers wait forever) and Erlang A
(callers hang up after an exponential patience), pure functions, no I/O.

Erlang C (M/M/N): the offered load is A = λ·AHT erlangs; with N agents (N > A) the probability
that a caller waits is the Erlang C formula Pw, computed here through the Erlang B recursion
(stable for hundreds of agents); service level SL(T) = 1 − Pw·e^(−(N−A)·T/AHT); the average
speed of answer ASA = Pw·AHT/(N−A); occupancy = A/N. Seats after shrinkage: ⌈N / (1 − s)⌉.

Erlang A (M/M/N+M): the same queue where a waiting caller abandons at rate θ = 1/patience. The
birth–death chain (arrivals λ; n ≤ N in the system: deaths n·μ; n > N: N·μ + (n−N)·θ) is solved
exactly, truncated where its terms vanish. P(wait) = P(an arrival finds N or more); P(abandon)
= abandonment flow / λ; answered within T (share of ALL arrivals, abandons in the denominator)
comes from the tagged caller's way to the head of the queue (uniformisation). As patience grows
Erlang A tends to Erlang C.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FORMULAS: tuple[tuple[str, str], ...] = (
    ("load", "A = λ · AHT erlangs (λ: calls per second; AHT: talk + hold + wrap-up)"),
    ("Erlang C P(wait)", "Pw = (A^N/N! · N/(N−A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N−A))"),
    ("Erlang C service level", "SL(T) = 1 − Pw · e^(−(N−A)·T/AHT)"),
    ("Erlang C ASA", "ASA = Pw · AHT / (N − A)"),
    ("occupancy", "A / N (Erlang A: mean busy agents / N)"),
    (
        "Erlang A",
        "M/M/N+M: callers abandon at θ = 1 / patience; measured patience = Σ wait of all queue "
        "contacts / abandons; SL(T) = answered within T / all arrivals",
    ),
    ("seats after shrinkage", "⌈N / (1 − shrinkage)⌉"),
    (
        "agents needed",
        "the fewest N with SL(T) ≥ the target (and ASA, occupancy within their caps if set)",
    ),
)
"""The staffing figures' formulas, printed with them (`hotline staffing`, the console)."""

# the birth–death chain is cut where a state's probability falls below this share of the sum
_TAIL = 1e-14
# the truncated chain never grows beyond this many waiting callers
_MAX_QUEUE = 20_000


@dataclass(frozen=True, slots=True)
class Interval:
    """What arrives in one interval: `calls` in `length_s` seconds, each taking `aht_s` (talk +
    hold + wrap-up), and (Erlang A) how long callers wait on average before hanging up."""

    calls: float
    length_s: float
    aht_s: float
    patience_s: float | None = None

    @property
    def rate(self) -> float:
        """Arrivals per second (λ)."""
        return self.calls / self.length_s

    @property
    def load(self) -> float:
        """Offered load in erlangs, A = λ·AHT."""
        return self.rate * self.aht_s


@dataclass(frozen=True, slots=True)
class Target:
    """What the staffing must achieve: `service_level` of callers answered within
    `answer_s`; optionally an ASA bound and an occupancy cap; `shrinkage` the share of paid
    time not on the phones (breaks, training, absence)."""

    service_level: float = 0.8
    answer_s: float = 20.0
    max_asa_s: float | None = None
    max_occupancy: float | None = None
    shrinkage: float = 0.0


@dataclass(frozen=True, slots=True)
class Staffing:
    """One staffing level's figures. `service_level` is of answered-or-abandoned arrivals
    (Erlang A: answered within T ÷ all arrivals); `abandon` is 0 in Erlang C."""

    model: str
    agents: int
    load: float
    p_wait: float
    service_level: float
    asa_s: float
    occupancy: float
    abandon: float
    seats: int


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of `agents` servers with `load` erlangs (the recursion B(n) =
    A·B(n−1) / (n + A·B(n−1)), B(0) = 1)."""
    b = 1.0
    for n in range(1, agents + 1):
        b = load * b / (n + load * b)
    return b


def erlang_c(agents: int, load: float) -> float:
    """Probability that a caller waits (Erlang C); 1.0 when the agents cannot keep up (N ≤ A)."""
    if agents <= load:
        return 1.0
    b = erlang_b(agents, load)
    return agents * b / (agents - load * (1 - b))


def seats(agents: int, shrinkage: float) -> int:
    """People to schedule so that `agents` are on the phones after `shrinkage`."""
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage must be in [0, 1)")
    # a hair below an integer is that integer: 14 / 0.7 is 20.000000000000004 in floats
    return math.ceil(agents / (1 - shrinkage) - 1e-9)


def erlang_c_staffing(
    agents: int, interval: Interval, answer_s: float, shrinkage: float = 0.0
) -> Staffing:
    """Erlang C figures for `agents` on `interval` with the answer threshold `answer_s`."""
    load = interval.load
    pw = erlang_c(agents, load)
    if agents <= load:
        return Staffing(
            "erlang_c", agents, load, 1.0, 0.0, math.inf, 1.0, 0.0, seats(agents, shrinkage)
        )
    spare = agents - load
    sl = 1 - pw * math.exp(-spare * answer_s / interval.aht_s)
    asa = pw * interval.aht_s / spare
    return Staffing(
        "erlang_c", agents, load, pw, sl, asa, load / agents, 0.0, seats(agents, shrinkage)
    )


def erlang_a_staffing(
    agents: int, interval: Interval, answer_s: float, shrinkage: float = 0.0
) -> Staffing:
    """Erlang A figures for `agents` on `interval` (its `patience_s` must be set)."""
    if interval.patience_s is None or interval.patience_s <= 0:
        raise ValueError("Erlang A needs a mean patience (patience_s > 0)")
    chain = _Chain(agents, interval.rate, 1 / interval.aht_s, 1 / interval.patience_s)
    return Staffing(
        "erlang_a",
        agents,
        interval.load,
        chain.p_wait(),
        chain.answered_within(answer_s),
        chain.asa_s(),
        chain.occupancy(),
        chain.p_abandon(),
        seats(agents, shrinkage),
    )


def staffing(agents: int, interval: Interval, answer_s: float, shrinkage: float = 0.0) -> Staffing:
    """Erlang A when the interval has a patience, else Erlang C."""
    model = erlang_c_staffing if interval.patience_s is None else erlang_a_staffing
    return model(agents, interval, answer_s, shrinkage)


def agents_needed(interval: Interval, target: Target, *, erlang_a: bool = False) -> Staffing:
    """The fewest agents that meet `target` on `interval` (Erlang C, or Erlang A with the
    interval's patience), with their figures."""
    if interval.calls <= 0:
        return Staffing("erlang_c", 0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0)
    model = erlang_a_staffing if erlang_a else erlang_c_staffing
    # Erlang C needs N > A; Erlang A can be stable below it, but never meets a target there
    agents = max(1, math.floor(interval.load) + (0 if erlang_a else 1))
    while True:
        figures = model(agents, interval, target.answer_s, target.shrinkage)
        if _meets(figures, target):
            return figures
        agents += 1


def side_by_side(interval: Interval, target: Target) -> tuple[Staffing, Staffing | None]:
    """Erlang C (the interval's patience ignored) beside Erlang A (None without a patience):
    the agents each needs for `target`, with their figures."""
    plain = Interval(interval.calls, interval.length_s, interval.aht_s)
    c = agents_needed(plain, target)
    a = agents_needed(interval, target, erlang_a=True) if interval.patience_s else None
    return c, a


def _meets(figures: Staffing, target: Target) -> bool:
    if figures.service_level < target.service_level:
        return False
    if target.max_asa_s is not None and figures.asa_s > target.max_asa_s:
        return False
    return target.max_occupancy is None or figures.occupancy <= target.max_occupancy


class _Chain:
    """The M/M/N+M birth–death chain, solved once: `pi[n]` is P(n callers in the system)."""

    def __init__(self, agents: int, lam: float, mu: float, theta: float) -> None:
        self.n, self.lam, self.mu, self.theta = agents, lam, mu, theta
        weights = [1.0]
        total = 1.0
        state = 0
        while True:
            state += 1
            w = weights[-1] * lam / self._death(state)
            weights.append(w)
            total += w
            if state > agents and (w < _TAIL * total or state - agents > _MAX_QUEUE):
                break
        self.pi = [w / total for w in weights]

    def _death(self, state: int) -> float:
        if state <= self.n:
            return state * self.mu
        return self.n * self.mu + (state - self.n) * self.theta

    def p_wait(self) -> float:
        return sum(self.pi[self.n :])

    def p_abandon(self) -> float:
        flow = sum(p * (k - self.n) * self.theta for k, p in enumerate(self.pi) if k > self.n)
        return flow / self.lam

    def occupancy(self) -> float:
        busy = sum(p * min(k, self.n) for k, p in enumerate(self.pi))
        return busy / self.n

    def asa_s(self) -> float:
        """Mean wait of the callers who are answered (those who abandon are not in it)."""
        answered = 1 - self.p_abandon()
        return self._answered_wait() / answered if answered > 0 else math.inf

    def _answered_wait(self) -> float:
        """E[wait · 1(answered)] per arrival: a caller with j ahead passes stages of rate
        N·μ + (i+1)·θ (i = j..0), each an advance with probability (N·μ + i·θ)/(that rate)."""
        total = 0.0
        for j, p in enumerate(self.pi[self.n :]):
            if p == 0.0:
                continue
            served, mean = 1.0, 0.0
            for i in range(j, -1, -1):
                rate = self.n * self.mu + (i + 1) * self.theta
                served *= (self.n * self.mu + i * self.theta) / rate
                mean += 1 / rate
            total += p * served * mean
        return total

    def answered_within(self, answer_s: float) -> float:
        """Share of all arrivals answered within `answer_s` (no wait counts as within)."""
        nm = self.n * self.mu
        queue = self.pi[self.n :]
        top = len(queue)
        fastest = nm + top * self.theta
        steps_mean = fastest * answer_s
        steps = int(steps_mean + 12 * math.sqrt(steps_mean) + 30)
        # mass[i]: waiting with i callers ahead, not yet served nor gone; uniformised at `fastest`
        mass = list(queue)
        served = 0.0
        within = 0.0
        for k in range(steps + 1):
            # the Poisson weight in logs: e^(−ΛT) underflows for a long threshold
            within += served * math.exp(k * math.log(steps_mean) - steps_mean - math.lgamma(k + 1))
            moved = [0.0] * top
            for i, m in enumerate(mass):
                if m == 0.0:
                    continue
                advance = nm + i * self.theta
                stay = 1 - (advance + self.theta) / fastest
                moved[i] += m * stay
                if i == 0:
                    served += m * advance / fastest
                else:
                    moved[i - 1] += m * advance / fastest
            mass = moved
        return sum(self.pi[: self.n]) + within
