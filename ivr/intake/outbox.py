"""Transactional outbox delivery to billing: retries with backoff, dead letters, exactly-once keys.

The intake service writes an outbox row in the same transaction as the request. `deliver_due(now)`
takes due rows in order, claims each one (a lease: `next_attempt_at` moved forward, so another
engine or a crash mid-delivery cannot lose or double-claim it), hands it to the `BillingGateway`
and records the result. Billing sees each request once because every delivery of a row carries the
row's idempotency key, including a re-delivery after a crash between billing's answer and our
commit.

While billing is unreachable the rest of a batch is left untouched (no attempt is burned on rows
that were never tried), and each tried row waits a capped, doubling backoff. A row is
dead-lettered only once its tries span `retry_horizon_s` (3 days by default: billing's overnight
maintenance, even a long weekend, is ridden out); the attempt count alone never gives up sooner.
When billing answers again after an outage, the rows still waiting out a long backoff are made
due at once, so the backlog drains within a few rounds instead of up to `backoff_max_s` later.
An "already have it" answer from billing counts as delivered (see `ivr.intake.billing`).

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

from ivr.config import OutboxConfig, tries_to_span
from ivr.errors import BillingRejected, BillingUnavailable
from ivr.intake.billing import BillingDelivery, BillingGateway
from ivr.intake.payload import BillingRequestV1, describe_invalid, read_billing_request
from ivr.store.models import OutboxEntry
from ivr.store.tables import billing_outbox, service_requests

log = logging.getLogger(__name__)

OUTBOX_JOB_ID = "billing-outbox"


@dataclass(frozen=True)
class OutboxPolicy:
    max_attempts: int | None = None
    """Failures before a row is dead-lettered; None: as many as the backoff needs to span
    `retry_horizon_s` (79 with the defaults: 30 s, 1, 2, 4, 8, 16, 32 min, then hourly). A number
    below that is refused: the attempt count alone must not give up before the horizon."""
    backoff_base_s: float = 30.0
    backoff_max_s: float = 3600.0
    lease_s: float = 120.0
    """How long a claimed row is ours; longer than the gateway's timeout."""
    batch_size: int = 200
    retry_horizon_s: float = 3 * 86400.0
    """How long a row's tries go on before it is dead-lettered (a transient failure)."""
    probe_s: float = 60.0
    """While billing is unreachable and every row waits out its backoff, how often the next
    row is tried early, so that billing's return is noticed within this time."""

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < self.horizon_tries:
            raise ValueError(
                f"max_attempts {self.max_attempts} gives up before the retry horizon "
                f"({self.horizon_tries} tries)"
            )

    @classmethod
    def from_config(cls, outbox: OutboxConfig) -> OutboxPolicy:
        """The policy config.yaml's `billing.outbox` describes."""
        return cls(
            max_attempts=outbox.max_attempts,
            backoff_base_s=outbox.backoff_base_s,
            backoff_max_s=outbox.backoff_max_s,
            retry_horizon_s=outbox.retry_horizon_s,
        )

    @property
    def horizon_tries(self) -> int:
        return tries_to_span(self.retry_horizon_s, self.backoff_base_s, self.backoff_max_s)

    @property
    def tries(self) -> int:
        """Failures before a row is dead-lettered."""
        return self.max_attempts if self.max_attempts is not None else self.horizon_tries

    def backoff(self, attempts: int) -> timedelta:
        """Delay after the `attempts`-th failure: base · 2^(attempts-1), capped."""
        # the exponent is bounded: 2^attempts of a long outage must not overflow a float
        doublings = min(max(attempts - 1, 0), 64)
        delay = self.backoff_base_s * (2**doublings)
        return timedelta(seconds=min(delay, self.backoff_max_s))


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    skipped: int = 0
    """Rows left for the next run because billing was unreachable or another worker had them."""


