"""What a call session hands to the call's trail while it goes on: its opening, every flow
event with its own time, and the account the caller was recognised as."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ivr.calls.records import RecordedEvent
from tests.unit.calls.test_call_session import Rig, settle

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)

pytestmark = [pytest.mark.unit, pytest.mark.looptime]


def kinds(events: list[RecordedEvent]) -> list[str]:
    return [e.kind for e in events]


@pytest.mark.parametrize("number", ["093-582-1234", "0935821234", "+81935821234", "81935821234"])
async def test_the_caller_is_recognised_whatever_form_the_number_comes_in(number: str) -> None:
    rig = Rig()
    rig.ari.incoming("c1", number=number)
    await settle()
    rig.finish()
    await settle()
    rig.press("c1", "1")  # the test flow's menu: 1 looks the caller up
    await settle()
    rig.finish()
    record = await rig.recorder.wait_for("c1")
    # the same account as for the number in its national form, not "withheld"
    assert record.account == "1000000018"
    assert record.caller == number
    trail = rig.recorder.trail_of("c1")
    assert "account_matched" in kinds(trail)
    assert next(e for e in trail if e.kind == "account_matched").data == {"by": "caller_id"}
    # the record of the match holds how, not the number: the trail never copies keyed values
    assert all("1000000018" not in e.data.values() for e in trail)


async def test_a_withheld_caller_is_opened_but_matched_to_nobody() -> None:
    rig = Rig()
    rig.ari.incoming("c2", number="anonymous")
    await settle()
    rig.finish()
    await settle()
    rig.press("c2", "1")
    await settle()
    rig.finish()
    record = await rig.recorder.wait_for("c2")
    assert record.account == ""
    trail = rig.recorder.trail_of("c2")
    assert kinds(trail)[0] == "opened"
    assert "account_matched" not in kinds(trail)


async def test_flow_events_reach_the_trail_as_they_happen_with_their_own_times() -> None:
    rig = Rig()
    loop = asyncio.get_running_loop()
    # the services' clock follows the virtual loop time
    rig.services.clock = lambda: T0 + timedelta(seconds=loop.time())
    rig.ari.incoming("c3", number="0935821234")
    await settle()
    # while the greeting plays, before any end of the call, the trail already has the start
    assert kinds(rig.recorder.trail_of("c3"))[:2] == ["opened", "entered"]
    rig.finish()
    await settle()
    await asyncio.sleep(7.0)
    rig.press("c3", "1")
    await settle()
    trail = rig.recorder.trail_of("c3")
    choice = next(e for e in trail if e.kind == "menu_choice")
    entered = next(e for e in trail if e.kind == "entered")
    # the choice is stamped when the key came, seven seconds after the flow began
    assert timedelta(seconds=7) <= choice.at - entered.at < timedelta(seconds=8)
    assert choice.data["node"] == "menu"
    assert [e.at for e in trail] == sorted(e.at for e in trail)
    rig.finish()
    record = await rig.recorder.wait_for("c3")
    # the record's copy of the trail carries the same times
    assert (
        record.trail_at[
            record.trail.index(next(t for t in record.trail if t["event"] == "menu_choice"))
        ]
        == choice.at.isoformat()
    )
