"""The leader lock's take-over and fencing, in virtual time, on a fake database: one engine acts
at a time, a standby takes over once the active engine's session is gone, and an engine that
cannot prove its lock stops acting before another one may start."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from ivr.ari.client import Resynced
from ivr.cli import main
from ivr.leader import AnotherEngineActive, Holder, Leader, LeaderTiming
from tests.unit.calls.test_call_session import Rig, settle

pytestmark = [pytest.mark.unit, pytest.mark.looptime]

TIMING = LeaderTiming(poll_s=0.2, check_s=0.3, valid_s=1.5)
SINCE = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


class FakeDb:
    """PostgreSQL as far as the lock goes: which session holds it, and the generation row."""

    def __init__(self) -> None:
        self.owner: FakeLock | None = None
        self.last: Holder | None = None


class FakeLock:
    """One engine's session on `FakeDb`; its link can be cut (`partition`) or broken."""

    def __init__(self, db: FakeDb, pid: int) -> None:
        self.db = db
        self.pid = pid
        self.cut = asyncio.Event()  # set: queries never answer
        self.broken = False

    async def _answer(self) -> None:
        if self.broken:
            raise OSError("connection reset")
        if self.cut.is_set():
            await asyncio.Event().wait()

    async def try_acquire(self) -> Holder | None:
        await self._answer()
        if self.db.owner is not None:
            return None
        self.db.owner = self
        generation = 1 if self.db.last is None else self.db.last.generation + 1
        self.db.last = Holder(generation, "host", self.pid, SINCE)
        return self.db.last

    async def verify(self, generation: int) -> bool:
        await self._answer()
        last = self.db.last
        return self.db.owner is self and last is not None and last.generation == generation

    async def holder(self) -> Holder | None:
        await self._answer()
        return self.db.last

    async def release(self) -> None:
        if self.db.owner is self:
            self.db.owner = None

    def session_ends(self) -> None:
        """The server ends our session (the process was killed, or the keepalives gave up)."""
        if self.db.owner is self:
            self.db.owner = None


class Engine:
    def __init__(self, db: FakeDb, pid: int) -> None:
        self.lock = FakeLock(db, pid)
        self.lost: list[str] = []
        self.leader = Leader(self.lock, self.lost.append, TIMING)

    async def run(self, *, wait: bool = True) -> None:
        await self.leader.acquire(wait=wait)
        await self.leader.watch()


def now() -> float:
    return asyncio.get_running_loop().time()


async def test_two_engines_started_at_once_one_is_active_and_the_standby_takes_over() -> None:
    db = FakeDb()
    a, b = Engine(db, 1), Engine(db, 2)
    active = asyncio.create_task(a.run())
    standby = asyncio.create_task(b.leader.acquire(wait=True))
    await asyncio.sleep(5)
    assert a.leader.holds()
    assert not standby.done()
    assert not b.leader.holds()
    assert db.last is not None
    assert db.last.generation == 1

    active.cancel()  # SIGKILL: the process is gone, and with it its session
    a.lock.session_ends()
    killed = now()
    await standby
    # one poll, then the wait for a cut-off leader to have stopped
    assert now() - killed <= TIMING.poll_s + TIMING.valid_s + 0.01
    assert b.leader.holds()
    assert b.leader.generation == 2
    assert db.last.pid == 2
    await asyncio.gather(active, return_exceptions=True)


async def test_a_new_leader_acts_only_once_a_former_one_must_have_stopped() -> None:
    db = FakeDb()
    engine = Engine(db, 1)
    started = now()
    await engine.leader.acquire(wait=False)
    assert now() - started >= TIMING.valid_s
    assert engine.leader.holds()


async def test_what_the_new_leader_opens_meanwhile_counts_towards_its_wait() -> None:
    db = FakeDb()
    engine = Engine(db, 1)
    taken = now()
    await engine.leader.take(wait=False)
    assert not engine.leader.holds()
    watch = asyncio.create_task(engine.leader.watch())  # settles first
    await asyncio.sleep(1.0)  # the engine opens its database, flows, agents
    assert not engine.leader.settled.is_set()
    await engine.leader.settled.wait()
    assert now() - taken == pytest.approx(TIMING.valid_s, abs=0.01)
    assert engine.leader.holds()
    await asyncio.sleep(5)
    assert engine.leader.holds()  # the watch keeps confirming it
    watch.cancel()
    await asyncio.gather(watch, return_exceptions=True)


