"""Fixtures for the integration tier: the real sandboxed Asterisk, engines, a driver app."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.app import Backends, Engine, build
from ivr.ari.client import AriClient, StreamItem
from ivr.ari.models import StasisEnd, StasisStart
from ivr.calls.flows import FlowRegistry
from ivr.calls.memory import InMemoryCallMemory
from ivr.calls.records import CallRecorder, MemoryCallRecorder
from ivr.config import AppConfig, parse_config
from ivr.errors import ChannelGone
from ivr.flow.ports import AccountSummary, FakeAccounts, FakeCalendar, FakeIntake, FakeNotices
from ivr.store.call_memory import DbCallMemory
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from routing.fallback import ACCEPT_GLOBAL, STEPS_GLOBAL
from routing.ports import CallbackStore
from tests.support.sandbox import Sandbox, provision

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    return provision()


def engine_config(
    sandbox: Sandbox, routing: Mapping[str, object] | None = None, **calls: object
) -> AppConfig:
    data: dict[str, object] = {
        "ari": {"reconnect_initial_s": 0.05, "reconnect_max_s": 0.5},
        "calls": calls,
    }
    if routing is not None:
        data["routing"] = routing
    return parse_config(
        data,
        {
            "HOTLINE_ARI_URL": sandbox.ari_url,
            "HOTLINE_ARI_USER": sandbox.ari_user,
            "HOTLINE_ARI_PASSWORD": sandbox.ari_password,
        },
    )


def sqlite_url(tmp_path: Path) -> str:
    """A test's own SQLite database file (`sqlite_db` migrates it)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'hotline.sqlite3'}"


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated, empty SQLite database of this test's own."""
    url = sqlite_url(tmp_path)
    await migrate(url)
    engine = open_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


class EngineFactory(Protocol):
    """`start_engine`: an engine on the sandbox, stopped at the end of the test."""

    async def __call__(
        self,
        recorder: CallRecorder | None = None,
        backends: Backends | None = None,
        routing: Mapping[str, object] | None = None,
        callback_store: CallbackStore | None = None,
        **calls: object,
    ) -> Engine: ...


ROOT = Path(__file__).resolve().parents[2]
# the caller ID our SIPp and Local-channel callers present, and the account it belongs to
CALLER = "0935821234"
ACCOUNT = AccountSummary(customer_number="1000000018", area="north-3", balance_yen=3240)


def hotline_backends(
    intake: FakeIntake | None = None, flows: FlowRegistry | None = None
) -> Backends:
    """The real flows from dialplans/ (or `flows`) with in-memory accounts, an always-open
    calendar (the tests must not depend on the wall clock), an in-memory intake, call memory
    and call trail."""
    if flows is None:
        flows = FlowRegistry(ROOT / "dialplans", ROOT / "prompts" / "catalog.yaml")
        flows.load()
    return Backends(
        flows=flows,
        accounts=FakeAccounts([ACCOUNT], {CALLER: [ACCOUNT.customer_number]}),
        calendar=FakeCalendar(rule=lambda name, now: "open"),
        notices=FakeNotices(),
        intake=intake or FakeIntake(),
        memory=InMemoryCallMemory(),
        recorder=MemoryCallRecorder(),
    )


async def hang_up_leftovers(sandbox: Sandbox) -> None:
    """End calls an earlier test left in Stasis(hotline): no engine may adopt another test's."""
    async with AriClient(sandbox.ari_url, sandbox.ari_user, sandbox.ari_password, "hotline") as ari:
        for channel in await ari.list_channels():
            if channel.stasis_app == "hotline":
                with contextlib.suppress(ChannelGone):
                    await ari.hangup(channel.id)


@pytest.fixture
async def fallback_globals_kept(sandbox: Sandbox) -> AsyncIterator[None]:
    """An engine with an on-duty list publishes it for the dialplan fallback: put back what
    was there once the test's engines have stopped, for the tests that follow."""
    ari = AriClient(sandbox.ari_url, sandbox.ari_user, sandbox.ari_password, "globals")
    async with ari, kept_globals(ari, *FALLBACK_GLOBALS):
        yield


