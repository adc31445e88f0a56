"""The console's live channel: each signed-in agent's WebSocket connections (one per open tab),
and `Hub.push`, which hands a message to all of them without ever waiting for a browser.

`push` is called on the caller's path (the queue offering a call): it serialises the message
once and puts it on each connection's bounded queue; a connection whose queue is full (a slow or
dead browser) is dropped on the spot, its socket aborted, and the page reconnects by itself. A
sender task per connection writes the queue to the socket, each write bounded by
`send_timeout_s`, and sends a `heartbeat` message when there was nothing else for
`heartbeat_s` (the page treats a silent connection as lost; aiohttp's own ping, on the same
period, finds a browser that went away without closing).

The hub keeps each agent's snapshot: the last `agent_state` and the messages of the current call
(`offer`, `call_answered`, `hold`, `call_ended`) until the offer is withdrawn or the agent is ready,
paused or logged out again. A page that (re)connects gets the snapshot at once: a pop pushed
while the tab was reconnecting is not lost.

`GET /agent/ws` (`add_pop_routes`) is the agent's connection: the agent role (as every page,
declared with `ivr.web.access`), and an `Origin` equal to the console's own host, since a
browser sends cookies with a cross-site WebSocket upgrade and SameSite alone does not cover
every same-site origin.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, web

from ivr.store.staff import Role
from ivr.web.access import add_route
from ivr.web.messages import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallHold,
    ConsoleMessage,
    Heartbeat,
    Offer,
    OfferWithdrawn,
    message_json,
)
from ivr.web.sessions import signed_in

log = logging.getLogger(__name__)

# messages a connection may have waiting; an offer and its follow-ups are a handful, so a full
# queue means the browser stopped reading
QUEUE_SIZE = 32
# one write to the socket may take this long before the browser counts as stalled
SEND_TIMEOUT_S = 5.0
# the page's heartbeat message and aiohttp's ping, when nothing else was sent
HEARTBEAT_S = 15.0
# closing a connection at shutdown or log-out waits this long for the browser's close frame
CLOSE_TIMEOUT_S = 2.0
# the page sends nothing the hub acts on: anything larger is not our page
MAX_INCOMING_BYTES = 4096
# statuses after which the call's messages are no longer the agent's current ones
_IDLE = frozenset({"ready", "paused", "logged_out"})

Clock = Callable[[], datetime]


class Peer(Protocol):
    """The far end of one connection (an aiohttp `WebSocketResponse`; a fake in unit tests)."""

    async def send_str(self, data: str) -> None: ...

    async def close(self, *, code: int = ..., message: bytes = ...) -> bool: ...


@dataclass(eq=False)
class Connection:
    agent: str
    peer: Peer
    abort: Callable[[], None]
    """Cut the socket at once (a stalled browser never reads a close frame)."""
    queue: asyncio.Queue[str]
    name: str
    sender: asyncio.Task[None] | None = None
    dropped: str | None = None
    """Why the hub dropped the connection (``slow``, ``stalled``, ``gone``), None while open."""


CallMessage = Offer | CallAnswered | CallHold | CallEnded


@dataclass
class _Snapshot:
    state: AgentStateChanged | None = None
    call: list[CallMessage] = field(default_factory=list)

    def messages(self) -> list[ConsoleMessage]:
        return [*([self.state] if self.state else []), *self.call]


class Hub:
    def __init__(
        self,
        clock: Clock,
        *,
        queue_size: int = QUEUE_SIZE,
        send_timeout_s: float = SEND_TIMEOUT_S,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self._clock = clock
        self.queue_size = queue_size
        self.send_timeout_s = send_timeout_s
        self.heartbeat_s = heartbeat_s
        self._connections: dict[str, set[Connection]] = {}
        self._snapshots: dict[str, _Snapshot] = {}
        self._ids = itertools.count(1)
        self._closing: set[asyncio.Task[None]] = set()
        self.closed = False
        """The console is stopping: a page that connects now is closed at once."""
        self.dropped = 0
        """Connections dropped for not keeping up (slow or stalled), since start."""

    # ------------------------------------------------------------------ pushing

    def push(self, agent: str, message: ConsoleMessage) -> int:
        """Send `message` to every connection of `agent` (their login); never waits. Returns to
        how many connections it was handed (0: the agent has no page open; the snapshot keeps
        it for when one opens)."""
        self._remember(agent, message)
        connections = self._connections.get(agent)
        if not connections:
            return 0
        text = message_json(message)
        handed = 0
        for conn in list(connections):
            try:
                conn.queue.put_nowait(text)
            except asyncio.QueueFull:
                self._drop(conn, "slow")
            else:
                handed += 1
        return handed

    def current(self, agent: str) -> list[ConsoleMessage]:
        """What a page of `agent` that connects now is sent first: the last agent state, then
        the current call's offer and what followed it."""
        snapshot = self._snapshots.get(agent)
        return snapshot.messages() if snapshot else []

    def current_offer(self, agent: str) -> Offer | None:
        snapshot = self._snapshots.get(agent)
        if snapshot and snapshot.call and isinstance(snapshot.call[0], Offer):
            return snapshot.call[0]
        return None

    def connections(self, agent: str) -> int:
        return len(self._connections.get(agent, ()))

    def _remember(self, agent: str, message: ConsoleMessage) -> None:
        snapshot = self._snapshots.setdefault(agent, _Snapshot())
        if isinstance(message, Offer):
            snapshot.call = [message]
        elif isinstance(message, CallAnswered | CallHold | CallEnded):
            if snapshot.call and snapshot.call[0].call_id == message.call_id:
                snapshot.call.append(message)
            elif not snapshot.call and isinstance(message, CallEnded):
                # a wrap-up resumed after a restart: its offer was pushed by the engine before
                snapshot.call = [message]
        elif isinstance(message, OfferWithdrawn):
            if snapshot.call and snapshot.call[0].call_id == message.call_id:
                snapshot.call = []
        elif isinstance(message, AgentStateChanged):
            snapshot.state = message
            if message.status in _IDLE:
                snapshot.call = []

    # ------------------------------------------------------------------ connections

    @asynccontextmanager
    async def attached(
        self, agent: str, peer: Peer, abort: Callable[[], None]
    ) -> AsyncIterator[Connection]:
        """`peer` is a connection of `agent` while the block runs: it is sent the snapshot,
        then every push. On exit (the browser closed, or the hub dropped it) it is forgotten."""
        conn = Connection(
            agent,
            peer,
            abort,
            asyncio.Queue(self.queue_size),
            # no login in task names or log lines: a connection number is enough to follow one
            f"console-ws:{next(self._ids)}",
        )
        for message in self.current(agent)[-self.queue_size :]:
            conn.queue.put_nowait(message_json(message))
        self._connections.setdefault(agent, set()).add(conn)
        conn.sender = asyncio.create_task(self._send_loop(conn), name=conn.name)
        log.debug("%s connected (%d of its agent open)", conn.name, self.connections(agent))
        try:
            yield conn
        finally:
            self._forget(conn)
            await _stop(conn.sender)
            log.debug("%s closed", conn.name)

    def _forget(self, conn: Connection) -> None:
        open_ = self._connections.get(conn.agent)
        if open_ is not None:
            open_.discard(conn)
            if not open_:
                del self._connections[conn.agent]

    def _drop(self, conn: Connection, why: str) -> None:
        """Give up on a browser that does not keep up: forget it and cut its socket (its page
        reconnects and gets the snapshot)."""
        if conn.dropped is not None:
            return
        conn.dropped = why
        self.dropped += 1
        self._forget(conn)
        if conn.sender is not None and conn.sender is not asyncio.current_task():
            conn.sender.cancel()
        log.warning("%s dropped: %s", conn.name, why)
        conn.abort()

    async def _send_loop(self, conn: Connection) -> None:
        while True:
            try:
                text = await asyncio.wait_for(conn.queue.get(), self.heartbeat_s)
            except TimeoutError:
                text = message_json(Heartbeat(at=self._clock()))
            try:
                async with asyncio.timeout(self.send_timeout_s):
                    await conn.peer.send_str(text)
            except TimeoutError:
                self._drop(conn, "stalled")
                return
            except ConnectionError:
                # the socket closed under us: the handler's read loop ends as well
                self._drop(conn, "gone")
                return

    async def disconnect(self, agent: str, code: int = WSCloseCode.POLICY_VIOLATION) -> None:
        """Close every connection of `agent` (signed out, disabled): each gets a close frame,
        and is cut if the browser does not answer within `CLOSE_TIMEOUT_S`."""
        for conn in list(self._connections.get(agent, ())):
            await self._close(conn, code)

    async def aclose(self) -> None:
        """Close every connection (the console stopping)."""
        self.closed = True
        for agent in list(self._connections):
            await self.disconnect(agent, WSCloseCode.GOING_AWAY)

    async def _close(self, conn: Connection, code: int) -> None:
        self._forget(conn)
        await _stop(conn.sender)
        try:
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await conn.peer.close(code=code, message=b"")
        except TimeoutError:
            conn.abort()


