"""`hotline status` shows the billing outbox: how many requests wait for billing, how many are
dead, and whether billing answers; a database that cannot count them does not stop the status."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from ivr.calls.flows import FlowRegistry
from ivr.intake.outbox import Backlog
from ivr.status import publish_status, read_status, write_status
from tests.unit.test_status import (
    FakeAriClient,
    FakeSupervisor,
    registry,  # noqa: F401  (the fixture)
    run_status,
    wait_for_file,
)

pytestmark = pytest.mark.unit

WRITTEN = datetime(2027, 4, 1, 0, 5, tzinfo=UTC)


def test_a_billing_outage_shows_in_hotline_status(
    registry: FlowRegistry,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "status.json"
    backlog = Backlog(pending=42, dead=2, oldest_pending_at=WRITTEN, billing_reachable=False)
    now = datetime.now(UTC)
    write_status(path, registry, calls=0, ari_connected=True, now=now, billing=backlog)

    assert read_status(path)["billing_outbox"] == {
        "pending": 42,
        "dead": 2,
        "oldest_pending_at": "2027-04-01T00:05:00+00:00",
        "billing_reachable": False,
    }
    assert run_status(path) == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        "billing outbox: 42 pending (oldest written 2027-04-01T00:05:00+00:00), 2 dead; "
        "billing is NOT answering (requests wait, nothing is lost)"
    ) in out
    assert "  dead requests: hotline billing pending; revive: hotline billing retry" in out


def test_a_quiet_outbox_is_one_line(
    registry: FlowRegistry,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "status.json"
    now = datetime.now(UTC)
    write_status(
        path,
        registry,
        calls=0,
        ari_connected=True,
        now=now,
        billing=Backlog(billing_reachable=True),
    )
    assert run_status(path) == 0
    billing = [line for line in capsys.readouterr().out.splitlines() if "billing" in line]
    assert billing == ["billing outbox: 0 pending, 0 dead"]


class FlakyOutbox:
    """Counts fail while `broken` is set (the database is away)."""

    def __init__(self) -> None:
        self.broken = True

    async def backlog(self) -> Backlog:
        if self.broken:
            raise sa.exc.OperationalError("SELECT", {}, Exception("database is locked"))
        return Backlog(pending=7, billing_reachable=False)


async def test_the_publisher_counts_the_outbox_and_survives_a_database_error(
    registry: FlowRegistry,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "var" / "status.json"
    outbox = FlakyOutbox()
    task = asyncio.create_task(
        publish_status(path, registry, FakeSupervisor(), FakeAriClient(), 0.02, outbox=outbox)
    )
    try:
        first = await wait_for_file(path, '"billing_outbox": null')
        assert first["calls"] == 0
        outbox.broken = False
        second = await wait_for_file(path, '"pending": 7')
        assert second["billing_outbox"] == {
            "pending": 7,
            "dead": 0,
            "oldest_pending_at": None,
            "billing_reachable": False,
        }
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