@pytest.fixture
async def start_engine(
    sandbox: Sandbox, tmp_path: Path, fallback_globals_kept: None
) -> AsyncIterator[EngineFactory]:
    """Start engines on the real Asterisk; every one still running is stopped at the end.
    The engines of one test keep their calls' restart state in one SQLite database, as the
    engines of a deployment share theirs."""
    engines: list[Engine] = []
    memories: list[DbCallMemory] = []
    await hang_up_leftovers(sandbox)
    url = f"sqlite+aiosqlite:///{tmp_path / 'engines.sqlite3'}"
    await migrate(url)
    db = open_engine(url)

    async def start(
        recorder: CallRecorder | None = None,
        backends: Backends | None = None,
        routing: Mapping[str, object] | None = None,
        callback_store: CallbackStore | None = None,
        **calls: object,
    ) -> Engine:
        memory = DbCallMemory(db)
        memory.start()
        memories.append(memory)
        backends = backends or hotline_backends()
        engine = await asyncio.wait_for(
            build(
                engine_config(sandbox, routing, **calls),
                backends=replace(
                    backends,
                    memory=memory,
                    recorder=recorder or backends.recorder,
                    callback_store=callback_store,
                ),
            ),
            10,
        )
        engines.append(engine)
        return engine

    yield start
    for engine in engines:
        await engine.stop()
    for memory in memories:
        await memory.aclose()
    await db.dispose()
    await hang_up_leftovers(sandbox)


class Driver:
    """A second ARI app playing the caller's side of Local channels (the `;1` halves)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.app = f"drv-{uuid.uuid4().hex[:8]}"
        self.ari = AriClient(sandbox.ari_url, sandbox.ari_user, sandbox.ari_password, self.app)
        self.events: list[StreamItem] = []
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    def _on_event(self, item: StreamItem) -> None:
        self.events.append(item)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.ari.run(self._on_event))
        await asyncio.wait_for(self.ari.connected.wait(), 10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.ari.close()

    async def call(self, number: str, caller_id: str = "0935821234") -> tuple[str, str]:
        """Place a Local-channel call into the hotline; returns (our half, the engine's half)."""
        ours = f"t-{uuid.uuid4().hex[:10]}"
        theirs = f"{ours}-in"
        await self.ari.originate(
            f"Local/{number}@hotline",
            channel_id=ours,
            other_channel_id=theirs,
            caller_id=caller_id,
            formats="ulaw",
        )
        return ours, theirs

    async def wait_for(
        self, predicate: Callable[[StreamItem], bool], timeout_s: float = 15
    ) -> None:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: any(predicate(e) for e in self.events)), timeout_s
            )

    async def answered(self, channel_id: str) -> None:
        """Our half enters the driver app only once the engine answered the call."""
        await self.wait_for(lambda e: isinstance(e, StasisStart) and e.channel.id == channel_id)

    async def hung_up(self, channel_id: str) -> None:
        await self.wait_for(lambda e: isinstance(e, StasisEnd) and e.channel.id == channel_id)


FALLBACK_GLOBALS = (STEPS_GLOBAL, ACCEPT_GLOBAL)
"""What an engine with an on-duty list writes into the shared sandbox Asterisk."""


@contextlib.asynccontextmanager
async def kept_globals(ari: AriClient, *names: str) -> AsyncIterator[None]:
    """The dialplan's globals `names` put back as they were after the block (the sandbox's
    Asterisk is shared by the tests that follow)."""
    before = {name: await ari.get_global(name) for name in names}
    try:
        yield
    finally:
        for name, value in before.items():
            with contextlib.suppress(Exception):
                await ari.set_global(name, value)


@contextlib.asynccontextmanager
async def dialplan_globals(ari: AriClient, **values: str) -> AsyncIterator[None]:
    """The dialplan's globals set so for the block, then put back as they were."""
    async with kept_globals(ari, *values):
        for name, value in values.items():
            await ari.set_global(name, value)
        yield


@pytest.fixture
async def driver(sandbox: Sandbox) -> AsyncIterator[Driver]:
    drv = Driver(sandbox)
    await drv.start()
    yield drv
    await drv.stop()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
