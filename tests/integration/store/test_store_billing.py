from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import RequestKind
from ivr.intake.billing import (
    BillingDelivery,
    DatabaseBillingGateway,
    HttpBillingGateway,
    MemoryBillingGateway,
)
from ivr.intake.outbox import OutboxDispatcher, OutboxPolicy, pending, retry
from ivr.intake.payload import BillingRequestV1
from ivr.intake.service import IntakeRequest, IntakeService
from ivr.store.db import open_engine
from ivr.store.tables import billing_outbox, service_requests
from tests.integration.store.storedata import NOW, cust, seed
from tests.support.pgcluster import free_port

pytestmark = pytest.mark.integration

POLICY = OutboxPolicy(backoff_base_s=10, backoff_max_s=60, lease_s=30)


class Billing:
    """A real HTTP billing endpoint: mode 'ok', 500, 400; dedupes on Idempotency-Key."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.mode: str | int = "ok"
        self.stored: dict[str, dict[str, object]] = {}
        self.posts: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/requests"

    async def handle(self, request: web.Request) -> web.Response:
        key = request.headers["Idempotency-Key"]
        self.posts[key] += 1
        if self.mode != "ok":
            return web.json_response({"error": "down"}, status=int(self.mode))
        body = await request.json()
        replay = key in self.stored
        self.stored.setdefault(key, body)
        if not replay:
            self.accepted[key] += 1
        return web.json_response({"id": key}, status=200 if replay else 201)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/requests", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def billing() -> AsyncIterator[Billing]:
    server = Billing(free_port())  # not started: connections are refused until a test starts it
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def weekdays(start: date, end: date, /) -> int:
    return sum(1 for n in range(1, (end - start).days + 1) if (start + timedelta(n)).weekday() < 5)


async def submit_mix(engine: AsyncEngine, leaks: int, transfers: int) -> int:
    intake = IntakeService(engine, business_days=weekdays, clock=lambda: NOW)
    for i in range(leaks):
        await intake.submit(
            IntakeRequest(RequestKind.LEAK, "web", "web:form", {"address": f"本町{i}丁目"})
        )
    for _ in range(transfers):
        fields = {
            "customer_number": cust(1),
            "stop_date": "2026-03-10",
            "start_date": "2026-03-10",
            "new_premise_id": 201,
        }
        await intake.submit(IntakeRequest(RequestKind.TRANSFER, "agent", "agent:a1", fields))
    return leaks + 2 * transfers


async def states(engine: AsyncEngine) -> Counter[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(billing_outbox.c.state))
        return Counter(r[0] for r in rows)


async def test_billing_down_then_failing_then_up(
    engine: AsyncEngine, billing: Billing, http: aiohttp.ClientSession
) -> None:
    await seed(engine)
    n = await submit_mix(engine, leaks=8, transfers=2)
    gateway = HttpBillingGateway(http, billing.url, timeout_s=5)
    dispatcher = OutboxDispatcher(engine, gateway, POLICY)

    refused = await dispatcher.deliver_due(NOW)
    assert (refused.delivered, refused.failed, refused.skipped) == (0, 1, n - 1)

    billing.mode = 500
    await billing.start()
    for hour in (1, 2):
        report = await dispatcher.deliver_due(NOW + timedelta(hours=hour))
        assert (report.delivered, report.failed) == (0, 1)
    assert await states(engine) == {"pending": n}

    billing.mode = "ok"
    report = await dispatcher.deliver_due(NOW + timedelta(hours=3))
    assert report.delivered == n
    assert await states(engine) == {"delivered": n}
    assert len(billing.stored) == n
    assert set(billing.accepted.values()) == {1}
    assert sum(billing.posts.values()) == n + 2  # the two 500s, nothing else twice
    async with engine.connect() as conn:
        statuses = (await conn.execute(sa.select(service_requests.c.status))).scalars().all()
    assert set(statuses) == {"delivered"}
    assert (await dispatcher.deliver_due(NOW + timedelta(hours=4))).delivered == 0


class CrashAfter:
    """Delivers for real, then 'kills the engine' before the outbox can record it."""

    def __init__(self, inner: HttpBillingGateway, after: int) -> None:
        self.inner = inner
        self.left = after

    async def deliver(self, delivery: BillingDelivery) -> None:
        await self.inner.deliver(delivery)
        self.left -= 1
        if self.left == 0:
            raise RuntimeError("engine killed")


async def test_restart_after_crash_delivers_the_rest_once(
    db_url: str, billing: Billing, http: aiohttp.ClientSession
) -> None:
    first = open_engine(db_url)
    await seed(first)
    n = await submit_mix(first, leaks=5, transfers=0)
    await billing.start()
    crashing = OutboxDispatcher(first, CrashAfter(HttpBillingGateway(http, billing.url), 3), POLICY)
    with pytest.raises(RuntimeError, match="engine killed"):
        await crashing.deliver_due(NOW)
    await first.dispose()

    second = open_engine(db_url)
    try:
        restarted = OutboxDispatcher(second, HttpBillingGateway(http, billing.url), POLICY)
        # the row in flight at the crash is leased; it comes back once the lease runs out
        early = await restarted.deliver_due(NOW + timedelta(seconds=1))
        assert early.delivered == n - 3
        late = await restarted.deliver_due(NOW + timedelta(seconds=POLICY.lease_s + 1))
        assert late.delivered == 1
        assert await states(second) == {"delivered": n}
    finally:
        await second.dispose()
    assert len(billing.stored) == n
    assert set(billing.accepted.values()) == {1}
    assert sorted(billing.posts.values()) == [1] * (n - 1) + [2]  # the replay carried its key


async def test_pending_rows_survive_a_restart_database_billing(db_url: str, tmp_path: Path) -> None:
    first = open_engine(db_url)
    await seed(first)
    n = await submit_mix(first, leaks=3, transfers=1)
    await first.dispose()

    billing_engine = open_engine(f"sqlite+aiosqlite:///{tmp_path / 'billing.sqlite3'}")
    second = open_engine(db_url)
    try:
        gateway = DatabaseBillingGateway(billing_engine)
        await gateway.ensure_schema()
        assert len(await pending(second)) == n
        report = await OutboxDispatcher(second, gateway, POLICY).deliver_due(NOW)
        assert report.delivered == n
        assert await pending(second) == []
        received = await gateway.received()
        assert len(received) == n
        kinds = Counter(r["kind"] for r in received)
        assert kinds == {"leak": 3, "transfer_stop": 1, "transfer_start": 1}
        # billing upserts on the key: a replay is not a second request
        again = received[0]
        await gateway.deliver(
            BillingDelivery(again["idempotency_key"], again["request_id"], again["payload"])
        )
        assert len(await gateway.received()) == n
    finally:
        await second.dispose()
        await billing_engine.dispose()


async def test_dead_letter_and_retry(
    engine: AsyncEngine, billing: Billing, http: aiohttp.ClientSession
) -> None:
    await seed(engine)
    await submit_mix(engine, leaks=1, transfers=0)
    billing.mode = 503
    await billing.start()
    # tries 1, 2, 4, 5 s apart span the 10 s horizon: the fifth failure is the last
    policy = OutboxPolicy(retry_horizon_s=10, backoff_base_s=1, backoff_max_s=5)
    dispatcher = OutboxDispatcher(engine, HttpBillingGateway(http, billing.url), policy)
    reports = [await dispatcher.deliver_due(NOW + timedelta(minutes=m)) for m in range(6)]
    assert [(r.failed, r.dead) for r in reports] == [(1, 0)] * 4 + [(0, 1), (0, 0)]
    (dead,) = await pending(engine)
    assert (dead.state, dead.attempts) == ("dead", 5)
    assert dead.last_error == (
        "gave up after 5 tries over 0.1 h (billing.outbox.retry_horizon_s 10): HTTP 503"
    )
    assert await pending(engine, include_dead=False) == []
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(service_requests.c.status))).scalar() == "failed"

    billing.mode = "ok"
    assert await retry(engine, now=NOW + timedelta(minutes=7)) == 1
    assert (await dispatcher.deliver_due(NOW + timedelta(minutes=7))).delivered == 1
    assert await retry(engine, [dead.id]) == 0  # delivered rows are never re-sent
    assert len(billing.stored) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(sa.select(service_requests.c.status))).scalar() == "delivered"


async def test_rejected_request_is_dead_at_once(
    engine: AsyncEngine, billing: Billing, http: aiohttp.ClientSession
) -> None:
    await seed(engine)
    await submit_mix(engine, leaks=2, transfers=0)
    billing.mode = 422
    await billing.start()
    dispatcher = OutboxDispatcher(engine, HttpBillingGateway(http, billing.url), POLICY)
    report = await dispatcher.deliver_due(NOW)
    assert (report.dead, report.delivered) == (2, 0)  # a rejection does not stop the batch


async def test_the_engines_outbox_task_delivers_due_rows(engine: AsyncEngine) -> None:
    from ivr.app import deliver_outbox
    from ivr.intake.billing import MemoryBillingGateway

    await seed(engine)
    n = await submit_mix(engine, leaks=3, transfers=0)
    gateway = MemoryBillingGateway()
    dispatcher = OutboxDispatcher(engine, gateway, POLICY)
    task = asyncio.create_task(deliver_outbox(dispatcher, interval_s=0.05), name="outbox")
    try:
        async with asyncio.timeout(10):
            # the task's rounds come on their own timer: nothing here can signal them
            while len(gateway.received) < n:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    finally:
        # as the engine stops it: between deliveries (one still running when the test's
        # database goes away would fail the teardown)
        await dispatcher.hold()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        dispatcher.release()
    assert len(gateway.received) == n


async def set_payload(engine: AsyncEngine, outbox_id: int, payload: object) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(billing_outbox)
            .where(billing_outbox.c.id == outbox_id)
            .values(payload=payload)
        )


async def test_a_row_that_is_no_billing_request_is_dead_lettered(engine: AsyncEngine) -> None:
    await seed(engine)
    n = await submit_mix(engine, leaks=5, transfers=0)
    first, second, third, *_ = await pending(engine)
    await set_payload(engine, first.id, {"kind": "leak", "customer_number": cust(1)})
    await set_payload(engine, second.id, {**second.payload, "schema_version": 2})
    await set_payload(engine, third.id, [1, 2, 3])
    gateway = MemoryBillingGateway()

    report = await OutboxDispatcher(engine, gateway, POLICY).deliver_due(NOW)

    assert (report.delivered, report.dead, report.failed) == (n - 3, 3, 0)
    assert len(gateway.received) == n - 3
    dead = {row.id: row for row in await pending(engine)}
    assert set(dead) == {first.id, second.id, third.id}
    assert all(row.state == "dead" and row.attempts == 1 for row in dead.values())
    assert (
        dead[second.id].last_error == "invalid billing request: schema_version: Input should be 1"
    )
    assert dead[third.id].last_error == "invalid billing request: Input should be an object"
    first_error = dead[first.id].last_error or ""
    assert first_error.startswith("invalid billing request: request_id: Field required")
    assert cust(1) not in first_error
    async with engine.connect() as conn:
        failed = (
            await conn.execute(
                sa.select(service_requests.c.id).where(service_requests.c.status == "failed")
            )
        ).scalars()
        assert set(failed) == {first.request_id, second.request_id, third.request_id}


async def test_a_payload_of_the_wrong_request_is_dead_lettered(engine: AsyncEngine) -> None:
    await seed(engine)
    await submit_mix(engine, leaks=2, transfers=0)
    first, second = await pending(engine)
    await set_payload(engine, first.id, second.payload)
    gateway = MemoryBillingGateway()
    report = await OutboxDispatcher(engine, gateway, POLICY).deliver_due(NOW)
    assert (report.delivered, report.dead) == (1, 1)
    (dead,) = await pending(engine)
    assert dead.id == first.id
    assert dead.last_error == "invalid billing request: request_id is not the outbox row's"


async def test_text_that_is_not_json_is_dead_lettered(sqlite_db: AsyncEngine) -> None:
    # SQLite only: PostgreSQL's json type refuses such text before it is ever stored
    engine = sqlite_db
    await seed(engine)
    n = await submit_mix(engine, leaks=3, transfers=0)
    first, *_ = await pending(engine)
    async with engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE billing_outbox SET payload = :text WHERE id = :id"),
            {"text": '{"kind": "leak", ', "id": first.id},
        )
    (listed, *_) = await pending(engine)  # listing the outbox does not trip over it either
    assert (listed.id, listed.payload) == (first.id, {})

    report = await OutboxDispatcher(engine, MemoryBillingGateway(), POLICY).deliver_due(NOW)

    assert (report.delivered, report.dead) == (n - 1, 1)
    (dead,) = await pending(engine)
    assert dead.id == first.id
    assert (dead.last_error or "").startswith("invalid billing request: Invalid JSON")


async def test_rows_written_before_the_schema_version_are_delivered(engine: AsyncEngine) -> None:
    await seed(engine)
    n = await submit_mix(engine, leaks=1, transfers=1)
    for row in await pending(engine):
        legacy = {k: v for k, v in row.payload.items() if k != "schema_version"}
        await set_payload(engine, row.id, legacy)
    gateway = MemoryBillingGateway()

    report = await OutboxDispatcher(engine, gateway, POLICY).deliver_due(NOW)

    assert report.delivered == n
    bodies = [d.payload for d in gateway.received.values()]
    assert [b["schema_version"] for b in bodies] == [1] * n
    assert sorted(str(b["kind"]) for b in bodies) == ["leak", "transfer_start", "transfer_stop"]
    for body in bodies:
        assert BillingRequestV1.model_validate(body).to_json() == body


async def test_billing_gets_what_the_service_wrote(engine: AsyncEngine) -> None:
    await seed(engine)
    await submit_mix(engine, leaks=0, transfers=1)
    written = {row.request_id: dict(row.payload) for row in await pending(engine)}
    gateway = MemoryBillingGateway()
    await OutboxDispatcher(engine, gateway, POLICY).deliver_due(NOW)
    received = {d.request_id: dict(d.payload) for d in gateway.received.values()}
    assert received == written
    stop, start = (BillingRequestV1.model_validate(written[k]) for k in sorted(written))
    assert (stop.kind, start.kind) == ("transfer_stop", "transfer_start")
    assert (stop.linked_request_id, start.linked_request_id) == (start.request_id, stop.request_id)
    assert stop.confirmation == start.confirmation
    assert stop.created_at == start.created_at == NOW
    assert "start_date" not in stop.fields
    assert "stop_date" not in start.fields
