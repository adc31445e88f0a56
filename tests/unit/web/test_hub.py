"""The live channel: every open tab of an agent gets the pop; a browser that stops reading is
dropped without holding up the push (the caller's path) or the other tabs; a page that
(re)connects gets the current offer at once; only a signed-in page of this console may connect.

Fake peers (the hub's port) in virtual time for the timing; the console app on a real socket
(aiohttp's test server) for the route."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, WSServerHandshakeError, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from ivr.web.app import create_app
from ivr.web.hub import QUEUE_SIZE, Hub
from ivr.web.messages import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    ConsoleMessage,
    Offer,
    OfferWithdrawn,
    read_message,
)
from routing.policy import AgentStatus
from tests.support.console import T0, VirtualClock, add_member, console_config
from tests.unit.web.conftest import Client, sign_in

pytestmark = pytest.mark.unit

# a wait for a message that is on its way; only reached when broken
WAIT_S = 60


def offer(call_id: str = "call-1") -> Offer:
    return Offer(
        call_id=call_id,
        offered_at=T0,
        caller_number="093-582-1234",
        caller_kind="number",
        accounts=(),
        account_chosen=False,
        matched_by=None,
        ivr_path=(),
        entries=(),
        intakes=(),
        notices=(),
        language="ja",
        queue="general",
        enqueued_at=T0 - timedelta(seconds=42),
        waited_s=42.0,
    )


def state(status: AgentStatus = "ready") -> AgentStateChanged:
    return AgentStateChanged(status=status, since=T0, reason=None, call_id=None)


class FakePeer:
    """A browser tab: keeps what it is sent; `stall()` makes it stop reading."""

    def __init__(self) -> None:
        self.received: list[ConsoleMessage] = []
        self.aborted = False
        self.closed_with: int | None = None
        self._reading = asyncio.Event()
        self._reading.set()
        self._arrived = asyncio.Condition()

    def stall(self) -> None:
        self._reading.clear()

    async def send_str(self, data: str) -> None:
        await self._reading.wait()
        async with self._arrived:
            self.received.append(read_message(data))
            self._arrived.notify_all()

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        self.closed_with = code
        return True

    def abort(self) -> None:
        self.aborted = True

    async def wait_for(self, count: int) -> list[ConsoleMessage]:
        async with asyncio.timeout(WAIT_S), self._arrived:
            await self._arrived.wait_for(lambda: len(self.received) >= count)
        return self.received


@pytest.mark.looptime
async def test_a_stalled_tab_is_dropped_and_neither_push_nor_the_other_tab_waits() -> None:
    hub = Hub(VirtualClock())
    stalled, healthy = FakePeer(), FakePeer()
    stalled.stall()
    async with (
        hub.attached("agent1", stalled, stalled.abort) as slow,
        hub.attached("agent1", healthy, healthy.abort),
    ):
        # offers come one by one; the healthy tab reads each before the next
        handed = []
        for i in range(QUEUE_SIZE + 3):
            handed.append(hub.push("agent1", offer(f"call-{i}")))
            await healthy.wait_for(i + 1)
        # the stalled tab holds one message in its write and QUEUE_SIZE waiting: the next push
        # drops it, without waiting for it
        assert handed == [2] * (QUEUE_SIZE + 1) + [1, 1]
        assert slow.dropped == "slow"
        assert stalled.aborted
        assert hub.connections("agent1") == 1
        assert healthy.received == [offer(f"call-{i}") for i in range(QUEUE_SIZE + 3)]
        assert stalled.received == []
    assert hub.dropped == 1


@pytest.mark.looptime
async def test_a_tab_that_stops_reading_mid_write_is_dropped_after_the_send_timeout() -> None:
    hub = Hub(VirtualClock(), send_timeout_s=5.0)
    peer = FakePeer()
    peer.stall()
    async with hub.attached("agent1", peer, peer.abort) as conn:
        hub.push("agent1", offer())
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert conn.sender is not None
        await conn.sender
        assert conn.dropped == "stalled"
        assert peer.aborted
        assert loop.time() - start == pytest.approx(5.0)


@pytest.mark.looptime
async def test_a_quiet_connection_gets_a_heartbeat() -> None:
    clock = VirtualClock()
    hub = Hub(clock, heartbeat_s=15.0)
    peer = FakePeer()
    async with hub.attached("agent1", peer, peer.abort):
        loop = asyncio.get_running_loop()
        start = loop.time()
        (beat,) = await peer.wait_for(1)
        assert beat.type == "heartbeat"
        assert loop.time() - start == pytest.approx(15.0)


async def test_a_page_that_connects_gets_the_state_and_the_current_call_at_once() -> None:
    hub = Hub(VirtualClock())
    hub.push("agent1", state("ready"))
    hub.push("agent1", offer())
    hub.push("agent1", CallAnswered(call_id="call-1", at=T0))
    hub.push("agent1", CallAnswered(call_id="call-other", at=T0))  # not this call's
    peer = FakePeer()
    async with hub.attached("agent1", peer, peer.abort):
        got = await peer.wait_for(3)
    assert [m.type for m in got] == ["agent_state", "offer", "call_answered"]
    assert hub.current_offer("agent1") == offer()
    assert hub.current("agent2") == []


@pytest.mark.parametrize(
    "after",
    [
        OfferWithdrawn(call_id="call-1", at=T0, reason="caller_hung_up"),
        state("ready"),
        state("paused"),
    ],
    ids=["withdrawn", "ready again", "paused"],
)
def test_the_current_call_ends_with_its_withdrawal_or_the_next_idle_state(
    after: ConsoleMessage,
) -> None:
    hub = Hub(VirtualClock())
    hub.push("agent1", offer())
    hub.push("agent1", CallEnded(call_id="call-1", at=T0, wrap_up_until=None))
    hub.push("agent1", state("wrap_up"))
    assert hub.current_offer("agent1") == offer()  # kept through wrap-up: the forms need it
    hub.push("agent1", after)
    assert hub.current_offer("agent1") is None
    assert all(m.type == "agent_state" for m in hub.current("agent1"))


async def test_disconnect_closes_every_tab_of_the_agent() -> None:
    hub = Hub(VirtualClock())
    one, two, other = FakePeer(), FakePeer(), FakePeer()
    async with (
        hub.attached("agent1", one, one.abort),
        hub.attached("agent1", two, two.abort),
        hub.attached("agent2", other, other.abort),
    ):
        await hub.disconnect("agent1")
        assert (one.closed_with, two.closed_with, other.closed_with) == (1008, 1008, None)
        assert hub.connections("agent1") == 0
        assert hub.connections("agent2") == 1


# ---------------------------------------------------------------------- GET /agent/ws


@pytest.fixture
async def live(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> AsyncIterator[tuple[Client, Hub]]:
    hub = Hub(clock)
    app = create_app(console_config(), engine, clock, passwords=passwords, hub=hub)
    await add_member(engine, passwords, "agent1", endpoint="PJSIP/agent1")
    async with TestClient(TestServer(app)) as client:
        yield client, hub


def own_origin(client: Client) -> str:
    return str(client.make_url("/")).rstrip("/")


async def receive(ws: ClientWebSocketResponse) -> ConsoleMessage:
    msg = await ws.receive(timeout=WAIT_S)
    assert msg.type is WSMsgType.TEXT, msg
    return read_message(msg.data)


async def connect(client: Client) -> ClientWebSocketResponse:
    return await client.ws_connect("/agent/ws", origin=own_origin(client))


async def test_both_tabs_of_an_agent_get_the_pop(live: tuple[Client, Hub]) -> None:
    client, hub = live
    assert (await sign_in(client, "agent1")).status == 303
    hub.push("agent1", state("ready"))
    tabs = [await connect(client), await connect(client)]
    # the state each tab is sent first says it is attached
    for tab in tabs:
        assert (await receive(tab)).type == "agent_state"
    assert hub.push("agent1", offer()) == 2
    for tab in tabs:
        assert await receive(tab) == offer()
        await tab.close()


async def test_a_reconnecting_page_gets_the_pop_pushed_while_it_was_away(
    live: tuple[Client, Hub],
) -> None:
    client, hub = live
    await sign_in(client, "agent1")
    hub.push("agent1", state("ready"))
    tab = await connect(client)
    assert (await receive(tab)).type == "agent_state"
    await tab.close()
    assert hub.push("agent1", offer()) in (0, 1)  # the server may not have seen the close yet
    again = await connect(client)
    assert [await receive(again), await receive(again)] == [state("ready"), offer()]
    await again.close()


async def test_a_signed_out_upgrade_is_refused(live: tuple[Client, Hub]) -> None:
    client, hub = live
    answer = await client.get(
        "/agent/ws",
        headers={
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            "Origin": own_origin(client),
        },
        allow_redirects=False,
    )
    # the access middleware answers a page's way: to the log-in, never upgraded
    assert answer.status == 303
    assert answer.headers["Location"].startswith("/login?next=")
    assert hub.connections("agent1") == 0


@pytest.mark.parametrize("origin", ["http://evil.example", "null", ""])
async def test_an_upgrade_from_another_origin_is_refused(
    live: tuple[Client, Hub], origin: str
) -> None:
    client, hub = live
    await sign_in(client, "agent1")
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/agent/ws", origin=origin or None)
    assert refused.value.status == 403
    assert hub.connections("agent1") == 0


async def test_a_plain_get_is_not_an_upgrade(live: tuple[Client, Hub]) -> None:
    client, _ = live
    await sign_in(client, "agent1")
    answer = await client.get("/agent/ws", headers={"Origin": own_origin(client)})
    assert answer.status == 400


async def test_the_console_stopping_closes_the_connections(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> None:
    hub = Hub(clock)
    app = create_app(console_config(), engine, clock, passwords=passwords, hub=hub)
    await add_member(engine, passwords, "agent1")
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await sign_in(client, "agent1")
        hub.push("agent1", state("ready"))
        tab = await connect(client)
        await receive(tab)
        await app.shutdown()
        closing = await tab.receive(timeout=WAIT_S)
        assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        assert tab.close_code == 1001
    finally:
        await client.close()


async def test_a_page_connecting_while_the_console_stops_is_closed_at_once(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> None:
    # the browser's upgrade was under way when the console stopped: it must not attach to the
    # closed hub and hold the shutdown open until aiohttp's timeout cancels it
    hub = Hub(clock)
    app = create_app(console_config(), engine, clock, passwords=passwords, hub=hub)
    await add_member(engine, passwords, "agent1")
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await sign_in(client, "agent1")
        hub.push("agent1", state("ready"))
        await app.shutdown()
        late = await connect(client)
        closing = await late.receive(timeout=WAIT_S)
        assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        assert late.close_code == 1001
        assert hub.connections("agent1") == 0
    finally:
        await client.close()


def test_the_route_is_the_agents_and_named(engine: AsyncEngine, clock: VirtualClock) -> None:
    app = create_app(console_config(), engine, clock, hub=Hub(clock))
    assert isinstance(app.router["agent_ws"], web.AbstractResource)
    assert app.router["agent_ws"].canonical == "/agent/ws"
