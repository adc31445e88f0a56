"""A generated year of the contact trail, for the report benchmark and the report page's
browser test: calls with the kinds and data the engine writes (`calls`, `call_events`), the
agents' trail (`agent_events`) and the requests taken (`service_requests`), with the
March–April moving-season peak (about 30 % of the year's requests in those two months, as at
the model call centre), closed Sundays and holidays, a morning peak within the day.

Deterministic for a seed. Rows go in by day, one transaction a day, straight to the driver
(`ivr.store.bulk`): the engine's own writers append per call, and a year through them would
measure the writer, not the report.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import TOKYO
from ivr.store.bulk import bulk_insert
from ivr.store.staff import NewStaff, Role, StaffStore
from ivr.store.tables import agent_events, call_events, calls, service_requests

AGENTS = tuple(f"agent{n}" for n in range(1, 21))
QUEUES = ("general", "moving")
KINDS = ("start", "stop", "transfer_stop", "name_change", "phone_change", "reconnection")
# the season's days carry this many times an ordinary day's calls: 61 days × 2.14 ≈ 30 % of
# a year's 365 days
PEAK_FACTOR = 2.14


@dataclass
class _Rows:
    calls: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.calls)


def day_weight(day: date, is_open: Callable[[datetime], bool]) -> float:
    """A day's share of calls relative to an ordinary open day."""
    noon = datetime.combine(day, time(12), TOKYO)
    weight = PEAK_FACTOR if day.month in (3, 4) else 1.0
    return weight if is_open(noon) else 0.08 * weight


def _arrival(rng: random.Random, day: date, open_day: bool) -> datetime:
    """A call's start: within 08:30–19:00, busiest mid-morning; a few at night."""
    if not open_day or rng.random() < 0.04:
        minute = rng.uniform(0, 24 * 60)
    else:
        minute = min(max(510.0, rng.gauss(660, 150)), 1139.0)
    return datetime.combine(day, time(0), TOKYO) + timedelta(minutes=minute)


class _Call:
    """One generated call's trail."""

    def __init__(self, rows: _Rows, call_id: str, start: datetime, caller: str) -> None:
        self.rows, self.id, self.t = rows, call_id, start
        rows.calls.append(
            {
                "id": call_id,
                "caller_e164": caller,
                "caller_kind": "number",
                "account_id": None,
                "started_at": start,
                "ended_at": None,
                "reason_code": None,
            }
        )
        self.event("entered_ivr")

    def event(self, what: str, after: float = 0.0, **data: str) -> datetime:
        self.t += timedelta(seconds=after)
        self.rows.events.append({"call_id": self.id, "at": self.t, "kind": what, "data": data})
        return self.t

    def end(self, reason: str, after: float = 1.0) -> None:
        at = self.event("ended", after)
        self.rows.calls[-1]["ended_at"] = at
        self.rows.calls[-1]["reason_code"] = reason

    def agent(self, login: str, at: datetime, before: str, status: str) -> None:
        self.rows.agents.append(
            {
                "login": login,
                "at": at,
                "event": "x",
                "before": before,
                "status": status,
                "reason": None,
                "call_id": self.id if status != "ready" else None,
            }
        )

    def request(self, kind: str, channel: str) -> None:
        self.rows.requests.append(
            {
                "kind": kind,
                "status": "delivered",
                "fields": {},
                "channel": channel,
                "actor": channel,
                "call_id": self.id,
                "created_at": self.t,
            }
        )


def _queued(call: _Call, rng: random.Random, open_now: bool) -> None:
    queue = QUEUES[0] if rng.random() < 0.6 else QUEUES[1]
    call.event("to_queue", rng.uniform(20, 60), queue=queue)
    if not open_now:
        call.event("closed", 0.1, queue=queue, agent="")
        call.end("completed", 10)
        return
    call.event("enqueued", 0.1, queue=queue, agent="", detail="0")
    roll = rng.random()
    if roll < 0.84:
        wait = rng.expovariate(1 / 25)
        login = rng.choice(AGENTS)
        offered = call.event("offered", max(0.0, wait - 3), queue=queue, agent=login)
        answered = call.event("answered", min(wait, 3), queue=queue, agent=login)
        talk = rng.lognormvariate(math.log(200), 0.5)
        ended = call.event("call_ended", talk, queue=queue, agent=login, detail="caller")
        call.agent(login, offered, "ready", "offered")
        call.agent(login, answered, "offered", "on_call")
        call.agent(login, ended, "on_call", "wrap_up")
        call.agent(login, ended + timedelta(seconds=30), "wrap_up", "ready")
        if rng.random() < 0.4:
            call.request(rng.choice(KINDS), "agent")
        call.end("answered_by_agent")
    elif roll < 0.95:
        call.event("abandoned", rng.expovariate(1 / 45), queue=queue, agent="")
        call.end("abandoned_in_queue", 0.0)
    else:
        call.event("callback_offered", rng.uniform(60, 120), queue=queue, agent="")
        call.event("callback_scheduled", 5, queue=queue, agent="")
        call.end("callback_scheduled", 8)