@dataclass(frozen=True)
class Backlog:
    """What `hotline status` shows of the outbox: requests waiting for billing, and dead ones."""

    pending: int = 0
    dead: int = 0
    oldest_pending_at: datetime | None = None
    billing_reachable: bool | None = None
    """The last delivery round's verdict; None before the first round that tried a row."""

    def to_json(self) -> dict[str, Any]:
        oldest = self.oldest_pending_at
        return {
            "pending": self.pending,
            "dead": self.dead,
            "oldest_pending_at": oldest.isoformat(timespec="seconds") if oldest else None,
            "billing_reachable": self.billing_reachable,
        }


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
        # set while billing may have been down: the first success then pulls the waiting rows
        # forward (also at start: rows may wait out a backoff from before a restart)
        self._recovering = True
        self.billing_reachable: bool | None = None
        self._last_probe: datetime | None = None

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
        due = await self._rows(now)
        probing = not due and self._probe_due(now)
        if probing:
            # billing may be back while every row waits out its backoff: try the next one early;
            # a failed probe costs the row nothing (its tries and its schedule stay as they were)
            self._last_probe = now
            due = await self._rows(now, probe=True)
        counts = dict.fromkeys(("delivered", "failed", "dead", "skipped"), 0)
        for i, (entry, text) in enumerate(due):
            outcome, go_on = await self._deliver_one(entry, text, now, probing)
            counts[outcome] += 1
            if not go_on:
                counts["skipped"] += len(due) - i - 1
                break
        return DeliveryReport(**counts)

    async def _rows(self, now: datetime, probe: bool = False) -> list[tuple[OutboxEntry, Any]]:
        """The rows due at `now`, oldest due first; or with `probe` the next one to come due
        (not leased: due later than a lease from now)."""
        if probe:
            when = billing_outbox.c.next_attempt_at > now + timedelta(seconds=self._policy.lease_s)
        else:
            when = billing_outbox.c.next_attempt_at <= now
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                _outbox_select()
                .where(billing_outbox.c.state == "pending", when)
                .order_by(billing_outbox.c.next_attempt_at, billing_outbox.c.id)
                .limit(1 if probe else self._policy.batch_size)
            )
            return [(_entry(r), r["payload"]) for r in rows.mappings()]

    def _probe_due(self, now: datetime) -> bool:
        if self.billing_reachable is True:
            return False
        last = self._last_probe
        return last is None or now - last >= timedelta(seconds=self._policy.probe_s)

    async def _deliver_one(
        self, entry: OutboxEntry, text: str | None, now: datetime, probe: bool = False
    ) -> tuple[_Outcome, bool]:
        """Claim and deliver one row; the outcome, and False once billing is unreachable
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
            self._unavailable(exc)
            if probe:
                await self._unclaim(entry, now)
                return "skipped", False
            dead = await self._failed(entry, now, str(exc), permanent=False)
            return ("dead" if dead else "failed"), False
        except BillingRejected as exc:
            self.billing_reachable = True
            await self._failed(entry, now, str(exc), permanent=True)
            return "dead", True
        self.billing_reachable = True
        await self._delivered(entry, self._clock())
        if self._recovering:
            await self._pull_forward(now)
        return "delivered", True

    def _unavailable(self, exc: BillingUnavailable) -> None:
        if self.billing_reachable is not False:
            log.warning("billing unavailable (%s); outbox rows wait and are retried", exc)
        self.billing_reachable = False
        self._recovering = True

    async def _unclaim(self, entry: OutboxEntry, now: datetime) -> None:
        """Give a probed row its own schedule back (unless its lease was taken over)."""
        lease_until = now + timedelta(seconds=self._policy.lease_s)
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.update(billing_outbox)
                .where(
                    billing_outbox.c.id == entry.id,
                    billing_outbox.c.state == "pending",
                    billing_outbox.c.next_attempt_at == lease_until,
                )
                .values(next_attempt_at=entry.next_attempt_at)
            )

    async def _pull_forward(self, now: datetime) -> None:
        """Billing answers again: rows waiting out a backoff become due now. A row due later
        than a lease from now is waiting out a backoff, never leased by another worker."""
        self._recovering = False
        log.info("billing answers again")
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.update(billing_outbox)
                .where(
                    billing_outbox.c.state == "pending",
                    billing_outbox.c.next_attempt_at
                    > now + timedelta(seconds=self._policy.lease_s),
                )
                .values(next_attempt_at=now)
            )
        if result.rowcount:
            log.info("billing answers again; %d outbox rows made due", result.rowcount)

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
        is_dead = permanent or attempts >= self._policy.tries
        if is_dead and not permanent:
            hours = (now - entry.created_at).total_seconds() / 3600
            error = (
                f"gave up after {attempts} tries over {hours:.1f} h "
                f"(billing.outbox.retry_horizon_s {self._policy.retry_horizon_s:g}): {error}"
            )
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

    async def backlog(self) -> Backlog:
        """The outbox as `hotline status` shows it."""
        found = await outbox_backlog(self._engine)
        return Backlog(
            found.pending,
            found.dead,
            found.oldest_pending_at,
            billing_reachable=self.billing_reachable,
        )

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


async def outbox_backlog(engine: AsyncEngine) -> Backlog:
    """Counts of pending and dead rows, and when the oldest pending one was written."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                billing_outbox.c.state,
                sa.func.count(),
                sa.func.min(billing_outbox.c.created_at),
            )
            .where(billing_outbox.c.state.in_(("pending", "dead")))
            .group_by(billing_outbox.c.state)
        )
        found = {state: (int(count), oldest) for state, count, oldest in rows}
    pending_count, oldest = found.get("pending", (0, None))
    return Backlog(
        pending=pending_count, dead=found.get("dead", (0, None))[0], oldest_pending_at=oldest
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