async def _stop(task: asyncio.Task[None] | None) -> None:
    if task is None or task.done():
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# ---------------------------------------------------------------------- the route

HUB = web.AppKey("hub", Hub)


def same_origin(request: web.Request) -> bool:
    """The upgrade comes from a page of this console: `Origin` names our own host (browsers
    always send it with a WebSocket upgrade; a request without one is not our page)."""
    origin = request.headers.get("Origin", "")
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()


async def live(request: web.Request) -> web.StreamResponse:
    who = signed_in(request)
    if who is None:  # the access middleware lets no signed-out request through
        raise web.HTTPUnauthorized()
    if not same_origin(request):
        raise web.HTTPForbidden(reason="cross-origin WebSocket")
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=hub.heartbeat_s, max_msg_size=MAX_INCOMING_BYTES)
    if not ws.can_prepare(request).ok:
        raise web.HTTPBadRequest(reason="WebSocket upgrade expected")
    await ws.prepare(request)
    if hub.closed:
        # an upgrade that was under way while the console stopped: the hub has closed its
        # connections already, so this one would hold the shutdown until its timeout
        await ws.close(code=WSCloseCode.GOING_AWAY)
        return ws
    transport = request.transport

    def abort() -> None:
        if transport is not None:
            transport.abort()

    async with hub.attached(who.member.login, ws, abort):
        # the page sends nothing we act on; reading lets aiohttp answer pings and see the close
        async for _ in ws:
            pass
    return ws


async def _close_hub(app: web.Application) -> None:
    await app[HUB].aclose()


def add_pop_routes(app: web.Application, hub: Hub) -> None:
    """`GET /agent/ws` on `hub`; the hub's connections are closed when the app shuts down."""
    app[HUB] = hub
    add_route(app, "GET", "/agent/ws", live, Role.AGENT, name="agent_ws")
    app.on_shutdown.append(_close_hub)