def _one_call(
    rows: _Rows, rng: random.Random, call_id: str, start: datetime, open_now: bool
) -> None:
    call = _Call(rows, call_id, start, f"+8193{rng.randrange(10**7):07d}")
    call.event("entered", 0.2, flow="hotline", version="1")
    call.event("menu_choice", rng.uniform(5, 15), key="1", to="main")
    roll = rng.random()
    if roll < 0.72:
        _queued(call, rng, open_now)
    elif roll < 0.92:
        kind = rng.choice(KINDS)
        call.event("intake_created", rng.uniform(60, 180), kind=kind, node="intake")
        call.request(kind, "ivr")
        call.end("completed", 20)
    elif roll < 0.97:
        call.event("to_department", 10, department="construction")
        call.event("transfer_blind", 0.5, department="construction")
        call.event("transfer_connected", rng.uniform(5, 20), department="construction")
        call.end("handed_over")
    else:
        call.end("caller_hung_up", rng.uniform(5, 30))


class _Callers:
    """Which account a call is recognised as (`accounts` demo accounts; none: no account):
    `IDENTIFIED` of the calls, a `REPEAT` share of those from an account that called in the
    last few hundred calls (a caller trying again), the rest any account. Its own random
    sequence, so the trail is the same with or without accounts."""

    IDENTIFIED = 0.6
    REPEAT = 0.12

    def __init__(self, accounts: int, seed: int) -> None:
        self.accounts = accounts
        self.rng = random.Random(seed + 1)
        self.recent: deque[int] = deque(maxlen=500)

    def account(self) -> int | None:
        if not self.accounts or self.rng.random() >= self.IDENTIFIED:
            return None
        if self.recent and self.rng.random() < self.REPEAT:
            return self.rng.choice(self.recent)
        account = self.rng.randrange(1, self.accounts + 1)
        self.recent.append(account)
        return account


def generate_days(
    year: int,
    calls: int,
    is_open: Callable[[datetime], bool],
    seed: int = 2004,
    prefix: str = "gen",
    accounts: int = 0,
) -> Iterator[tuple[date, _Rows]]:
    """The year's trail, one day's rows at a time, `calls` calls in all (about); call ids
    are `prefix` and a serial number; with `accounts`, most calls are recognised as one of
    demo accounts 1 to `accounts` (`_Callers`)."""
    rng = random.Random(seed)
    callers = _Callers(accounts, seed)
    days = [date(year, 1, 1) + timedelta(days=n) for n in range(365)]
    weights = [day_weight(d, is_open) for d in days]
    per_weight = calls / sum(weights)
    serial = 0
    for day, weight in zip(days, weights, strict=True):
        rows = _Rows()
        count = int(round(weight * per_weight))
        open_day = weight >= 1.0
        starts = sorted(_arrival(rng, day, open_day) for _ in range(count))
        for start in starts:
            serial += 1
            _one_call(rows, rng, f"{prefix}-{serial:08d}", start.astimezone(UTC), is_open(start))
            rows.calls[-1]["account_id"] = callers.account()
        yield day, rows


async def add_agents(engine: AsyncEngine) -> None:
    store = StaffStore(engine)
    when = datetime(2000, 1, 1, tzinfo=UTC)
    for login in AGENTS:
        await store.add(NewStaff(login, login, Role.AGENT, f"PJSIP/{login}"), "hash", when)


async def write_rows(engine: AsyncEngine, rows: _Rows) -> None:
    """One transaction; the rows straight to the driver (COPY on PostgreSQL)."""
    async with engine.begin() as conn:
        await bulk_insert(conn, calls, rows.calls)
        await bulk_insert(conn, call_events, rows.events)
        await bulk_insert(conn, agent_events, rows.agents)
        await bulk_insert(conn, service_requests, rows.requests)


async def generate(
    engine: AsyncEngine,
    year: int,
    calls: int,
    is_open: Callable[[datetime], bool],
    seed: int = 2004,
    progress: Callable[[date, int], None] | None = None,
    accounts: int = 0,
) -> int:
    """Write the generated year into `engine` (agents included); the calls written. With
    `accounts`, most calls are recognised as one of accounts 1 to `accounts`, which must
    exist (`ivr.store.demo.demo` on a fresh database)."""
    await add_agents(engine)
    written = 0
    for day, rows in generate_days(year, calls, is_open, seed, accounts=accounts):
        await write_rows(engine, rows)
        written += len(rows)
        if progress is not None:
            progress(day, written)
    return written
