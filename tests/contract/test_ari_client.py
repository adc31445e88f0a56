"""The ARI client against a fake ARI server: REST shapes, error mapping, reconnect + resync."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp.test_utils import TestServer

from ivr.ari.client import AriClient, Backoff, Disconnected, Resynced, StreamItem
from ivr.ari.models import StasisEnd, StasisStart, UnknownEvent
from ivr.errors import (
    AriBadRequest,
    AriUnauthorized,
    AriUnavailable,
    ChannelGone,
    Fenced,
    NotInStasis,
)
from tests.support.fake_ari_server import FakeAriServer

pytestmark = pytest.mark.contract

# generous bound for an event to cross loopback; only reached when something is broken
EVENT_WAIT_S = 10


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeAriServer, TestServer]]:
    server = FakeAriServer()
    test_server = TestServer(server.app(), host="127.0.0.1")
    await test_server.start_server()
    yield server, test_server
    await test_server.close()


def client_for(test_server: TestServer, password: str = "demo-only-password") -> AriClient:
    return AriClient(
        str(test_server.make_url("/ari")),
        "hotline",
        password,
        "hotline",
        backoff=Backoff(initial_s=0.01, max_s=0.05),
        heartbeat_s=5,
    )


class Stream:
    """Collects what the client's reader hands on, and lets a test wait for an item."""

    def __init__(self) -> None:
        self.items: list[StreamItem] = []
        self.changed = asyncio.Event()

    def __call__(self, item: StreamItem) -> None:
        self.items.append(item)
        self.changed.set()

    async def until(self, predicate: Callable[[StreamItem], bool]) -> StreamItem:
        async with asyncio.timeout(EVENT_WAIT_S):
            while True:
                for item in self.items:
                    if predicate(item):
                        return item
                self.changed.clear()
                await self.changed.wait()


async def test_originate_sends_our_ids_and_app(fake: tuple[FakeAriServer, TestServer]) -> None:
    server, test_server = fake
    async with client_for(test_server) as ari:
        channel = await ari.originate(
            "PJSIP/agent1",
            channel_id="c-1",
            other_channel_id="c-1b",
            app_args="agent",
            timeout_s=20,
        )
    assert channel.id == "c-1"
    [req] = server.requests
    assert (req.method, req.path) == ("POST", "/ari/channels")
    assert req.query == {
        "endpoint": "PJSIP/agent1",
        "app": "hotline",
        "appArgs": "agent",
        "channelId": "c-1",
        "otherChannelId": "c-1b",
        "timeout": "20",
    }


