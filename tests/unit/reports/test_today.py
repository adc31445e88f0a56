"""Today's wallboard figures from a hand-made trail in a real (SQLite) database: the counts,
service level and ASA; the roll-over at midnight Asia/Tokyo; a fresh reader (an engine that
restarted) gives the same numbers as one that followed the trail as it grew; and the Python
count of a contact agrees with the report's SQL sums on the same contacts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import TOKYO
from ivr.reports import sums
from ivr.reports.metrics import QUEUE_FIELDS, QueueFigures
from ivr.reports.today import TOTAL, TodayTrail, day_start, queue_figures
from ivr.store.db import open_engine
from ivr.store.tables import call_events, calls, report_contacts
from tests.support.console import copy_database, make_template

pytestmark = pytest.mark.unit

# 10:00 Tokyo on a weekday
T = datetime(2026, 12, 2, 10, 0, tzinfo=TOKYO)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(tmp_path_factory.mktemp("today"))


@pytest.fixture
async def db(template: Path, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = open_engine(copy_database(template, tmp_path))
    try:
        yield engine
    finally:
        await engine.dispose()


async def call(
    db: AsyncEngine,
    call_id: str,
    started: datetime,
    events: list[tuple[float, str, dict[str, Any]]],
    ended_after_s: float | None = None,
) -> None:
    """A call row and its trail: (seconds after `started`, kind, data)."""
    ended = started + timedelta(seconds=ended_after_s) if ended_after_s is not None else None
    async with db.begin() as conn:
        await conn.execute(
            sa.insert(calls).values(
                id=call_id, caller_kind="number", started_at=started, ended_at=ended
            )
        )
        for after, kind, data in events:
            at = started + timedelta(seconds=after)
            await conn.execute(
                sa.insert(call_events).values(call_id=call_id, at=at, kind=kind, data=data)
            )


def queued(queue: str, wait_s: float, outcome: str, **extra: Any) -> list[Any]:
    """IVR for 5 s, then `queue` for `wait_s`, then `outcome` (answered / abandoned)."""
    data = {"queue": queue, **extra}
    return [(0, "entered", {}), (5, "enqueued", {"queue": queue}), (5 + wait_s, outcome, data)]


async def day_of_calls(db: AsyncEngine) -> None:
    await call(db, "c1", T, queued("general", 10, "answered", agent="a1"), 100)
    await call(db, "c2", T, queued("general", 30, "abandoned"), 35)
    await call(db, "c3", T, queued("moving", 3, "abandoned"), 8)
    await call(db, "c5", T, queued("moving", 40, "answered", agent="a2"))  # still talking
    # still waiting: in the queue, not ended
    await call(
        db,
        "c4",
        T + timedelta(minutes=5),
        [(0, "entered", {}), (5, "enqueued", {"queue": "general"})],
    )
    # no queue at all (self-service): not a queue contact
    await call(db, "c6", T, [(0, "entered", {}), (20, "intake_created", {})], 30)


def trail(db: AsyncEngine) -> TodayTrail:
    return TodayTrail(db, answer_s=20.0, short_abandon_s=6.0)


async def test_a_hand_made_trail_gives_the_boards_numbers(db: AsyncEngine) -> None:
    await day_of_calls(db)
    today = await trail(db).figures(T + timedelta(minutes=10))
    total = today.figures[TOTAL]
    # Q = 5 (c1..c5), S = 1 (c3 left after 3 s), O = 4; A = 2 (c1 within 20 s, c5 after 40 s)
    assert (total.queued, total.short_abandons, total.offered) == (5, 1, 4)
    assert (total.answered, total.answered_within, total.abandoned) == (2, 1, 1)
    assert total.unfinished == 1  # c4, waiting now
    # headline (abandons count against): A_T / (A + B) = 1 / 3; ASA = (10 + 40) / 2
    assert total.service_levels()["abandons_against"] == pytest.approx(1 / 3)
    assert total.asa_s == pytest.approx(25.0)
    general, moving = today.figures["general"], today.figures["moving"]
    assert (general.offered, general.answered, general.abandoned) == (3, 1, 1)
    assert (moving.offered, moving.answered, moving.short_abandons) == (1, 1, 1)
    assert today.start == datetime(2026, 12, 2, tzinfo=TOKYO)


async def test_today_rolls_over_at_midnight_tokyo(db: AsyncEngine) -> None:
    late = datetime(2026, 12, 2, 23, 59, 0, tzinfo=TOKYO)
    await call(db, "late", late, queued("general", 10, "answered", agent="a1"), 30)
    reader = trail(db)
    before = await reader.figures(late + timedelta(seconds=50))
    assert before.figures[TOTAL].answered == 1
    # 00:00:10 on the 3rd, Tokyo (15:00:10 UTC on the 2nd): a new day, nothing yet
    after_midnight = datetime(2026, 12, 3, 0, 0, 10, tzinfo=TOKYO)
    after = await reader.figures(after_midnight)
    assert after.start == datetime(2026, 12, 3, tzinfo=TOKYO)
    assert after.figures[TOTAL] == QueueFigures()
    await call(db, "early", after_midnight, queued("general", 2, "abandoned"), 8)
    assert (await reader.figures(after_midnight + timedelta(seconds=20))).figures[
        TOTAL
    ].short_abandons == 1
    # midnight is Tokyo's, not UTC's: 15:00 UTC on the 2nd is the start of the 3rd
    assert day_start(datetime(2026, 12, 2, 15, 0, tzinfo=UTC)) == datetime(
        2026, 12, 3, tzinfo=TOKYO
    )
    assert day_start(datetime(2026, 12, 2, 14, 59, tzinfo=UTC)) == datetime(
        2026, 12, 2, tzinfo=TOKYO
    )


async def test_a_restarted_reader_gives_the_same_numbers(db: AsyncEngine) -> None:
    running = trail(db)
    await call(db, "c1", T, [(0, "entered", {}), (5, "enqueued", {"queue": "general"})])
    first = await running.figures(T + timedelta(seconds=10))
    assert first.figures[TOTAL].unfinished == 1
    # the call's trail grows after the first read: the running reader re-reads that call
    async with db.begin() as conn:
        await conn.execute(
            sa.insert(call_events).values(
                call_id="c1",
                at=T + timedelta(seconds=12),
                kind="answered",
                data={"queue": "general", "agent": "a1"},
            )
        )
    await call(db, "c2", T, queued("general", 30, "abandoned"), 35)
    await call(db, "c5", T, queued("moving", 40, "answered", agent="a2"))
    now = T + timedelta(minutes=10)
    followed = await running.figures(now)
    restarted = await trail(db).figures(now)
    assert followed.figures == restarted.figures
    assert followed.figures[TOTAL].answered == 2


async def test_the_count_agrees_with_the_reports_sql_sums(db: AsyncEngine) -> None:
    """One definition: the board's count of each contact equals `queue_sums` over the same
    contacts in report_contacts."""
    await day_of_calls(db)
    reader = trail(db)
    await reader.figures(T + timedelta(minutes=10))
    contacts = reader.contacts()
    async with db.begin() as conn:
        await conn.execute(
            sa.insert(report_contacts),
            [c.row() for c in contacts],
        )
        row = (await conn.execute(sa.select(*sums.queue_sums(20.0, 6.0, sums.inbound())))).one()
    from_sql = QueueFigures(**{name: row[i] or 0 for i, name in enumerate(QUEUE_FIELDS)})
    assert queue_figures(contacts, 20.0, 6.0)[TOTAL] == from_sql
