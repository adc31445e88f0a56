"""The dialplan fallback's on-duty list, published by the engine into Asterisk's globals (the
in-memory ARI fake, virtual time): at once on every (re)connect, again each round so an edit
reaches it, and never an empty list over a good one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ivr.ari.client import Disconnected, Resynced
from ivr.errors import AriUnavailable
from ivr.store.duty import DutyStep
from routing.config import RoutingConfig
from routing.fallback import (
    ACCEPT_GLOBAL,
    FIELD_SEP,
    PUBLISH_EVERY_S,
    STEP_SEP,
    STEPS_GLOBAL,
    FallbackDuty,
)
from routing.hours import calendars_of
from routing.transfer import ACCEPT_PROMPT, TransferService
from tests.unit.routing.test_queues import FakeRoutingAri

pytestmark = [pytest.mark.unit, pytest.mark.looptime]

ROOT = Path(__file__).resolve().parents[3]
LEAKS = "leaks"
CONFIG_PHONE = "PJSIP/duty-config"


class Roster:
    """The database's on-duty lists, as an admin edits them in the console."""

    def __init__(self, steps: tuple[DutyStep, ...] | None) -> None:
        self.steps = steps

    async def on_duty(self, department: str) -> tuple[DutyStep, ...] | None:
        return self.steps


@dataclass
class GlobalsAri(FakeRoutingAri):
    """An Asterisk that may be away: `set_global` then fails as the real client does."""

    away: bool = False
    writes: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def set_global(self, variable: str, value: str) -> None:
        if self.away:
            raise AriUnavailable("POST /asterisk/variable: connection refused")
        await super().set_global(variable, value)
        self.writes += 1
        if variable == STEPS_GLOBAL:  # written last
            self.changed.set()


@dataclass
class Rig:
    ari: GlobalsAri
    roster: Roster
    duty: FallbackDuty

    def steps(self) -> str | None:
        return self.ari.dialplan_globals.get(STEPS_GLOBAL)

    async def written(self) -> None:
        """Wait for the next write (bounded: it is due within one round)."""
        self.ari.changed.clear()
        await asyncio.wait_for(self.ari.changed.wait(), PUBLISH_EVERY_S + 1)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    ari = GlobalsAri()
    config = RoutingConfig.model_validate(
        {
            "departments": {
                LEAKS: {"on_duty": [CONFIG_PHONE], "ring_timeout_s": 25, "accept_timeout_s": 12}
            }
        }
    )
    roster = Roster(
        (DutyStep("Sato", "PJSIP/onduty/sip:sato@10.0.0.5", 20), DutyStep("Ito", "PJSIP/ito", 40))
    )
    transfers = TransferService(config, ari, calendars_of(config), duty=roster)
    duty = FallbackDuty(ari, transfers, LEAKS, config.departments[LEAKS].accept_timeout_s)
    ari.sink = duty.on_event
    task = asyncio.create_task(duty.run(), name="duty-fallback")
    yield Rig(ari, roster, duty)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_nothing_is_written_before_asterisk_is_connected(rig: Rig) -> None:
    await asyncio.sleep(3 * PUBLISH_EVERY_S)
    assert rig.ari.dialplan_globals == {}


async def test_a_connect_publishes_the_list_the_engine_rings_at_once(rig: Rig) -> None:
    loop = asyncio.get_running_loop()
    at = loop.time()
    rig.ari.emit(Resynced(channels=(), reconnect=False))
    await rig.written()
    assert loop.time() - at < 1  # not a round later
    assert rig.ari.dialplan_globals == {
        ACCEPT_GLOBAL: "12",
        STEPS_GLOBAL: "PJSIP/onduty/sip:sato@10.0.0.5~20^PJSIP/ito~40",
    }


async def test_an_edited_list_reaches_the_fallback_within_a_round(rig: Rig) -> None:
    rig.ari.emit(Resynced(channels=(), reconnect=False))
    await rig.written()
    rig.roster.steps = (DutyStep("Kato", "PJSIP/kato", 15),)
    await rig.written()
    assert rig.steps() == "PJSIP/kato~15"


