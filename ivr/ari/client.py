"""Our own thin ARI client: typed REST wrappers and one events WebSocket (aiohttp) per app.

Why our own: ../shared/research/ari-clients.md — every library froze the loop, died, or went
deaf when the WebSocket dropped. What this one guarantees:

- REST errors become `AriError` subclasses (404 → `ChannelGone`). A request is sent a second time
  only when Asterisk closed its connection before a byte of the answer, and only if repeating it
  is harmless: GET, DELETE, answer, channel variable sets; a play asks first whether the playback
  is there. Anything else never is: a repeated originate could ring a second phone. Callers
  choose every id. REST goes over our own keep-alive connection pool (`ivr.ari.rest`: half the
  CPU per request of aiohttp), the events WebSocket over aiohttp.
- `run(on_event)` keeps one events WebSocket open, with a heartbeat, reconnecting with capped
  exponential backoff. After every (re)connect it lists the channels (`GET /channels`) and hands
  on a `Resynced` snapshot before any further event, so calls that sat in Stasis while we were
  away are re-adopted. `on_event` is called synchronously and must only route the event.
- `subscribeAll` is never used: on Asterisk 22.10 it can deadlock app unregistration.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from ivr.ari.models import (
    AriEvent,
    AsteriskInfo,
    Bridge,
    Channel,
    LiveRecording,
    Playback,
    Variable,
    parse_event_json,
)
from ivr.ari.port import AriPort
from ivr.ari.rest import ClosedUnanswered, RestConnections
from ivr.errors import AriError, AriUnavailable, ChannelGone, Fenced, ari_error

log = logging.getLogger(__name__)

Params = Mapping[str, str | int | bool | None]
# connections to Asterisk at once; Asterisk's http.conf sessionlimit (100 by default) must leave
# room for them and the events WebSocket
POOL_LIMIT = 64
# how long an idle REST connection is kept for reuse (Asterisk closes them at 15 s)
KEEPALIVE_S = 5.0


@dataclass(frozen=True, slots=True)
class Resynced:
    """Delivered after every (re)connect: the channels Asterisk holds in our app right now."""

    channels: tuple[Channel, ...]
    reconnect: bool


@dataclass(frozen=True, slots=True)
class Disconnected:
    """Delivered when the events WebSocket is lost; events until the next `Resynced` are lost."""


StreamItem = AriEvent | Resynced | Disconnected


@dataclass(slots=True)
class Waits:
    """How many REST requests, how long they took in all and at worst."""

    count: int = 0
    total_s: float = 0.0
    max_s: float = 0.0

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total_s += seconds
        self.max_s = max(self.max_s, seconds)


@dataclass(slots=True)
class RequestStats:
    """The REST requests' time, split where it was spent: waiting for a free connection of our
    own pool (`pool`: only requests that had to wait) and waiting for Asterisk (`asterisk`:
    from a connection in hand to the reply). A full pool looks like a slow Asterisk from
    outside; this tells the two apart (`hotline status`, the load benchmark)."""

    pool: Waits = field(default_factory=Waits)
    asterisk: Waits = field(default_factory=Waits)
    in_flight: int = 0
    in_flight_max: int = 0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnect delays: `initial_s`, doubling up to `max_s`."""

    initial_s: float = 0.25
    max_s: float = 5.0

    def delays(self) -> Any:
        delay = self.initial_s
        while True:
            yield delay
            delay = min(delay * 2, self.max_s)