async def test_a_snoop_spies_with_our_id_and_whispers_nothing(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    server.add_channel("c-9", "hotline")
    async with client_for(test_server) as ari:
        snoop = await ari.snoop("c-9", "listen-1-snoop", app_args="listen")
    assert snoop.id == "listen-1-snoop"
    [req] = server.requests
    assert (req.method, req.path) == ("POST", "/ari/channels/c-9/snoop")
    assert req.query == {
        "spy": "both",
        "whisper": "none",
        "app": "hotline",
        "appArgs": "listen",
        "snoopId": "listen-1-snoop",
    }


async def test_play_uses_the_playback_id_we_chose(fake: tuple[FakeAriServer, TestServer]) -> None:
    server, test_server = fake
    server.add_channel("c-2", "hotline")
    async with client_for(test_server) as ari:
        playback = await ari.play("c-2", ["sound:hello-world", "digits:12"], "c-2-pb-1")
    assert playback.id == "c-2-pb-1"
    assert server.requests[-1].path == "/ari/channels/c-2/play/c-2-pb-1"
    assert server.requests[-1].query["media"] == "sound:hello-world,digits:12"


async def test_hangup_of_a_gone_channel_is_channel_gone(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    _server, test_server = fake
    async with client_for(test_server) as ari:
        with pytest.raises(ChannelGone) as err:
            await ari.hangup("nobody")
    assert err.value.status == 404
    assert "Channel not found" in str(err.value)


async def test_unset_variable_reads_empty_but_missing_channel_is_gone(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    server.add_channel("c-3", "hotline")
    async with client_for(test_server) as ari:
        assert await ari.get_variable("c-3", "HOTLINE_STATE") == ""
        await ari.set_variable("c-3", "HOTLINE_STATE", '{"step": "greet"}')
        assert await ari.get_variable("c-3", "HOTLINE_STATE") == '{"step": "greet"}'
        with pytest.raises(ChannelGone):
            await ari.get_variable("c-404", "HOTLINE_STATE")


async def test_error_statuses_map_to_the_exception_tree(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    server.add_channel("c-4", "hotline")
    async with client_for(test_server) as ari:
        with pytest.raises(NotInStasis):
            await ari.continue_in_dialplan("c-4", "hotline", "1000", 1)
        with pytest.raises(AriBadRequest):
            await ari.request("POST", "/channels")
    async with client_for(test_server, password="wrong") as ari:
        with pytest.raises(AriUnauthorized):
            await ari.list_channels()


async def test_unreachable_asterisk_is_unavailable_not_a_crash() -> None:
    # a port nothing listens on: connection refused
    ari = AriClient("http://127.0.0.1:9/ari", "hotline", "x", "hotline", request_timeout_s=2)
    async with ari:
        with pytest.raises(AriUnavailable):
            await ari.answer("c-5")


async def test_events_arrive_after_a_resync_snapshot_of_our_calls(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    server.add_channel("waiting", "hotline")
    server.add_channel("elsewhere", "other-app")
    stream = Stream()
    async with client_for(test_server) as ari:
        reader = asyncio.create_task(ari.run(stream))
        try:
            first = await stream.until(lambda i: isinstance(i, Resynced))
            assert isinstance(first, Resynced)
            assert [c.id for c in first.channels] == ["waiting"]
            assert first.reconnect is False
            await server.send({"type": "StasisStart", "channel": {"id": "new"}, "args": ["main"]})
            await server.send({"type": "SomethingNewInAsterisk23", "detail": 1})
            start = await stream.until(lambda i: isinstance(i, StasisStart))
            unknown = await stream.until(lambda i: isinstance(i, UnknownEvent))
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    assert isinstance(start, StasisStart)
    assert start.args == ["main"]
    assert isinstance(unknown, UnknownEvent)
    assert unknown.raw["detail"] == 1
    assert stream.items.index(first) < stream.items.index(start)


async def test_dropped_and_refused_events_socket_reconnects_and_resyncs_by_itself(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    stream = Stream()
    async with client_for(test_server) as ari:
        reader = asyncio.create_task(ari.run(stream))
        try:
            await stream.until(lambda i: isinstance(i, Resynced))
            # Asterisk restarts: the socket drops, new connections are refused for a while,
            # and a call arrives in Stasis while we are away
            server.refuse_next(3)
            await server.drop_events()
            server.add_channel("arrived-while-away", "hotline")
            await stream.until(lambda i: isinstance(i, Disconnected))
            again = await stream.until(lambda i: isinstance(i, Resynced) and i.reconnect)
            assert ari.connected.is_set()
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    assert isinstance(again, Resynced)
    assert [c.id for c in again.channels] == ["arrived-while-away"]
    assert server.refuse == 0
    assert server.connects == 2


async def test_a_request_held_by_asterisk_makes_the_next_wait_for_the_pool_and_is_counted(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    server.add_channel("c-7", "hotline")
    server.hold_variables = asyncio.Event()
    ari = AriClient(
        str(test_server.make_url("/ari")), "hotline", "demo-only-password", "hotline", pool_limit=1
    )
    async with ari:
        held = asyncio.create_task(ari.set_variable("c-7", "X", "1"))
        await asyncio.wait_for(server.variable_held.wait(), EVENT_WAIT_S)
        # Asterisk would answer this at once; it waits for the one connection of our pool
        answer = asyncio.create_task(ari.answer("c-7"))
        server.hold_variables.set()
        await asyncio.wait_for(asyncio.gather(held, answer), EVENT_WAIT_S)
    assert ari.stats.asterisk.count == 2
    assert ari.stats.pool.count == 1
    assert ari.stats.pool.max_s > 0
    assert ari.stats.in_flight_max == 2


async def test_a_request_past_its_timeout_is_unavailable_and_the_connection_not_reused(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    server.add_channel("c-12", "hotline")
    server.hold_variables = asyncio.Event()
    async with client_for(test_server) as ari:
        with pytest.raises(AriUnavailable, match="TimeoutError"):
            await ari.set_variable("c-12", "X", "1", timeout_s=0.05)
        server.hold_variables.set()
        # the client goes on: the next request is answered (on a new connection)
        await ari.answer("c-12")
    assert server.channels["c-12"]["state"] == "Up"


async def test_cancelling_a_request_is_a_cancellation_not_a_timeout(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    server.add_channel("c-13", "hotline")
    server.hold_variables = asyncio.Event()
    async with client_for(test_server) as ari:
        held = asyncio.create_task(ari.set_variable("c-13", "X", "1", timeout_s=30))
        await asyncio.wait_for(server.variable_held.wait(), EVENT_WAIT_S)
        held.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held
        server.hold_variables.set()


class OneAnswerPerConnection:
    """A bare HTTP server that answers the first request on each connection (keep-alive) and
    closes the connection, without a word, when a second request arrives on it — as Asterisk
    does when its idle timeout and our request cross."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/ari"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered = False
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head.split(b" ", 2)[1].decode())
                if answered:
                    return
                body = b'{"id":"c-1","name":"PJSIP/x","state":"Up"}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                answered = True
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_a_kept_alive_connection_closed_by_the_server_is_retried_only_when_safe() -> None:
    server = OneAnswerPerConnection()
    url = await server.start()
    try:
        async with AriClient(url, "hotline", "pw", "hotline") as ari:
            await ari.get_channel("c-1")
            # the same connection again: closed unanswered, so the GET goes once more, anew
            assert (await ari.get_channel("c-1")).id == "c-1"
            assert server.requests == ["/ari/channels/c-1"] * 3
            # an originate is never sent twice: it may have rung a phone
            with pytest.raises(AriUnavailable):
                await ari.originate("PJSIP/agent1", channel_id="c-2")
            assert server.requests[3:] == [
                "/ari/channels?endpoint=PJSIP%2Fagent1&app=hotline&channelId=c-2&timeout=30"
            ]
    finally:
        await server.stop()


def sent(server: FakeAriServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.requests]


async def test_idempotent_requests_closed_unanswered_are_sent_once_more(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    server.add_channel("c-8", "hotline")
    server.close_unanswered("POST /ari/channels/c-8/answer")
    server.close_unanswered("POST /ari/channels/c-8/variable", handled=True)
    server.close_unanswered("DELETE /ari/channels/c-8")
    async with client_for(test_server) as ari:
        await ari.answer("c-8")
        await ari.set_variable("c-8", "HOTLINE_STATE", "x")
        await ari.hangup("c-8")
    assert sent(server) == [
        "POST /ari/channels/c-8/answer",
        "POST /ari/channels/c-8/answer",
        "POST /ari/channels/c-8/variable",
        "POST /ari/channels/c-8/variable",
        "DELETE /ari/channels/c-8",
        "DELETE /ari/channels/c-8",
    ]
    assert server.channels == {}


async def test_a_play_closed_unanswered_is_not_played_twice(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    server.add_channel("c-9", "hotline")
    # Asterisk started the first playback and then dropped the connection: asked, not re-sent
    server.close_unanswered("POST /ari/channels/c-9/play/pb-1", handled=True)
    # this one never reached Asterisk: asked, then sent again
    server.close_unanswered("POST /ari/channels/c-9/play/pb-2")
    async with client_for(test_server) as ari:
        first = await ari.play("c-9", "sound:hello", "pb-1")
        second = await ari.play("c-9", "sound:hello", "pb-2")
    assert (first.id, second.id) == ("pb-1", "pb-2")
    assert server.plays == ["pb-1", "pb-2"]
    assert sent(server) == [
        "POST /ari/channels/c-9/play/pb-1",
        "GET /ari/playbacks/pb-1",
        "POST /ari/channels/c-9/play/pb-2",
        "GET /ari/playbacks/pb-2",
        "POST /ari/channels/c-9/play/pb-2",
    ]


async def test_an_originate_closed_unanswered_on_a_new_connection_is_not_sent_again(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    server.close_unanswered("POST /ari/channels")
    async with client_for(test_server) as ari:
        with pytest.raises(AriUnavailable, match="ClosedUnanswered"):
            await ari.originate("PJSIP/agent1", channel_id="c-10")
    assert sent(server) == ["POST /ari/channels"]


async def test_a_connection_closed_after_part_of_an_answer_is_not_sent_again() -> None:
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 20")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with AriClient(f"http://127.0.0.1:{port}/ari", "hotline", "pw", "hotline") as ari:
            with pytest.raises(AriUnavailable, match="IncompleteReadError"):
                await ari.answer("c-11")
    finally:
        server.close()
        await server.wait_closed()
    assert len(heads) == 1


async def test_an_answer_that_is_not_aris_http_is_unavailable_not_a_crash() -> None:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with AriClient(f"http://127.0.0.1:{port}/ari", "hotline", "pw", "hotline") as ari:
            with pytest.raises(AriUnavailable, match="RestProtocolError"):
                await ari.info()
    finally:
        server.close()
        await server.wait_closed()


async def test_event_types_nobody_reads_are_filtered_out_at_asterisk(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    stream = Stream()
    ari = AriClient(
        str(test_server.make_url("/ari")),
        "hotline",
        "demo-only-password",
        "hotline",
        disallowed_events=("ChannelVarset", "PlaybackStarted"),
    )
    async with ari:
        reader = asyncio.create_task(ari.run(stream))
        try:
            await stream.until(lambda i: isinstance(i, Resynced))
            channel = {"id": "c-1"}
            await server.send({"type": "ChannelVarset", "channel": channel, "variable": "X"})
            await server.send({"type": "StasisEnd", "channel": channel})
            await stream.until(lambda i: isinstance(i, StasisEnd))
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
    assert server.disallowed == {"ChannelVarset", "PlaybackStarted"}
    kinds = [type(i).__name__ for i in stream.items]
    assert kinds == ["Resynced", "StasisEnd"]


async def test_an_engine_that_may_not_act_sends_no_request_until_it_may_again(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    """The leader lock's fence (ivr.leader): a hang-up asked for by a session's own timer after
    the engine's right to act ran out never reaches Asterisk."""
    server, test_server = fake
    server.add_channel("c-8", "hotline")
    allowed = False
    async with client_for(test_server) as ari:
        ari.may_act = lambda: allowed
        with pytest.raises(Fenced, match="may not act"):
            await ari.hangup("c-8")
        assert server.requests == []
        allowed = True
        await ari.answer("c-8")
    assert [r.path for r in server.requests] == ["/ari/channels/c-8/answer"]


async def test_a_request_whose_right_ran_out_while_it_waited_for_the_pool_is_not_sent(
    fake: tuple[FakeAriServer, TestServer],
) -> None:
    server, test_server = fake
    server.add_channel("c-9", "hotline")
    server.hold_variables = asyncio.Event()
    allowed = True
    ari = AriClient(
        str(test_server.make_url("/ari")), "hotline", "demo-only-password", "hotline", pool_limit=1
    )
    ari.may_act = lambda: allowed
    async with ari:
        held = asyncio.create_task(ari.set_variable("c-9", "X", "1"))
        await asyncio.wait_for(server.variable_held.wait(), EVENT_WAIT_S)
        waiting = asyncio.create_task(ari.hangup("c-9"))
        # it passed the first check and waits for the pool's only connection
        while ari.stats.in_flight < 2:  # noqa: ASYNC110
            await asyncio.sleep(0)
        allowed = False
        server.hold_variables.set()
        await asyncio.wait_for(held, EVENT_WAIT_S)
        with pytest.raises(Fenced):
            await asyncio.wait_for(waiting, EVENT_WAIT_S)
    assert [r.method for r in server.requests] == ["POST"]
