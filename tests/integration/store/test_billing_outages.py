"""Billing outages on virtual time: the outbox rides out hours and days of billing being down
(overnight maintenance is normal), dead-letters only past `retry_horizon_s`, and a 409 naming
the request's own key counts as delivered."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import OutboxConfig, parse_config
from ivr.domain import RequestKind
from ivr.errors import BillingUnavailable, ConfigError
from ivr.intake.billing import BillingDelivery, HttpBillingGateway
from ivr.intake.outbox import OutboxDispatcher, OutboxPolicy, outbox_backlog, pending
from ivr.intake.service import IntakeRequest, IntakeService
from ivr.store.tables import billing_outbox, service_requests
from tests.integration.store.storedata import NOW
from tests.support.pgcluster import free_port

pytestmark = pytest.mark.integration

# the engine's outbox job runs this often (billing.outbox.interval_s)
ROUND = timedelta(seconds=5)
HORIZON = timedelta(seconds=OutboxPolicy().retry_horizon_s)
# the shipped policy; for the long outages billing is probed every 15 minutes instead of every
# minute, only to keep the virtual-time run short (the retries and the horizon are the shipped ones)
SHIPPED = OutboxPolicy()
SLOW_PROBE = replace(SHIPPED, probe_s=900.0)


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Billing:
    """Billing that is down (HTTP 503) until `back_at`, then records each key once."""

    clock: Clock
    back_at: datetime
    posts: Counter[str] = field(default_factory=Counter)
    recorded: Counter[str] = field(default_factory=Counter)

    async def deliver(self, delivery: BillingDelivery) -> None:
        key = delivery.idempotency_key
        self.posts[key] += 1
        if self.clock.now < self.back_at:
            raise BillingUnavailable("HTTP 503")
        self.recorded[key] += 1


async def submit(engine: AsyncEngine, n: int, clock: Clock) -> None:
    intake = IntakeService(engine, business_days=lambda a, b, /: 0, clock=clock)
    for i in range(n):
        fields = {"address": f"本町{i}丁目"}
        await intake.submit(IntakeRequest(RequestKind.LEAK, "web", "web:form", fields))


async def states(engine: AsyncEngine) -> Counter[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(billing_outbox.c.state))
        return Counter(r[0] for r in rows)


async def next_due(engine: AsyncEngine) -> datetime | None:
    async with engine.connect() as conn:
        found: datetime | None = (
            await conn.execute(
                sa.select(sa.func.min(billing_outbox.c.next_attempt_at)).where(
                    billing_outbox.c.state == "pending"
                )
            )
        ).scalar()
        return found


@dataclass
class Run:
    rounds: int = 0
    # when requests were dead-lettered, one entry each
    died_at: list[datetime] = field(default_factory=list)
    drained_at: datetime | None = None


async def run_outbox(
    engine: AsyncEngine,
    dispatcher: OutboxDispatcher,
    clock: Clock,
    until: datetime,
    probe_s: float = SHIPPED.probe_s,
) -> Run:
    """The engine's outbox job on virtual time: a round every 5 s, skipping the rounds in
    which there is nothing to do (no row due and no probe of billing), until no row is pending
    or `until`."""
    probe = timedelta(seconds=probe_s)
    run = Run()
    while clock.now <= until:
        report = await dispatcher.deliver_due()
        run.rounds += 1
        run.died_at += [clock.now] * report.dead
        due = await next_due(engine)
        if due is None:
            run.drained_at = clock.now
            return run
        clock.now = max(clock.now + ROUND, min(due, clock.now + probe))
    return run


@pytest.mark.parametrize(
    ("down", "policy"),
    [
        (timedelta(hours=3), SHIPPED),
        (timedelta(hours=12), SLOW_PROBE),
        (timedelta(days=2.5), SLOW_PROBE),
    ],
    ids=["3h", "12h", "2.5d"],
)
async def test_billing_down_for_hours_or_days_delivers_every_request_once(
    sqlite_db: AsyncEngine, down: timedelta, policy: OutboxPolicy
) -> None:
    clock = Clock()
    await submit(sqlite_db, 3, clock)
    billing = Billing(clock, back_at=NOW + down)
    dispatcher = OutboxDispatcher(sqlite_db, billing, policy, clock=clock)

    run = await run_outbox(
        sqlite_db, dispatcher, clock, until=NOW + down + timedelta(days=1), probe_s=policy.probe_s
    )

    assert await states(sqlite_db) == {"delivered": 3}
    assert run.died_at == []
    assert sorted(billing.recorded.values()) == [1, 1, 1]
    # billing back: noticed by the next probe, and what waited out a long backoff is made due
    # at once, not up to an hour later
    assert run.drained_at is not None
    assert run.drained_at - billing.back_at <= timedelta(seconds=policy.probe_s) + ROUND
    async with sqlite_db.connect() as conn:
        statuses = (await conn.execute(sa.select(service_requests.c.status))).scalars().all()
    assert set(statuses) == {"delivered"}


async def test_billing_down_past_the_horizon_dead_letters_with_a_clear_error(
    sqlite_db: AsyncEngine,
) -> None:
    clock = Clock()
    await submit(sqlite_db, 3, clock)
    billing = Billing(clock, back_at=NOW + timedelta(days=30))
    dispatcher = OutboxDispatcher(sqlite_db, billing, SLOW_PROBE, clock=clock)

    run = await run_outbox(
        sqlite_db, dispatcher, clock, until=NOW + timedelta(days=4), probe_s=SLOW_PROBE.probe_s
    )

    assert await states(sqlite_db) == {"dead": 3}
    # never before the horizon, and soon after it (the hourly tries of its last stretch)
    assert len(run.died_at) == 3
    for died in run.died_at:
        assert HORIZON <= died - NOW <= HORIZON + timedelta(hours=2)
    tries = OutboxPolicy().tries
    for entry in await pending(sqlite_db):
        assert entry.attempts == tries == 79
        assert entry.last_error is not None
        assert entry.last_error.startswith(f"gave up after {tries} tries over 72.")
        assert entry.last_error.endswith("(billing.outbox.retry_horizon_s 259200): HTTP 503")
    backlog = await outbox_backlog(sqlite_db)
    assert (backlog.pending, backlog.dead) == (0, 3)
    async with sqlite_db.connect() as conn:
        statuses = (await conn.execute(sa.select(service_requests.c.status))).scalars().all()
    assert set(statuses) == {"failed"}


async def test_the_backlog_counts_what_waits_and_what_is_dead(sqlite_db: AsyncEngine) -> None:
    clock = Clock()
    await submit(sqlite_db, 4, clock)
    billing = Billing(clock, back_at=NOW + timedelta(days=30))
    dispatcher = OutboxDispatcher(sqlite_db, billing, OutboxPolicy(), clock=clock)
    assert (await dispatcher.backlog()).billing_reachable is None

    await dispatcher.deliver_due()

    backlog = await dispatcher.backlog()
    assert (backlog.pending, backlog.dead, backlog.billing_reachable) == (4, 0, False)
    assert backlog.oldest_pending_at == NOW
    assert backlog.to_json() == {
        "pending": 4,
        "dead": 0,
        "oldest_pending_at": NOW.isoformat(timespec="seconds"),
        "billing_reachable": False,
    }


def test_the_shipped_policy_retries_for_three_days() -> None:
    policy = OutboxPolicy.from_config(OutboxConfig())
    assert policy == OutboxPolicy()
    assert policy.retry_horizon_s == 3 * 86400
    waits = [policy.backoff(n).total_seconds() for n in range(1, policy.tries)]
    assert waits[:8] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    assert sum(waits) >= policy.retry_horizon_s > sum(waits[:-1])
    # a long outage's attempt count does not overflow the backoff
    assert policy.backoff(10_000) == timedelta(hours=1)


def test_an_attempt_limit_that_gives_up_before_the_horizon_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"billing\.outbox: .*max_attempts 10 gives up before"):
        parse_config({"billing": {"outbox": {"max_attempts": 10}}}, {})
    with pytest.raises(ValueError, match="gives up before the retry horizon"):
        OutboxPolicy(max_attempts=10)
    longer = parse_config({"billing": {"outbox": {"max_attempts": 100}}}, {})
    assert OutboxPolicy.from_config(longer.billing.outbox).tries == 100
    short = parse_config({"billing": {"outbox": {"retry_horizon_s": 3600}}}, {})
    assert OutboxPolicy.from_config(short.billing.outbox).tries == 8


class DuplicateBilling:
    """A billing API that answers 409: naming the key (header or JSON body) or not."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.port = free_port()
        self.posts = 0
        self._runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.posts += 1
        key = request.headers["Idempotency-Key"]
        if self.how == "header":
            return web.Response(status=409, headers={"Idempotency-Key": key})
        if self.how == "body":
            return web.json_response({"error": "duplicate", "idempotency_key": key}, status=409)
        if self.how == "other-key":
            return web.json_response({"idempotency_key": "someone-else"}, status=409)
        return web.json_response({"error": "in progress"}, status=409)

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_post("/requests", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return f"http://127.0.0.1:{self.port}/requests"

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.parametrize(
    ("how", "outcome"),
    [("header", "delivered"), ("body", "delivered"), ("other-key", "pending"), ("bare", "pending")],
)
async def test_a_409_naming_the_same_key_is_delivered_any_other_is_retried(
    engine: AsyncEngine, http: aiohttp.ClientSession, how: str, outcome: str
) -> None:
    clock = Clock()
    await submit(engine, 2, clock)
    server = DuplicateBilling(how)
    async with server as url:
        dispatcher = OutboxDispatcher(engine, HttpBillingGateway(http, url), clock=clock)
        report = await dispatcher.deliver_due()
    assert await states(engine) == {outcome: 2}
    if outcome == "delivered":
        assert (report.delivered, server.posts) == (2, 2)
    else:
        # "still being processed" (or about another key) is billing busy: try again later
        assert (report.failed, report.skipped, server.posts) == (1, 1, 1)
        (first, _) = await pending(engine)
        assert (first.attempts, first.last_error) == (1, "HTTP 409")
