"""A fake ARI server on aiohttp.web, for the client's contract tests.

It speaks the small part of ARI our client uses — channels, playbacks, variables, the events
WebSocket with Basic auth — records every REST request, and can misbehave on demand: drop every
events socket (`drop_events`), refuse the next N connection attempts (`refuse_next`), as an
Asterisk restart would, and close a REST connection without a word of answer, before or after
handling the request (`close_unanswered`), as an overloaded Asterisk does. It is for contract and
unit tests only; integration tests use a real Asterisk."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any


@dataclass
class FakeAriServer:
    user: str = "hotline"
    password: str = "demo-only-password"
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[tuple[str, str], str] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    refuse: int = 0
    connects: int = 0
    sockets: list[web.WebSocketResponse] = field(default_factory=list)
    # while set to an unset Event, setting a channel variable is answered only once it is set
    hold_variables: asyncio.Event | None = None
    variable_held: asyncio.Event = field(default_factory=asyncio.Event)
    # event types the application asked not to get (PUT .../eventFilter)
    disallowed: set[str] = field(default_factory=set)
    # playbacks by id, and every play request's id in order (a repeated id is queued, as by
    # Asterisk 22, which does not refuse it)
    playbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    plays: list[str] = field(default_factory=list)
    # "METHOD /ari/path" → how often its connection is closed unanswered: (before, after) the
    # request is handled
    closing: dict[str, list[bool]] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth, self._record, self._close])
        r = app.router
        r.add_get("/ari/events", self._events)
        r.add_get("/ari/channels", self._list_channels)
        r.add_post("/ari/channels", self._originate)
        r.add_get("/ari/channels/{id}", self._get_channel)
        r.add_delete("/ari/channels/{id}", self._hangup)
        r.add_post("/ari/channels/{id}/answer", self._answer)
        r.add_post("/ari/channels/{id}/play/{pb}", self._play)
        r.add_get("/ari/playbacks/{pb}", self._get_playback)
        r.add_delete("/ari/playbacks/{pb}", self._stop_playback)
        r.add_get("/ari/channels/{id}/variable", self._get_var)
        r.add_post("/ari/channels/{id}/variable", self._set_var)
        r.add_post("/ari/channels/{id}/continue", self._continue)
        r.add_post("/ari/channels/{id}/snoop", self._snoop)
        r.add_put("/ari/applications/{app}/eventFilter", self._event_filter)
        return app

    # ------------------------------------------------------------ controls

    def add_channel(self, channel_id: str, app: str, number: str = "0935821234") -> None:
        """A call sitting in Stasis(app) (as if it arrived while the client was away)."""
        self.channels[channel_id] = {
            "id": channel_id,
            "name": f"PJSIP/caller-{channel_id}",
            "state": "Up",
            "caller": {"name": "", "number": number},
            "dialplan": {
                "context": "hotline",
                "exten": "1000",
                "priority": 1,
                "app_name": "Stasis",
                "app_data": f"{app},main",
            },
        }

    async def send(self, event: dict[str, Any]) -> None:
        if event.get("type") in self.disallowed:
            return  # filtered out by the application's event filter, as Asterisk does
        for ws in list(self.sockets):
            await ws.send_str(json.dumps(event))

    async def drop_events(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        self.sockets.clear()

    def refuse_next(self, attempts: int) -> None:
        self.refuse = attempts

    def close_unanswered(self, request: str, *, handled: bool = False, times: int = 1) -> None:
        """Close the connection of the next `times` requests `request` ("POST /ari/...")
        without answering; `handled`: after the request took effect."""
        self.closing.setdefault(request, []).extend([handled] * times)

    # ------------------------------------------------------------ middleware

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.json_response({"message": "Authentication required"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.json() if request.body_exists else None
        self.requests.append(Recorded(request.method, request.path, dict(request.query), body))
        response: web.StreamResponse = await handler(request)
        return response

    @web.middleware
    async def _close(self, request: web.Request, handler: Any) -> web.StreamResponse:
        pending = self.closing.get(f"{request.method} {request.path}")
        if not pending:
            response: web.StreamResponse = await handler(request)
            return response
        if pending.pop(0):
            await handler(request)
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=204)  # never reaches the client: the connection is gone

    # ------------------------------------------------------------ handlers

    def _channel(self, request: web.Request) -> dict[str, Any]:
        channel = self.channels.get(request.match_info["id"])
        if channel is None:
            raise web.HTTPNotFound(
                text=json.dumps({"message": "Channel not found"}), content_type="application/json"
            )
        return channel

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if self.refuse > 0:
            self.refuse -= 1
            return web.json_response({"message": "Service Unavailable"}, status=503)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connects += 1
        self.sockets.append(ws)
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
        if ws in self.sockets:
            self.sockets.remove(ws)
        return ws

    async def _list_channels(self, request: web.Request) -> web.Response:
        return web.json_response(list(self.channels.values()))

    async def _get_channel(self, request: web.Request) -> web.Response:
        return web.json_response(self._channel(request))

    async def _originate(self, request: web.Request) -> web.Response:
        q = request.query
        if "endpoint" not in q:
            return web.json_response({"message": "Endpoint must be specified"}, status=400)
        channel_id = q.get("channelId", "generated-1")
        self.add_channel(channel_id, q.get("app", ""))
        self.channels[channel_id]["state"] = "Down"
        return web.json_response(self.channels[channel_id])

    async def _snoop(self, request: web.Request) -> web.Response:
        spied = self._channel(request)
        q = request.query
        snoop_id = q.get("snoopId", "snoop-1")
        self.add_channel(snoop_id, q.get("app", ""))
        self.channels[snoop_id]["name"] = f"Snoop/{spied['id']}-00000001"
        return web.json_response(self.channels[snoop_id])

    async def _hangup(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        del self.channels[channel["id"]]
        await self.send({"type": "StasisEnd", "channel": channel})
        return web.Response(status=204)

    async def _answer(self, request: web.Request) -> web.Response:
        self._channel(request)["state"] = "Up"
        return web.Response(status=204)

    async def _play(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        playback = {
            "id": request.match_info["pb"],
            "media_uri": request.query.get("media", ""),
            "target_uri": f"channel:{channel['id']}",
            "state": "queued",
        }
        self.plays.append(playback["id"])
        self.playbacks.setdefault(playback["id"], playback)
        return web.json_response(playback, status=201)

    def _playback(self, request: web.Request) -> dict[str, Any]:
        playback = self.playbacks.get(request.match_info["pb"])
        if playback is None:
            raise web.HTTPNotFound(
                text=json.dumps({"message": "Playback not found"}), content_type="application/json"
            )
        return playback

    async def _get_playback(self, request: web.Request) -> web.Response:
        return web.json_response(self._playback(request))

    async def _stop_playback(self, request: web.Request) -> web.Response:
        del self.playbacks[self._playback(request)["id"]]
        return web.Response(status=204)

    async def _get_var(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        key = (channel["id"], request.query.get("variable", ""))
        if key not in self.variables:
            return web.json_response({"message": "Provided variable was not found"}, status=404)
        return web.json_response({"value": self.variables[key]})

    async def _event_filter(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.disallowed = {str(entry["type"]) for entry in body.get("disallowed", [])}
        return web.json_response({"name": request.match_info["app"]})

    async def _set_var(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if self.hold_variables is not None:
            # as Asterisk does while a prompt plays on the channel
            self.variable_held.set()
            await self.hold_variables.wait()
        params = {**request.query, **(await request.json() if request.body_exists else {})}
        self.variables[(channel["id"], params["variable"])] = params.get("value", "")
        return web.Response(status=204)

    async def _continue(self, request: web.Request) -> web.Response:
        self._channel(request)
        return web.json_response({"message": "Channel not in Stasis application"}, status=409)
