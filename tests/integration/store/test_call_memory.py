"""The call memory in the database (SQLite and PostgreSQL): what a call keeps survives the engine
that kept it, batches coalesce, an ended call leaves nothing, a failing database loses nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.accounts import AccountStore
from ivr.store.call_memory import DbCallMemory
from ivr.store.tables import call_memory

pytestmark = pytest.mark.integration

MemoryOf = Callable[[AsyncEngine], DbCallMemory]


@pytest.fixture(params=["main engine", "look-up path"])
async def memory_of(request: pytest.FixtureRequest, engine: AsyncEngine) -> AsyncIterator[MemoryOf]:
    """Call memories writing their batches on the main engine, or (as the engine is wired) on
    the account store's look-up path."""
    async with AccountStore(engine) as store:

        def make(on: AsyncEngine) -> DbCallMemory:
            return DbCallMemory(on, writes=store.path if request.param == "look-up path" else None)

        yield make


async def rows(engine: AsyncEngine) -> dict[tuple[str, str], str]:
    async with engine.connect() as conn:
        result = await conn.execute(sa.select(call_memory))
        return {(r.call_id, r.key): r.value for r in result}


async def test_kept_state_is_read_back_by_the_next_engine(
    engine: AsyncEngine, memory_of: MemoryOf
) -> None:
    first = memory_of(engine)
    first.start()
    first.keep("c1", "HOTLINE_STATE", "menu")
    first.keep("c1", "HOTLINE_STATE", "intake")  # the newest wins
    await first.keep_durably("c1", "HOTLINE_QUEUE", '{"queue":"general"}')
    first.keep("c2", "HOTLINE_STATE", "greeting")
    await first.aclose()  # a normal stop writes what is pending
    assert await rows(engine) == {
        ("c1", "HOTLINE_STATE"): "intake",
        ("c1", "HOTLINE_QUEUE"): '{"queue":"general"}',
        ("c2", "HOTLINE_STATE"): "greeting",
    }
    second = memory_of(engine)
    second.start()
    assert await second.recall("c1", "HOTLINE_STATE") == "intake"
    assert await second.recall("c2", "HOTLINE_QUEUE") == ""
    await second.aclose()


async def test_many_calls_stepping_at_once_share_a_few_transactions(
    engine: AsyncEngine, memory_of: MemoryOf
) -> None:
    memory = memory_of(engine)
    memory.start()
    for step in range(5):
        for n in range(200):
            memory.keep(f"c{n}", "HOTLINE_STATE", f"step {step}")
        await asyncio.sleep(0)
    await memory.keep_durably("c0", "HOTLINE_STATE", "step 5")
    assert memory.batches <= 3
    kept = await rows(engine)
    assert len(kept) == 200
    assert kept[("c0", "HOTLINE_STATE")] == "step 5"
    assert kept[("c199", "HOTLINE_STATE")] == "step 4"
    await memory.aclose()


async def test_an_ended_call_leaves_nothing_and_stale_calls_are_pruned(
    engine: AsyncEngine, memory_of: MemoryOf
) -> None:
    memory = memory_of(engine)
    memory.start()
    for call_id in ("live", "ended", "gone-while-down"):
        await memory.keep_durably(call_id, "HOTLINE_STATE", "x")
    memory.forget("ended")
    assert await memory.recall("ended", "HOTLINE_STATE") == ""
    await memory.aclose()
    assert set(await rows(engine)) == {
        ("live", "HOTLINE_STATE"),
        ("gone-while-down", "HOTLINE_STATE"),
    }
    restarted = memory_of(engine)
    restarted.start()
    # Asterisk still holds only "live": the other one ended while no engine ran
    assert await restarted.forget_all_but(["live"]) == 1
    await restarted.aclose()
    assert set(await rows(engine)) == {("live", "HOTLINE_STATE")}


async def test_a_failing_database_delays_writes_but_loses_none(
    engine: AsyncEngine, memory_of: MemoryOf, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ivr.store.call_memory.RETRY_S", 0.01)
    memory = memory_of(engine)
    memory.start()
    # the table is out of reach: every write fails as it would with the database down
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE call_memory RENAME TO call_memory_away")
    memory.keep("c1", "HOTLINE_STATE", "first")
    async with asyncio.timeout(10):
        while memory.failed_batches < 2:  # noqa: ASYNC110 - the writer has no hook to wait on
            await asyncio.sleep(0.01)
    memory.keep("c1", "HOTLINE_STATE", "second")  # kept while the first batch waits to retry
    memory.keep("c2", "HOTLINE_STATE", "other")
    async with engine.begin() as conn:
        await conn.exec_driver_sql("ALTER TABLE call_memory_away RENAME TO call_memory")
    await memory.keep_durably("c3", "HOTLINE_STATE", "third")
    await memory.aclose()
    assert await rows(engine) == {
        ("c1", "HOTLINE_STATE"): "second",
        ("c2", "HOTLINE_STATE"): "other",
        ("c3", "HOTLINE_STATE"): "third",
    }
