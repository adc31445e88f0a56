"""The call trail written on the sqlite3 cursor (the look-up path's thread) is SQLAlchemy's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.callerid import normalise_caller_id
from ivr.store.accounts import AccountStore
from ivr.store.calls import (
    AccountMatched,
    CallClosed,
    CallLog,
    CallOpened,
    TrailEntry,
    TrailEvent,
)
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from tests.integration.store.storedata import NOW, cust, seed

pytestmark = pytest.mark.integration

CALLER = normalise_caller_id("0935821234")
WITHHELD = normalise_caller_id("anonymous")


def storm(prefix: str) -> list[list[TrailEntry]]:
    """Batches of entries as a busy engine hands them over: calls opened, matched, keyed,
    ended or detached, one re-adopted (its row came in an earlier batch), one known only by
    its end, and a number that matches no account."""
    a, b, c, d = (f"{prefix}-{n}" for n in "abcd")
    return [
        [
            CallOpened(a, CALLER, NOW),
            CallOpened(b, WITHHELD, NOW),
            AccountMatched(a, cust(1), "caller_id", NOW + timedelta(seconds=1)),
            TrailEvent(a, "menu_choice", NOW + timedelta(seconds=2), {"node": "m", "key": "1"}),
            CallClosed(b, NOW + timedelta(seconds=3), False, "detached", WITHHELD, NOW),
        ],
        [
            # the next engine re-adopts b: no second row, no second entered_ivr
            CallOpened(b, WITHHELD, NOW),
            AccountMatched(b, "9999999999", "customer_number", NOW + timedelta(seconds=4)),
            TrailEvent(b, "intake_created", NOW + timedelta(seconds=5), {"kind": "stop"}),
            CallClosed(b, NOW + timedelta(seconds=6), True, None, WITHHELD, NOW),
            CallClosed(a, NOW + timedelta(seconds=7), True, "caller_hung_up", CALLER, NOW),
            TrailEvent(c, "enqueued", NOW + timedelta(seconds=8), {"queue": "general"}),
            CallClosed(d, NOW + timedelta(seconds=9), True, "completed", CALLER, NOW),
        ],
    ]


async def trail(engine: AsyncEngine, prefix: str) -> list[tuple[object, ...]]:
    """The rows as stored (the driver's values: datetimes and JSON as SQLite holds the text)."""
    like = (f"{prefix}-%",)
    async with engine.connect() as conn:
        call_rows = await conn.exec_driver_sql(
            "SELECT * FROM calls WHERE id LIKE ? ORDER BY id", like
        )
        event_rows = await conn.exec_driver_sql(
            "SELECT call_id, at, kind, data FROM call_events WHERE call_id LIKE ? ORDER BY id",
            like,
        )
        return [tuple(r) for r in call_rows] + [tuple(r) for r in event_rows]


async def test_the_trail_on_the_drivers_cursor_is_the_trail_through_sqlalchemy(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"
    await migrate(url)
    engine = open_engine(url)
    try:
        await seed(engine)
        async with AccountStore(engine) as store:
            reference, fast = CallLog(engine), CallLog(engine, writes=store.path)
            for batch in storm("sa"):
                await reference.append_many(batch)
            for batch in storm("drv"):
                await fast.append_many(batch)
        expected, written = await trail(engine, "sa"), await trail(engine, "drv")
        assert written == [
            tuple(v.replace("sa-", "drv-") if isinstance(v, str) else v for v in row)
            for row in expected
        ]
        # what both wrote, in short: four calls, b once, a with its account, b without one
        assert [r[0] for r in written[:4]] == ["drv-a", "drv-b", "drv-c", "drv-d"]
        assert (written[0][3], written[1][3]) == (1, None)
        assert [r[2] for r in written[4:]].count("entered_ivr") == 2
    finally:
        await engine.dispose()
