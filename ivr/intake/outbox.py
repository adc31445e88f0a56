"""Transactional outbox delivery to billing: retries with backoff, dead letters, exactly-once keys.

The intake service writes an outbox row in the same transaction as the request. `deliver_due(now)`
takes due rows in order, claims each one (a lease: `next_attempt_at` moved forward, so another
engine or a crash mid-delivery cannot lose or double-claim it), hands it to the `BillingGateway`
and records the result. Billing sees each request once because every delivery of a row carries the
row's idempotency key, including a re-delivery after a crash between billing's answer and our
commit.

While billing is unreachable the rest of a batch is left untouched (no attempt is burned on rows
that were never tried), so a long outage does not push healthy requests into the dead letter.

Each row's payload is read back as a `BillingRequestV1` before it is delivered: one that is not
(garbled, or written by a newer engine) is dead-lettered at once, its `last_error` saying what is
wrong, and the batch goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.errors import BillingRejected, BillingUnavailable
from ivr.intake.billing import BillingDelivery, BillingGateway
from ivr.intake.payload import BillingRequestV1, describe_invalid, read_billing_request
from ivr.store.models import OutboxEntry
from ivr.store.tables import billing_outbox, service_requests

log = logging.getLogger(__name__)

OUTBOX_JOB_ID = "billing-outbox"


@dataclass(frozen=True)
class OutboxPolicy:
    max_attempts: int = 10
    """Failures before a row is dead-lettered (≈ 17 h with the defaults below)."""
    backoff_base_s: float = 30.0
    backoff_max_s: float = 3600.0
    lease_s: float = 120.0
    """How long a claimed row is ours; longer than the gateway's timeout."""
    batch_size: int = 200

    def backoff(self, attempts: int) -> timedelta:
        """Delay after the `attempts`-th failure: base · 2^(attempts-1), capped."""
        delay = self.backoff_base_s * (2 ** max(attempts - 1, 0))
        return timedelta(seconds=min(delay, self.backoff_max_s))


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0
    """Rows left for the next run because billing was unreachable or another worker had them."""


_Outcome = Literal["delivered", "failed", "dead", "skipped"]


def _outbox_select() -> sa.Select[Any]:
    """The outbox rows with the payload as the JSON text stored: a row whose text is not JSON
    (SQLite keeps whatever it is given) must not break the reading of its neighbours."""
    columns = [c for c in billing_outbox.c if c.name != "payload"]
    return sa.select(*columns, sa.cast(billing_outbox.c.payload, sa.Text).label("payload"))


def _entry(row: Any) -> OutboxEntry:
    fields = dict(row)
    fields["payload"] = _json_object(fields["payload"])
    return OutboxEntry(**fields)