async def test_without_a_database_list_config_yaml_s_is_published(rig: Rig) -> None:
    rig.roster.steps = None
    rig.ari.emit(Resynced(channels=(), reconnect=False))
    await rig.written()
    assert rig.steps() == f"{CONFIG_PHONE}~25"


async def test_an_empty_list_leaves_the_last_one_in_place(rig: Rig) -> None:
    rig.ari.emit(Resynced(channels=(), reconnect=False))
    await rig.written()
    before = rig.ari.writes
    rig.roster.steps = ()
    await asyncio.sleep(3 * PUBLISH_EVERY_S)
    assert rig.ari.writes == before
    assert rig.steps() == "PJSIP/onduty/sip:sato@10.0.0.5~20^PJSIP/ito~40"


async def test_a_reconnect_publishes_again_and_nothing_is_sent_while_disconnected(
    rig: Rig,
) -> None:
    rig.ari.emit(Resynced(channels=(), reconnect=False))
    await rig.written()
    rig.ari.emit(Disconnected())
    rig.ari.away = True  # would raise if the rounds still wrote
    rig.roster.steps = (DutyStep("Kato", "PJSIP/kato", 15),)
    await asyncio.sleep(3 * PUBLISH_EVERY_S)
    # Asterisk restarted: its globals are the dialplan's defaults until we write ours
    rig.ari.dialplan_globals.clear()
    rig.ari.away = False
    rig.ari.emit(Resynced(channels=(), reconnect=True))
    await rig.written()
    assert rig.steps() == "PJSIP/kato~15"


async def test_a_refused_write_is_tried_again_next_round(rig: Rig) -> None:
    rig.ari.away = True
    rig.ari.emit(Resynced(channels=(), reconnect=False))
    await asyncio.sleep(1)
    assert rig.ari.dialplan_globals == {}
    rig.ari.away = False
    await rig.written()
    assert rig.steps() == "PJSIP/onduty/sip:sato@10.0.0.5~20^PJSIP/ito~40"


class Flaky:
    """A list source that fails its first read (a bug, not the database: that one is caught
    by `TransferService.duty_steps` itself)."""

    def __init__(self) -> None:
        self.reads = 0

    async def duty_steps(self, department: str) -> tuple[DutyStep, ...]:
        self.reads += 1
        if self.reads == 1:
            raise RuntimeError("boom")
        return (DutyStep("Kato", "PJSIP/kato", 15),)


async def test_a_failed_round_does_not_end_the_task() -> None:
    ari = GlobalsAri()
    duty = FallbackDuty(ari, Flaky(), LEAKS, 15)
    ari.sink = duty.on_event
    task = asyncio.create_task(duty.run(), name="duty-fallback")
    try:
        ari.emit(Resynced(channels=(), reconnect=False))
        await asyncio.wait_for(ari.changed.wait(), PUBLISH_EVERY_S + 1)
        assert ari.dialplan_globals[STEPS_GLOBAL] == "PJSIP/kato~15"
        assert not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_the_dialplan_reads_what_is_published_and_asks_what_the_engine_asks() -> None:
    dialplan = (ROOT / "asterisk" / "extensions.conf").read_text(encoding="utf-8")
    for name in (STEPS_GLOBAL, ACCEPT_GLOBAL):
        assert f"\n{name}=" in dialplan  # its default in [globals]
        assert f"${{{name}}}" in dialplan  # and read where the fallback rings
    assert f"${{HOTLINE_PROMPTS}}/ja/{ACCEPT_PROMPT}&${{HOTLINE_PROMPTS}}/en/{ACCEPT_PROMPT}" in (
        dialplan
    )
    assert f"(duty_step,{FIELD_SEP},1)" in dialplan
    assert f"(duty_steps,{STEP_SEP},${{duty_i}})" in dialplan