async def test_a_clean_stop_hands_over_within_one_poll_and_a_grace() -> None:
    db = FakeDb()
    a, b = Engine(db, 1), Engine(db, 2)
    await a.leader.acquire(wait=False)
    standby = asyncio.create_task(b.leader.acquire(wait=True))
    await asyncio.sleep(3)
    assert not standby.done()
    await a.leader.release()
    released = now()
    assert not a.leader.holds()
    await standby
    assert now() - released <= TIMING.poll_s + TIMING.valid_s + 0.01


async def test_run_without_standby_refuses_while_another_engine_is_active() -> None:
    db = FakeDb()
    await Engine(db, 1).leader.acquire(wait=False)
    with pytest.raises(AnotherEngineActive) as raised:
        await Engine(db, 2).leader.acquire(wait=False)
    assert raised.value.holder is not None
    assert raised.value.holder.pid == 1
    assert "pid 1 (generation 1" in str(raised.value)


async def test_a_broken_lock_connection_ends_the_right_to_act_at_once() -> None:
    db = FakeDb()
    engine = Engine(db, 1)
    await engine.leader.acquire(wait=False)
    watch = asyncio.create_task(engine.leader.watch())
    await asyncio.sleep(2)
    engine.lock.broken = True
    engine.lock.session_ends()
    await asyncio.wait_for(watch, TIMING.check_s + 0.01)
    assert not engine.leader.holds()
    assert engine.lost == ["the lock's connection failed (OSError)"]


async def test_a_partitioned_leader_stops_before_the_next_one_starts() -> None:
    """The active engine's link to the database is cut; the server frees its session only
    later (keepalives). At no moment do both engines hold the right to act."""
    db = FakeDb()
    a, b = Engine(db, 1), Engine(db, 2)
    tasks = [asyncio.create_task(a.run())]
    await asyncio.sleep(2)
    tasks.append(asyncio.create_task(b.run()))
    await asyncio.sleep(1)
    a.lock.cut.set()
    cut = now()
    both = False
    while not b.leader.holds():
        if now() - cut >= 0.5:
            a.lock.session_ends()  # at once, as if PostgreSQL had noticed within 0.5 s
        both = both or (a.leader.holds() and b.leader.holds())
        await asyncio.sleep(0.01)
    assert not both
    assert not a.leader.holds()
    assert a.lost == ["the database did not confirm the lock in time"]
    # the cut-off engine stopped acting within one confirmation of its last good check
    assert b.leader.generation == 2
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_lock_taken_over_behind_the_leaders_back_is_noticed_at_the_next_check() -> None:
    db = FakeDb()
    engine = Engine(db, 1)
    await engine.leader.acquire(wait=False)
    watch = asyncio.create_task(engine.leader.watch())
    await asyncio.sleep(1)
    # someone freed the session and another engine took generation 2
    engine.lock.session_ends()
    other = FakeLock(db, 2)
    assert await other.try_acquire() is not None
    await asyncio.wait_for(watch, TIMING.check_s + 0.01)
    assert engine.lost == ["another engine holds the lock"]


def test_the_checks_must_come_more_often_than_a_confirmation_lasts() -> None:
    with pytest.raises(ValueError, match="check_s"):
        LeaderTiming(check_s=2.0, valid_s=1.5)


async def test_a_supervisor_that_may_not_act_adopts_no_call_and_answers_no_new_one() -> None:
    rig = Rig()
    allowed = False
    rig.sup.may_act = lambda: allowed
    channel = rig.in_stasis_before_we_connected("c1", "main")
    rig.ari.emit(Resynced(channels=(channel,), reconnect=False))
    rig.ari.incoming("c2", number="0935821234")
    await settle()
    assert rig.sup.sessions == {}
    assert rig.ari.ops == []

    allowed = True
    rig.ari.incoming("c3", number="0935821234")
    await settle()
    assert list(rig.sup.sessions) == ["c3"]
    assert ("answer", "c3") in rig.ari.ops


def test_standby_on_sqlite_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite3'}"}})
    )
    monkeypatch.setenv("HOTLINE_ARI_PASSWORD", "secret")
    assert main(["--config", str(config), "run", "--standby"]) == 2
    assert "--standby needs PostgreSQL" in capsys.readouterr().err
    assert not (tmp_path / "h.sqlite3").exists()  # nothing was started