def _json_object(text: str | None) -> dict[str, Any]:
    """The payload as listed by `pending`: {} for one that is not a JSON object."""
    try:
        value = json.loads(text or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _billing_request(entry: OutboxEntry, text: str | None) -> BillingRequestV1 | str:
    """The row's payload as a billing request, or what is wrong with it (no personal data)."""
    try:
        request = read_billing_request(text or "")
    except ValidationError as exc:
        return describe_invalid(exc)
    if request.request_id != entry.request_id:
        return "invalid billing request: request_id is not the outbox row's"
    return request


def _utcnow() -> datetime:
    return datetime.now(UTC)


class OutboxDispatcher:
    def __init__(
        self,
        engine: AsyncEngine,
        gateway: BillingGateway,
        policy: OutboxPolicy | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._engine = engine
        self._gateway = gateway
        self._policy = policy or OutboxPolicy()
        self._clock = clock
        self._running = asyncio.Lock()

    async def hold(self) -> None:
        """Wait for the delivery in flight (if any) and keep others from starting; `release`
        ends it. Shutdown holds the dispatcher so no delivery is cut off mid-transaction."""
        await self._running.acquire()

    def release(self) -> None:
        self._running.release()

    async def deliver_due(self, now: datetime | None = None) -> DeliveryReport:
        """Deliver every row due at `now` (default: the clock). Safe to call concurrently."""
        async with self._running:
            return await self._deliver_due(now or self._clock())

    async def _deliver_due(self, now: datetime) -> DeliveryReport:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                _outbox_select()
                .where(
                    billing_outbox.c.state == "pending",
                    billing_outbox.c.next_attempt_at <= now,
                )
                .order_by(billing_outbox.c.next_attempt_at, billing_outbox.c.id)
                .limit(self._policy.batch_size)
            )
            due = [(_entry(r), r["payload"]) for r in rows.mappings()]
        counts = dict.fromkeys(("delivered", "failed", "dead", "skipped"), 0)
        for i, (entry, text) in enumerate(due):
            outcome, go_on = await self._deliver_one(entry, text, now)
            counts[outcome] += 1
            if not go_on:
                counts["skipped"] += len(due) - i - 1
                log.warning("billing unavailable; %d outbox rows wait", len(due) - i)
                break
        return DeliveryReport(**counts)

    async def _deliver_one(
        self, entry: OutboxEntry, text: str | None, now: datetime
    ) -> tuple[_Outcome, bool]:
        """Claim and deliver one due row; the outcome, and False once billing is unreachable
        (the rest of the batch waits)."""
        if not await self._claim(entry, now):
            return "skipped", True
        request = _billing_request(entry, text)
        if isinstance(request, str):
            # no retry can mend it; the engine that wrote it, or an operator, has to
            log.error("outbox row %d holds no billing request: %s", entry.id, request)
            await self._failed(entry, now, request, permanent=True)
            return "dead", True
        try:
            await self._gateway.deliver(BillingDelivery.of(entry.idempotency_key, request))
        except BillingUnavailable as exc:
            dead = await self._failed(entry, now, str(exc), permanent=False)
            return ("dead" if dead else "failed"), False
        except BillingRejected as exc:
            await self._failed(entry, now, str(exc), permanent=True)
            return "dead", True
        await self._delivered(entry, self._clock())
        return "delivered", True

    async def _claim(self, entry: OutboxEntry, now: datetime) -> bool:
        lease_until = now + timedelta(seconds=self._policy.lease_s)
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.update(billing_outbox)
                .where(
                    billing_outbox.c.id == entry.id,
                    billing_outbox.c.state == "pending",
                    billing_outbox.c.next_attempt_at == entry.next_attempt_at,
                )
                .values(next_attempt_at=lease_until)
            )
            return result.rowcount == 1

    async def _delivered(self, entry: OutboxEntry, at: datetime) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(billing_outbox)
                .where(billing_outbox.c.id == entry.id)
                .values(
                    state="delivered",
                    attempts=billing_outbox.c.attempts + 1,
                    delivered_at=at,
                    last_error=None,
                )
            )
            await conn.execute(
                sa.update(service_requests)
                .where(service_requests.c.id == entry.request_id)
                .values(status="delivered")
            )

    async def _failed(self, entry: OutboxEntry, now: datetime, error: str, permanent: bool) -> bool:
        """Record a failure; True if the row is now dead."""
        attempts = entry.attempts + 1
        is_dead = permanent or attempts >= self._policy.max_attempts
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(billing_outbox)
                .where(billing_outbox.c.id == entry.id)
                .values(
                    state="dead" if is_dead else "pending",
                    attempts=attempts,
                    next_attempt_at=now + self._policy.backoff(attempts),
                    last_error=error[:500],
                )
            )
            if is_dead:
                await conn.execute(
                    sa.update(service_requests)
                    .where(service_requests.c.id == entry.request_id)
                    .values(status="failed")
                )
        if is_dead:
            log.error("outbox row %d dead after %d attempts", entry.id, attempts)
        return is_dead

    def schedule(self, scheduler: Any, interval_s: float = 5.0) -> Any:
        """Add the interval job to an APScheduler 3 `AsyncIOScheduler`; returns the job."""
        return scheduler.add_job(
            self.deliver_due,
            "interval",
            seconds=interval_s,
            id=OUTBOX_JOB_ID,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )


async def pending(engine: AsyncEngine, include_dead: bool = True) -> list[OutboxEntry]:
    """`hotline billing pending`: rows not yet delivered, oldest first."""
    states = ("pending", "dead") if include_dead else ("pending",)
    async with engine.connect() as conn:
        rows = await conn.execute(
            _outbox_select().where(billing_outbox.c.state.in_(states)).order_by(billing_outbox.c.id)
        )
        return [_entry(r) for r in rows.mappings()]


async def retry(
    engine: AsyncEngine, ids: Sequence[int] | None = None, now: datetime | None = None
) -> int:
    """`hotline billing retry [ID...]`: make dead (or the given) rows due now; returns the count.

    Delivered rows are never touched, so retrying cannot make billing see a request twice.
    """
    at = now or _utcnow()
    stmt = sa.update(billing_outbox).values(
        state="pending", attempts=0, next_attempt_at=at, last_error=None
    )
    if ids is None:
        stmt = stmt.where(billing_outbox.c.state == "dead")
    else:
        stmt = stmt.where(billing_outbox.c.id.in_(ids), billing_outbox.c.state != "delivered")
    async with engine.begin() as conn:
        result = await conn.execute(stmt)
        await conn.execute(
            sa.update(service_requests)
            .where(
                service_requests.c.id.in_(
                    sa.select(billing_outbox.c.request_id).where(
                        billing_outbox.c.state == "pending"
                    )
                ),
                service_requests.c.status == "failed",
            )
            .values(status="accepted")
        )
        return int(result.rowcount)