class AriClient:
    """ARI over HTTP for one Stasis application. Implements `ivr.ari.port.AriPort`."""

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        app: str,
        *,
        request_timeout_s: float = 5.0,
        heartbeat_s: float = 10.0,
        backoff: Backoff | None = None,
        session: aiohttp.ClientSession | None = None,
        pool_limit: int = POOL_LIMIT,
        disallowed_events: tuple[str, ...] = (),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app
        # the Authorization header keeps the password out of URLs (and so out of access logs)
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}"}
        self._request_timeout_s = request_timeout_s
        self._heartbeat_s = heartbeat_s
        self._backoff = backoff or Backoff()
        self._session = session
        self._own_session = session is None
        self._pool_limit = pool_limit
        self._connections: RestConnections | None = None
        # event types Asterisk need not send us at all (set after every connect)
        self.disallowed_events = disallowed_events
        self.connected = asyncio.Event()
        self.connects = 0
        self.stats = RequestStats()
        # the leader lock's fence (ivr.leader.Leader.holds), asked before every request is
        # sent: a session's own timer or a background job acts without an ARI event, and an
        # engine whose loop stalled past its right to act must not touch a call when it wakes
        self.may_act: Callable[[], bool] = lambda: True

    async def __aenter__(self) -> AriClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        """The session of the events WebSocket."""
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers)
        return self._session

    def _rest(self) -> RestConnections:
        if self._connections is None:
            self._connections = RestConnections(
                self.base_url,
                self._headers,
                limit=self._pool_limit,
                # Asterisk drops idle keep-alive connections after 15 s (http.conf
                # session_keep_alive); let ours go first so a reused one is never half-closed
                keepalive_s=KEEPALIVE_S,
            )
        return self._connections

    async def close(self) -> None:
        if self._connections is not None:
            await self._connections.aclose()
            self._connections = None
        if self._session is not None and self._own_session:
            await self._session.close()
            self._session = None

    # ---------------------------------------------------------------- raw REST

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
        idempotent: bool | None = None,
        *,
        decode: bool = True,
    ) -> Any:
        """One REST request; returns the decoded JSON (None for 204), or with `decode=False` the
        answer's bytes (b"" for 204). Raises `AriError` subclasses for error statuses and
        `AriUnavailable` when Asterisk cannot be reached.

        An idempotent request (GET, DELETE, or one flagged so) is sent once more if the server
        closed the connection before a byte of its answer; anything else (an originate) never is."""
        again = (method in ("GET", "DELETE")) if idempotent is None else idempotent
        try:
            content = await self._request_once(method, path, params, body, timeout_s)
        except AriUnavailable as exc:
            if not again or not closed_unanswered(exc):
                raise
            content = await self._request_once(method, path, params, body, timeout_s)
        if not decode:
            return content
        return json.loads(content) if content else None

    async def _request_once(
        self,
        method: str,
        path: str,
        params: Params | None,
        body: Mapping[str, Any] | None,
        timeout_s: float | None,
    ) -> bytes:
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        rest = self._rest()
        stats = self.stats
        loop = asyncio.get_running_loop()
        started = loop.time()
        waited = 0.0
        stats.in_flight += 1
        stats.in_flight_max = max(stats.in_flight_max, stats.in_flight)
        # the whole request, the wait for a free connection included, has one timeout
        deadline = _Deadline(loop, self._request_timeout_s if timeout_s is None else timeout_s)
        try:
            self._fence(method, path)
            if rest.full:
                await rest.acquire()
                waited = loop.time() - started
                stats.pool.add(waited)
            else:
                await rest.acquire()
            try:
                # asked again: the wait for a free connection may have outlasted the right
                self._fence(method, path)
                status, content = await rest.exchange(method, path, query, body)
            finally:
                rest.release()
        except asyncio.CancelledError:
            if not deadline.expired_alone():
                raise
            raise AriUnavailable(f"{method} {path}: TimeoutError") from TimeoutError()
        except (OSError, EOFError, TimeoutError) as exc:
            raise AriUnavailable(f"{method} {path}: {exc.__class__.__name__}") from exc
        finally:
            deadline.close()
            stats.in_flight -= 1
            stats.asterisk.add(loop.time() - started - waited)
        if status >= 400:
            raise ari_error(status, method, path, _error_message(content.decode(errors="replace")))
        return b"" if status == 204 else content

    def _fence(self, method: str, path: str) -> None:
        if not self.may_act():
            raise Fenced(f"{method} {path}: not sent, this engine may not act (leader lock)")

    # ---------------------------------------------------------------- asterisk

    async def info(self) -> AsteriskInfo:
        return AsteriskInfo.model_validate(await self.request("GET", "/asterisk/info"))

    async def get_global(self, variable: str) -> str:
        """A dialplan global's value ("" when unset: Asterisk answers 200 with an empty value)."""
        data = await self.request("GET", "/asterisk/variable", {"variable": variable})
        return Variable.model_validate(data).value

    async def set_global(self, variable: str, value: str) -> None:
        await self.request("POST", "/asterisk/variable", {"variable": variable, "value": value})

    # ---------------------------------------------------------------- channels

    async def list_channels(self) -> list[Channel]:
        data = await self.request("GET", "/channels")
        return [Channel.model_validate(c) for c in data or []]

    async def get_channel(self, channel_id: str) -> Channel:
        return Channel.model_validate(await self.request("GET", f"/channels/{channel_id}"))

    async def originate(
        self,
        endpoint: str,
        *,
        channel_id: str,
        other_channel_id: str | None = None,
        app_args: str | None = None,
        caller_id: str | None = None,
        timeout_s: int = 30,
        variables: Mapping[str, str] | None = None,
        formats: str | None = None,
        app: str | None = None,
    ) -> Channel:
        """Originate into our Stasis app with ids we chose (the StasisStart may overtake the
        reply). Never retried: a second POST would ring a second phone."""
        body = {"variables": dict(variables)} if variables else None
        data = await self.request(
            "POST",
            "/channels",
            {
                "endpoint": endpoint,
                "app": app or self.app,
                "appArgs": app_args,
                "channelId": channel_id,
                "otherChannelId": other_channel_id,
                "callerId": caller_id,
                "timeout": timeout_s,
                "formats": formats,
            },
            body,
        )
        return Channel.model_validate(data)

    async def answer(self, channel_id: str) -> None:
        # answering an answered channel is a no-op (204): safe to send again
        await self.request("POST", f"/channels/{channel_id}/answer", idempotent=True)

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{channel_id}", {"reason": reason})

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/ring")

    async def ring_stop(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/ring")

    async def play(
        self, channel_id: str, media: str | list[str], playback_id: str, lang: str | None = None
    ) -> Playback:
        """Start (or queue) `media` on the channel under our `playback_id`.

        Not simply sent again when the connection closed unanswered: Asterisk 22 does not refuse
        a second playback with the same id, it queues it behind the first (the caller hears the
        prompt twice, and one DELETE stops only one of them). So the client asks whether the
        playback exists, and plays only if it does not (a prompt that already played to its end
        in that moment would be heard again; one that failed fails again)."""
        medias = media if isinstance(media, str) else ",".join(media)
        path = f"/channels/{channel_id}/play/{playback_id}"
        query = {"media": medias, "lang": lang}
        try:
            data = await self.request("POST", path, query, decode=False)
        except AriUnavailable as exc:
            if not closed_unanswered(exc):
                raise
            try:
                data = await self.request("GET", f"/playbacks/{playback_id}", decode=False)
            except ChannelGone:
                data = await self.request("POST", path, query, decode=False)
        # read from the bytes in one pass (a third of decoding to a dict, then validating)
        return Playback.model_validate_json(data)

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{playback_id}")

    async def send_dtmf(self, channel_id: str, dtmf: str, between_ms: int = 100) -> None:
        await self.request(
            "POST", f"/channels/{channel_id}/dtmf", {"dtmf": dtmf, "between": between_ms}
        )

    async def get_variable(self, channel_id: str, variable: str) -> str:
        """The variable's value, "" when it is not set. Asterisk answers 404 both for an unset
        variable and for a missing channel; only the latter is `ChannelGone`."""
        try:
            data = await self.request(
                "GET", f"/channels/{channel_id}/variable", {"variable": variable}
            )
        except ChannelGone as exc:
            if "variable was not found" in exc.message:
                return ""
            raise
        return Variable.model_validate(data).value

    async def set_variable(
        self, channel_id: str, variable: str, value: str, timeout_s: float | None = None
    ) -> None:
        """Set a channel variable. Asterisk runs it on the channel's own thread, AFTER a prompt
        that is playing there ends: give a longer `timeout_s` when that is expected."""
        # in the JSON body: a long value in the query string (a saved call state is ~2 kB once
        # percent-encoded) overflows Asterisk's request line ("Request line too long")
        await self.request(
            "POST",
            f"/channels/{channel_id}/variable",
            body={"variable": variable, "value": value},
            timeout_s=timeout_s,
            idempotent=True,
        )

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None:
        await self.request(
            "POST",
            f"/channels/{channel_id}/continue",
            {"context": context, "extension": extension, "priority": priority},
        )

    async def redirect(self, channel_id: str, endpoint: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/redirect", {"endpoint": endpoint})

    async def snoop(
        self,
        channel_id: str,
        snoop_id: str,
        *,
        spy: str = "both",
        whisper: str = "none",
        app_args: str | None = None,
        app: str | None = None,
    ) -> Channel:
        """A snoop channel on `channel_id` with the id we chose, into our Stasis app (its
        StasisStart may overtake the reply). `whisper` none: nothing reaches the channel."""
        data = await self.request(
            "POST",
            f"/channels/{channel_id}/snoop",
            {
                "spy": spy,
                "whisper": whisper,
                "app": app or self.app,
                "appArgs": app_args,
                "snoopId": snoop_id,
            },
        )
        return Channel.model_validate(data)

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/channels/{channel_id}/moh", {"mohClass": moh_class})

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/moh")

    async def record(
        self,
        channel_id: str,
        name: str,
        *,
        fmt: str = "wav",
        max_duration_s: int = 0,
        max_silence_s: int = 0,
        beep: bool = False,
        terminate_on: str = "none",
    ) -> LiveRecording:
        data = await self.request(
            "POST",
            f"/channels/{channel_id}/record",
            {
                "name": name,
                "format": fmt,
                "maxDurationSeconds": max_duration_s,
                "maxSilenceSeconds": max_silence_s,
                "beep": beep,
                "terminateOn": terminate_on,
                "ifExists": "overwrite",
            },
        )
        return LiveRecording.model_validate(data)

    async def stop_recording(self, name: str) -> None:
        await self.request("POST", f"/recordings/live/{name}/stop")

    # ---------------------------------------------------------------- bridges

    async def create_bridge(self, bridge_id: str, kind: str = "mixing", name: str = "") -> Bridge:
        data = await self.request(
            "POST", f"/bridges/{bridge_id}", {"type": kind, "name": name or None}
        )
        return Bridge.model_validate(data)

    async def get_bridge(self, bridge_id: str) -> Bridge:
        return Bridge.model_validate(await self.request("GET", f"/bridges/{bridge_id}"))

    async def list_bridges(self) -> list[Bridge]:
        return [Bridge.model_validate(b) for b in await self.request("GET", "/bridges") or []]

    async def add_to_bridge(self, bridge_id: str, channel_id: str, role: str | None = None) -> None:
        await self.request(
            "POST", f"/bridges/{bridge_id}/addChannel", {"channel": channel_id, "role": role}
        )

    async def remove_from_bridge(self, bridge_id: str, channel_id: str) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/removeChannel", {"channel": channel_id})

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{bridge_id}")

    async def bridge_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        await self.request("POST", f"/bridges/{bridge_id}/moh", {"mohClass": moh_class})

    async def bridge_stop_moh(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{bridge_id}/moh")

    # ---------------------------------------------------------------- events

    async def _filter_events(self) -> None:
        # each event is JSON that Asterisk renders and we parse; those nobody reads cost both
        # sides for nothing (an Asterisk without event filters just sends them all)
        try:
            await self.request(
                "PUT",
                f"/applications/{self.app}/eventFilter",
                body={"disallowed": [{"type": t} for t in self.disallowed_events]},
                idempotent=True,
            )
        except (AriError, AriUnavailable) as exc:
            log.warning("ARI events: could not filter event types (%s)", exc)

    def _events_url(self) -> str:
        scheme_fixed = self.base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return f"{scheme_fixed}/events"

    async def run(self, on_event: Callable[[StreamItem], None]) -> None:
        """Receive events until cancelled, reconnecting forever. `on_event` gets every event,
        a `Resynced` after each connect and a `Disconnected` after each loss."""
        delays = self._backoff.delays()
        while True:
            try:
                ws = await self._http().ws_connect(
                    self._events_url(),
                    params={"app": self.app},
                    headers=self._headers,
                    heartbeat=self._heartbeat_s,
                    timeout=aiohttp.ClientWSTimeout(ws_close=self._request_timeout_s),
                )
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                delay = next(delays)
                log.warning(
                    "ARI events: connect failed (%s); retry in %.2fs", type(exc).__name__, delay
                )
                await asyncio.sleep(delay)
                continue
            delays = self._backoff.delays()
            try:
                await self._pump(ws, on_event)
            finally:
                self.connected.clear()
                with contextlib.suppress(Exception):
                    await asyncio.shield(ws.close())
            on_event(Disconnected())
            delay = next(delays)
            log.warning("ARI events: connection lost; reconnect in %.2fs", delay)
            await asyncio.sleep(delay)

    async def _pump(
        self, ws: aiohttp.ClientWebSocketResponse, on_event: Callable[[StreamItem], None]
    ) -> None:
        self.connects += 1
        try:
            channels = await self.list_channels()
        except AriUnavailable:
            return
        mine = tuple(c for c in channels if c.stasis_app == self.app)
        # always, an empty list too: Asterisk keeps an application's filter after its client is
        # gone (a killed engine's filter would hide PlaybackStarted from the next client)
        await self._filter_events()
        self.connected.set()
        log.info("ARI events connected (app %s, %d calls to adopt)", self.app, len(mine))
        on_event(Resynced(channels=mine, reconnect=self.connects > 1))
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                try:
                    event = parse_event_json(msg.data)
                except ValueError:
                    log.warning("ARI events: undecodable message dropped")
                    continue
                if event is not None:
                    on_event(event)
            elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                break


class _Deadline:
    """A request's timeout, as `asyncio.timeout` keeps it for the running task, at a tenth of its
    CPU (it was the dearest step of a request after the socket writes): one timer that cancels
    the task; a CancelledError that is this timer's alone becomes the request's timeout."""

    __slots__ = ("_task", "_cancelling", "_handle", "_expired")

    def __init__(self, loop: asyncio.AbstractEventLoop, delay_s: float) -> None:
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("an ARI request runs in a task")
        self._task = task
        self._cancelling = task.cancelling()
        self._expired = False
        self._handle = loop.call_later(delay_s, self._expire)

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()

    def expired_alone(self) -> bool:
        """After a CancelledError: the timer cancelled the task and nobody else did."""
        return self._expired and self._task.uncancel() <= self._cancelling

    def close(self) -> None:
        self._handle.cancel()


def closed_unanswered(exc: AriUnavailable) -> bool:
    """Asterisk closed the connection before a byte of its answer came."""
    return isinstance(exc.__cause__, ClosedUnanswered)


def _param(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _error_message(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return text[:200]
    if isinstance(data, dict) and "message" in data:
        return str(data["message"])
    return text[:200]


def _conforms(client: AriClient) -> AriPort:
    # mypy checks here that the client keeps the port's shape
    return client
