"""The running engine's status file, read by `hotline status`.

The engine rewrites a small JSON file every few seconds (`publish_status`): the live flows with
their versions and digests, the last rejected dialplan edit with its `file:line` errors, the
calls in progress, whether ARI is connected, and the billing outbox's pending and dead-lettered
requests (billing may be down for hours; nothing is lost, but the admin should see it). Each
write replaces the file atomically (a temp file renamed over it), so a reader never sees half a
file. When the publisher stops it removes the file; a file whose `stale_after_s` has passed
means the engine died without cleaning up.

With engines on PostgreSQL, which one is active is the database's to say, not a file's (the
standby may run on another machine): `leader_lines` reads the leader lock (`ivr.leader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Sized
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa

from ivr.ari.client import RequestStats
from ivr.calls.flows import FlowRegistry
from ivr.intake.outbox import Backlog
from ivr.leader import describe, read_holder
from ivr.store.db import is_sqlite, open_engine

log = logging.getLogger(__name__)

STATUS_PATH = "var/status.json"
FORMAT = 1


class HasSessions(Protocol):
    """The supervisor, as far as the status needs it: its calls in progress."""

    @property
    def sessions(self) -> Sized: ...


class HasConnected(Protocol):
    """The ARI client, as far as the status needs it: set while the events socket is up, and
    where its requests' time went."""

    @property
    def connected(self) -> asyncio.Event: ...

    @property
    def stats(self) -> RequestStats: ...


class HasBacklog(Protocol):
    """The billing outbox, as far as the status needs it."""

    async def backlog(self) -> Backlog: ...


def requests_summary(stats: RequestStats) -> dict[str, Any]:
    """The ARI requests since the engine started, Asterisk's time apart from our pool's."""
    asterisk, pool = stats.asterisk, stats.pool
    return {
        "count": asterisk.count,
        "asterisk_avg_ms": round(1000 * asterisk.total_s / asterisk.count, 2)
        if asterisk.count
        else 0.0,
        "asterisk_max_ms": round(1000 * asterisk.max_s, 1),
        "pool_waits": pool.count,
        "pool_wait_max_ms": round(1000 * pool.max_s, 1),
        "in_flight_max": stats.in_flight_max,
    }


def status_snapshot(
    registry: FlowRegistry,
    *,
    calls: int,
    ari_connected: bool,
    now: datetime,
    stale_after_s: float | None = None,
    ari_requests: RequestStats | None = None,
    billing: Backlog | None = None,
) -> dict[str, Any]:
    """The status as a JSON-ready dict (`now` must be timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    live = {}
    for flow_id in sorted(registry.library()):
        version = registry.live(flow_id)
        live[flow_id] = {"version": version.flow.flow.version, "digest": version.digest}
    status = registry.status
    rejected = None
    if status.rejected_at or status.errors:
        rejected = {"at": status.rejected_at, "errors": list(status.errors)}
    return {
        "format": FORMAT,
        "written_at": now.isoformat(timespec="seconds"),
        "stale_after_s": stale_after_s,
        "pid": os.getpid(),
        "flows": {"loaded_at": status.loaded_at, "files": status.files, "live": live},
        "rejected": rejected,
        "calls": calls,
        "ari_connected": ari_connected,
        "ari_requests": requests_summary(ari_requests) if ari_requests is not None else None,
        "billing_outbox": billing.to_json() if billing is not None else None,
    }


def write_status(
    path: str | Path,
    registry: FlowRegistry,
    *,
    calls: int,
    ari_connected: bool,
    now: datetime,
    stale_after_s: float | None = None,
    ari_requests: RequestStats | None = None,
    billing: Backlog | None = None,
) -> None:
    """Write the status file atomically (temp file in the same directory, then rename)."""
    data = status_snapshot(
        registry,
        calls=calls,
        ari_connected=ari_connected,
        now=now,
        stale_after_s=stale_after_s,
        ari_requests=ari_requests,
        billing=billing,
    )
    _write_json(Path(path), data)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False, indent=2)
            out.write("\n")
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; admins read it as themselves
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def read_status(path: str | Path) -> dict[str, Any]:
    """The status file as written; `FileNotFoundError` if absent, `ValueError` if not a status."""
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text)  # json.JSONDecodeError is a ValueError
    if not isinstance(data, dict) or "written_at" not in data:
        raise ValueError(f"{path}: not a hotline status file")
    return data


async def publish_status(
    path: str | Path,
    registry: FlowRegistry,
    supervisor: HasSessions,
    ari: HasConnected,
    every_s: float,
    outbox: HasBacklog | None = None,
) -> None:
    """Rewrite the status file now and every `every_s` until cancelled, then remove it.

    Run it as an engine task. A failed write (disk full, permissions) is logged once and retried
    on the next round; it never stops the engine. Neither does a database that cannot count the
    outbox: the status then says nothing of billing.
    """
    target = Path(path)
    failing = False
    write: asyncio.Future[None] | None = None
    counter = _BacklogCounter(outbox)
    try:
        while True:
            data = status_snapshot(
                registry,
                calls=len(supervisor.sessions),
                ari_connected=ari.connected.is_set(),
                now=datetime.now(UTC),
                stale_after_s=3 * every_s,
                ari_requests=ari.stats,
                billing=await counter.count(),
            )
            write = asyncio.ensure_future(asyncio.to_thread(_write_json, target, data))
            try:
                # shielded: a cancel must not leave a write in flight to land after the unlink
                await asyncio.shield(write)
            except OSError as exc:
                if not failing:
                    log.warning("cannot write the status file %s: %s", target, exc)
                failing = True
            else:
                if failing:
                    log.info("status file %s written again", target)
                failing = False
            await asyncio.sleep(every_s)
    finally:
        # the engine is stopping: `hotline status` should say so, not show a frozen picture
        if write is not None and not write.done():
            with contextlib.suppress(Exception):
                await write
        with contextlib.suppress(OSError):
            await asyncio.to_thread(target.unlink, missing_ok=True)


async def leader_lines(database_url: str) -> list[str]:
    """Which engine holds the leader lock, for `hotline status` (none on SQLite: one engine)."""
    if is_sqlite(database_url):
        return []
    db = open_engine(database_url)
    try:
        async with db.connect() as conn:
            holder = await read_holder(conn)
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        return [f"active engine: cannot read the leader lock ({type(exc).__name__})"]
    finally:
        await db.dispose()
    if holder is None:
        return ["active engine: none (no engine has taken the leader lock yet)"]
    if not holder.held:
        return [f"active engine: NONE; the last one was {describe(holder)}"]
    return [f"active engine: {describe(holder)}"]


class _BacklogCounter:
    """The outbox's counts for each status round; a failure is logged once, not each round."""

    def __init__(self, outbox: HasBacklog | None) -> None:
        self._outbox = outbox
        self._failing = False

    async def count(self) -> Backlog | None:
        if self._outbox is None:
            return None
        try:
            found = await self._outbox.backlog()
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            if not self._failing:
                log.warning("cannot count the billing outbox: %s", type(exc).__name__)
            self._failing = True
            return None
        self._failing = False
        return found
