"""The web console with every logger at DEBUG (the data loggers quieted as `hotline` does): an
agent signs in, gets the screen-pop of a caller with a known name, number and keyed date, opens
the intake form from the pop, searches by phone, kana and customer number, and submits a stop
request and a refused one. No log line (message, exception text, traceback) carries the
caller's name, kana, phone, customer number, address, meter, keyed digits or the agent's name
(the extension of tests/integration/store/test_personal_data_in_logs.py to the web)."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import ClientSession, CookieJar
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.callerid import CallerId, CallerIdKind
from ivr.flow.loader import load_flow
from ivr.logs import quiet_data_loggers
from ivr.store.calls import AccountMatched, CallLog, CallOpened, TrailEvent
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.calls import CallControls
from ivr.web.feed import ConsoleFeed
from ivr.web.hub import Hub
from ivr.web.server import serve_console
from routing.agents import AgentPool, AgentProfile
from routing.model import QueueEvent
from routing.wrapup import WrapUps
from tests.integration.store.storedata import cust, seed
from tests.support.console import PASSWORD, T0, VirtualClock, add_member, console_config
from tests.unit.web.conftest import token_in

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
HOTLINE = load_flow(ROOT / "dialplans" / "hotline.yaml")
AGENT_NAME = "水道 花子"
KEYED_DATE = "20270216"
# account 1 of the seed, and what the agent types about it
SECRETS = (
    "試験 1",
    "シケン",
    "しけん",
    "093-582-1234",
    "+81935821234",
    "0935821234",
    "935821234",
    cust(1),
    "本町1丁目101番",
    "M000000101",
    KEYED_DATE,
    "2027-02-16",
    AGENT_NAME,
    "山田 太郎",
)


async def test_the_console_logs_no_personal_data(
    engine: AsyncEngine,
    clock: VirtualClock,
    passwords: Passwords,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    quiet_data_loggers()
    await seed(engine)
    await add_member(
        engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1", name=AGENT_NAME
    )
    caller = CallerId(CallerIdKind.NUMBER, "+81935821234")
    await CallLog(engine).append_many(
        [
            CallOpened("c1", caller, T0),
            AccountMatched("c1", cust(1), "caller_id", T0 + timedelta(seconds=3)),
            TrailEvent("c1", "collected", T0 + timedelta(seconds=9), {"variable": "stop_date"}),
            TrailEvent("c1", "enqueued", T0 + timedelta(seconds=10), {"queue": "general"}),
        ]
    )
    keyed = {"stop_date": KEYED_DATE, "account_number": cust(1), "caller_id": "+81935821234"}
    pool = AgentPool({"agent1": AgentProfile("PJSIP/agent1")}, clock=clock)
    wrap_ups = WrapUps(pool, {"other": {}}, lambda _event: None, clock=clock)
    controls = CallControls(None, wrap_ups, lambda _call: keyed, lambda: {HOTLINE.id: HOTLINE})
    hub = Hub(clock)
    feed = ConsoleFeed(hub, engine, context_of=lambda _call: keyed, clock=clock)
    async with (
        serve_console(
            console_config(),
            engine,
            clock=clock,
            passwords=passwords,
            agents=pool,
            hub=hub,
            controls=controls,
        ) as site,
        ClientSession(base_url=site.url, cookie_jar=CookieJar(unsafe=True)) as browser,
    ):
        login = token_in(await (await browser.get("/login")).text())
        form = {"login": "agent1", "password": PASSWORD, "csrf_token": login}
        assert (await browser.post("/login", data=form, allow_redirects=False)).status == 303
        page = await (await browser.get("/agent")).text()
        assert AGENT_NAME in page
        token = token_in(page)
        async with browser.ws_connect("/agent/ws", headers={"Origin": site.url}) as ws:
            pool.log_in("agent1")
            pool.offer("agent1", "c1")
            feed.queue_event(QueueEvent("c1", "general", clock(), "offered", "agent1"))
            await feed.aclose_after_pops()
            while (message := await ws.receive_json(timeout=5))["type"] != "offer":
                pass
        assert message["accounts"][0]["holder_name"] == "試験 1"
        prefilled = await (await browser.get("/agent/calls/c1/intake/stop")).text()
        assert f'value="{cust(1)}"' in prefilled
        for query in ({"phone": "093-582-1234"}, {"kana": "しけん"}, {"customer_number": cust(1)}):
            found = await browser.get("/api/v1/accounts", params=query)
            assert found.status == 200
        searched = await browser.post(
            "/agent/search", data={"csrf_token": token, "by": "phone", "term": "093-582-1234"}
        )
        assert "試験 1" in await searched.text()
        stop = {"csrf_token": token, "customer_number": cust(1), "stop_date": "2027-02-16"}
        assert (await browser.post("/agent/intake/stop", data=stop)).status == 201
        leak = {"csrf_token": token, "address": "本町1丁目101番", "description": "山田 太郎"}
        assert (await browser.post("/agent/intake/leak", data=leak)).status in (201, 422)
        refused = {"csrf_token": token, "customer_number": "093-582-1234"}
        assert (await browser.post("/agent/intake/stop", data=refused)).status == 422
    await feed.aclose()
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    lines = [formatter.format(r) for r in caplog.records]
    assert any("log-in" in line for line in lines)  # the console did log
    text = "\n".join(lines)
    for secret in SECRETS:
        assert secret not in text, secret
