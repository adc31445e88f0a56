"""An intake form opened from the screen-pop (`GET /agent/calls/{call_id}/intake/{kind}`) starts
with what the caller keyed in the IVR, read by the server from the engine by the call's id (the
flow's intake node of that kind says which variable fills which field), and the customer number
of the account the IVR matched, whose showing is audited as the pop's; a call that is not the
agent's opens nothing, and nothing the page sends is taken as a pre-fill."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.callerid import CallerId, CallerIdKind
from ivr.flow.loader import load_flow
from ivr.store.calls import AccountMatched, CallLog, CallOpened
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.store.tables import audit_log
from ivr.web.app import create_app
from ivr.web.calls import CallControls
from routing.agents import AgentPool, AgentProfile
from routing.wrapup import WrapUps
from tests.integration.store.storedata import cust, seed
from tests.support.console import T0, VirtualClock, add_member, console_config
from tests.unit.web.conftest import Client, sign_in

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
HOTLINE = load_flow(ROOT / "dialplans" / "hotline.yaml")
CALLER = CallerId(CallerIdKind.NUMBER, "+81935821234")  # account 1 of the seed
# what the caller keyed on call c1 (the flow's variables, as the engine holds them)
KEYED = {
    "c1": {
        "move_out_date": "20270216",
        "move_in_date": "20270217",
        "new_meter": "M-20001",
        "caller_id": "+81935821234",
        "language": "ja",
    }
}


def value_of(html: str, name: str) -> str | None:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    return found.group(1) if found else None


async def audit_of(engine: AsyncEngine, call_id: str) -> list[tuple[str, int | None, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                audit_log.c.actor, audit_log.c.account_id, audit_log.c.action, audit_log.c.reason
            )
            .where(audit_log.c.call_id == call_id)
            .order_by(audit_log.c.id)
        )
        return [tuple(r) for r in rows]


@pytest.fixture
async def rig(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> AsyncIterator[tuple[Client, AgentPool, WrapUps]]:
    await seed(engine)
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")
    await add_member(engine, passwords, "agent2", Role.AGENT, endpoint="PJSIP/agent2")
    await CallLog(engine).append_many(
        [
            CallOpened("c1", CALLER, T0),
            AccountMatched("c1", cust(1), "caller_id", T0 + timedelta(seconds=3)),
            CallOpened("c2", CALLER, T0),
        ]
    )
    profiles = {"agent1": AgentProfile("PJSIP/agent1"), "agent2": AgentProfile("PJSIP/agent2")}
    pool = AgentPool(profiles, clock=clock)
    wrap_ups = WrapUps(pool, {"other": {}}, lambda _event: None, clock=clock)

    def keyed(call_id: str) -> Mapping[str, str] | None:
        return KEYED.get(call_id)

    controls = CallControls(None, wrap_ups, keyed, lambda: {HOTLINE.id: HOTLINE})
    app = create_app(
        console_config(), engine, clock, passwords=passwords, agents=pool, controls=controls
    )
    async with TestClient(TestServer(app)) as client:
        assert (await sign_in(client, "agent1")).status == 303
        pool.log_in("agent1")
        pool.offer("agent1", "c1")
        yield client, pool, wrap_ups


async def test_the_move_form_starts_with_what_the_caller_keyed_and_their_account(
    rig: tuple[Client, AgentPool, WrapUps], engine: AsyncEngine
) -> None:
    client, _pool, _wrap_ups = rig
    page = await client.get("/agent/calls/c1/intake/transfer?stop_date=2030-01-01")
    assert page.status == 200
    html = await page.text()
    # dates as the date input takes them; the query's stop_date is not taken
    assert value_of(html, "stop_date") == "2027-02-16"
    assert value_of(html, "start_date") == "2027-02-17"
    assert value_of(html, "new_meter_number") == "M-20001"
    assert value_of(html, "customer_number") == cust(1)
    assert 'id="on-call-note"' in html
    assert await audit_of(engine, "c1") == [("agent:agent1", 1, "screen_pop", "intake_prefill")]


async def test_a_kind_the_caller_keyed_nothing_for_still_has_the_account(
    rig: tuple[Client, AgentPool, WrapUps],
) -> None:
    client, _pool, _wrap_ups = rig
    html = await (await client.get("/agent/calls/c1/intake/stop")).text()
    assert value_of(html, "customer_number") == cust(1)
    assert value_of(html, "stop_date") == ""


async def test_the_form_is_there_in_wrap_up_too(rig: tuple[Client, AgentPool, WrapUps]) -> None:
    client, pool, wrap_ups = rig
    pool.answered("agent1")
    wrap_ups.begin("agent1", "c1", "general", 30)
    pool.wrap_up_done("agent1")
    # the agent is ready again, and may still key the request of the call just ended
    html = await (await client.get("/agent/calls/c1/intake/transfer")).text()
    assert value_of(html, "new_meter_number") == "M-20001"


async def test_another_agents_call_opens_nothing_and_shows_no_account(
    rig: tuple[Client, AgentPool, WrapUps], engine: AsyncEngine
) -> None:
    client, pool, _wrap_ups = rig
    pool.log_in("agent2")
    pool.offer("agent2", "c2")
    assert (await client.get("/agent/calls/c2/intake/stop")).status == 404
    assert (await client.get("/agent/calls/nope/intake/stop")).status == 404
    assert await audit_of(engine, "c2") == []
