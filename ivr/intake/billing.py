"""The billing port and its adapters: how an accepted request reaches the billing system.

`BillingGateway.deliver` either returns (billing has the request), raises `BillingUnavailable`
(try again later) or `BillingRejected` (never going to work; dead-letter). Billing must treat the
idempotency key as the identity of a delivery: the outbox may deliver the same key again after a
crash between billing's answer and our commit, and billing records it once.

Adapters:
- `DatabaseBillingGateway` — writes into billing tables in a configured database (the embedded
  default is a SQLite file), upserting on the idempotency key.
- `HttpBillingGateway` — JSON POST with an ``Idempotency-Key`` header. Its answers, the contract
  billing's API implements (docs/billing-api.md):
  - 2xx: billing has the request (a replay of a known key may answer 200 as well);
  - 409 naming the same key (``Idempotency-Key`` response header, or ``idempotency_key`` in a
    JSON body): "already have it", a replay of a request billing recorded earlier. Delivered.
  - 409 without it (a request with this key is still being processed), 408, 425, 429, 5xx,
    connection errors and timeouts: try again later;
  - any other status: rejected, never going to work (dead letter at once).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.errors import BillingRejected, BillingUnavailable
from ivr.intake.payload import BillingRequestV1
from ivr.store.tables import UtcDateTime


@dataclass(frozen=True, slots=True)
class BillingDelivery:
    """One delivery of one request; `payload` is the JSON object billing receives, a
    `BillingRequestV1` (see `ivr.intake.payload` and its published JSON Schema)."""

    idempotency_key: str
    request_id: int
    payload: Mapping[str, Any]

    @classmethod
    def of(cls, idempotency_key: str, request: BillingRequestV1) -> BillingDelivery:
        return cls(idempotency_key, request.request_id, request.to_json())


class BillingGateway(Protocol):
    async def deliver(self, delivery: BillingDelivery) -> None:
        """Hand one request to billing; raise `BillingUnavailable` or `BillingRejected`."""
        ...


# The billing side's own table (not part of the engine's migrations: it belongs to "billing").
billing_metadata = sa.MetaData()
billing_requests = sa.Table(
    "billing_requests",
    billing_metadata,
    sa.Column("idempotency_key", sa.String(64), primary_key=True),
    sa.Column("request_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
)


class DatabaseBillingGateway:
    """Billing tables in a database of their own (or the engine's); idempotent by key."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def ensure_schema(self) -> None:
        async with self._engine.begin() as conn:
            await conn.run_sync(billing_metadata.create_all)

    async def deliver(self, delivery: BillingDelivery) -> None:
        row = {
            "idempotency_key": delivery.idempotency_key,
            "request_id": delivery.request_id,
            "kind": str(delivery.payload.get("kind", "")),
            "payload": dict(delivery.payload),
            "received_at": datetime.now(UTC),
        }
        dialect = self._engine.dialect.name
        if dialect == "postgresql":
            stmt: sa.Executable = (
                postgresql.insert(billing_requests).values(row).on_conflict_do_nothing()
            )
        elif dialect == "sqlite":
            stmt = sqlite.insert(billing_requests).values(row).on_conflict_do_nothing()
        else:
            raise BillingRejected(f"unsupported billing database dialect {dialect}")
        try:
            async with self._engine.begin() as conn:
                await conn.execute(stmt)
        except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError) as exc:
            raise BillingUnavailable(type(exc).__name__) from exc
        except sa.exc.DBAPIError as exc:
            raise BillingRejected(type(exc).__name__) from exc

    async def received(self) -> list[dict[str, Any]]:
        """What billing holds (for tests and the demo)."""
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                sa.select(billing_requests).order_by(billing_requests.c.request_id)
            )
            return [dict(r) for r in rows.mappings()]


# statuses worth retrying even though they are 4xx
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})
# billing's "already have it": the request with this key was recorded earlier
_DUPLICATE = 409


def _names_key(headers: Mapping[str, str], body: bytes, key: str) -> bool:
    """True if a 409 answer says it is about `key`: its header, or `idempotency_key` in JSON."""
    if headers.get("Idempotency-Key", "").strip() == key:
        return True
    try:
        value = json.loads(body)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("idempotency_key") == key


class HttpBillingGateway:
    """POST each request as JSON to `url` with an ``Idempotency-Key`` header.

    2xx is success, and so is a 409 that names the same key (billing already has the request).
    Connection errors, timeouts, 5xx, 408/425/429 and any other 409 are transient
    (`BillingUnavailable`); other statuses are permanent (`BillingRejected`). The session is
    owned by the caller (one per process, closed on shutdown).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        token: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._session = session
        self._url = url
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def deliver(self, delivery: BillingDelivery) -> None:
        headers = {"Idempotency-Key": delivery.idempotency_key}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            async with self._session.post(
                self._url, json=dict(delivery.payload), headers=headers, timeout=self._timeout
            ) as resp:
                status = resp.status
                body = await resp.read()
                duplicate = status == _DUPLICATE and _names_key(
                    resp.headers, body, delivery.idempotency_key
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise BillingUnavailable(type(exc).__name__) from exc
        if 200 <= status < 300 or duplicate:
            return
        if status >= 500 or status in _RETRYABLE_4XX:
            raise BillingUnavailable(f"HTTP {status}")
        raise BillingRejected(f"HTTP {status}")


class MemoryBillingGateway:
    """An in-process billing for tests and `hotline simulate`; records each key once."""

    def __init__(self) -> None:
        self.received: dict[str, BillingDelivery] = {}
        self.calls = 0
        self._lock = asyncio.Lock()

    async def deliver(self, delivery: BillingDelivery) -> None:
        async with self._lock:
            self.calls += 1
            self.received.setdefault(delivery.idempotency_key, delivery)
