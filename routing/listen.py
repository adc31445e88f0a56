"""A supervisor listens to a call from their own phone (spy only, never heard).

`Listening.start` puts a snoop channel on the CALLER's channel (spy both: the caller and the
agent, whisper none) and rings the supervisor's phone; once both are in our Stasis app they are
put into a mixing bridge of our own. The listen ends when either side goes — the caller's
channel ends (its snoop goes with it), the agent leaves the call (hang-up or hand-over), the
supervisor hangs up or does not answer — and then its snoop, phone leg and bridge all go.

The caller's call is never touched: a listen owns only its three ids, which share the
`LISTEN_PREFIX` and the Stasis argument `LISTEN_ENTRY`, so the call supervisor
(`ivr.calls.supervisor`) never takes them for callers and hangs them up when nobody follows them
(an engine restarted during a listen: that listen is over). Each listen is one named task owned
here; its channels' events reach it through the supervisor's `watch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ivr.ari.client import StreamItem
from ivr.ari.models import StasisStart
from ivr.calls.handle import LISTEN_ENTRY, LISTEN_PREFIX
from ivr.errors import AriError, ChannelGone
from routing.agents import AgentChange, AgentPool, UnknownAgent
from routing.legs import is_gone
from routing.ports import ListenAri

log = logging.getLogger(__name__)

RING_TIMEOUT_S = 30
"""How long the supervisor's phone rings before the listen is given up."""
GRACE_S = 5.0
"""Added to the ring timeout before we hang the phone up ourselves (Asterisk normally does)."""
STOP_TIMEOUT_S = 2.0

ListenReply = Literal["ok", "not_on_call", "no_phone", "busy", "taking_calls", "failed"]
"""`not_on_call`: the agent is on no call (any more); `no_phone`: the supervisor has no phone
endpoint; `busy`: that phone already listens to a call; `taking_calls`: the supervisor takes
calls on that phone now (in the agent pool, neither paused nor logged out: the queues would
ring it during the listen); `failed`: Asterisk would not place the snoop or ring the phone."""

Watch = Callable[[str, Callable[[StreamItem], None] | None], None]


@dataclass(eq=False)
class _Listen:
    token: str
    agent_id: str
    call_id: str
    endpoint: str
    events: asyncio.Queue[StreamItem | str] = field(default_factory=asyncio.Queue)

    @property
    def snoop(self) -> str:
        return f"{LISTEN_PREFIX}{self.token}-snoop"

    @property
    def phone(self) -> str:
        return f"{LISTEN_PREFIX}{self.token}-phone"

    @property
    def bridge(self) -> str:
        return f"{LISTEN_PREFIX}{self.token}-bridge"


class Listening:
    def __init__(
        self,
        ari: ListenAri,
        agents: AgentPool,
        *,
        ring_timeout_s: int = RING_TIMEOUT_S,
        grace_s: float = GRACE_S,
    ) -> None:
        self._ari = ari
        self._agents = agents
        self._ring_timeout_s = ring_timeout_s
        self._grace_s = grace_s
        self._watch: Watch | None = None
        self.active: dict[str, _Listen] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        agents.listen(self._agent_changed)

    def bind(self, watch: Watch) -> None:
        """Give the listens the call supervisor's `watch` (their channels' events)."""
        self._watch = watch

    def listens_on(self, endpoint: str) -> bool:
        """A listen holds (or rings) the phone `endpoint`: a call offered to it now would find
        it busy, so its owner may not go ready (`ivr.web.desk`)."""
        return any(listen.endpoint == endpoint for listen in self.active.values())

    def call_of(self, agent_id: str) -> str | None:
        """The call `agent_id` is talking on (None: on no call)."""
        try:
            state = self._agents.state(agent_id)
        except UnknownAgent:
            return None
        return state.call_id if state.status == "on_call" else None

    async def start(
        self, agent_id: str, endpoint: str | None, supervisor: str | None = None
    ) -> ListenReply:
        """Listen to the call `agent_id` is talking on from the phone `endpoint` of
        `supervisor` (their agent id, if they take calls too): returns once the snoop is placed
        and the phone rings (the rest runs in the listen's own task)."""
        call_id = self.call_of(agent_id)
        if call_id is None:
            return "not_on_call"
        if not endpoint:
            return "no_phone"
        if supervisor is not None and supervisor in self._agents:
            if self._agents.state(supervisor).status not in ("paused", "logged_out"):
                return "taking_calls"
        if self.listens_on(endpoint):
            return "busy"  # one phone, one listen: a second ring would find it in a call
        if self._watch is None:
            return "failed"
        listen = _Listen(secrets.token_hex(6), agent_id, call_id, endpoint)
        # kept at once: a second press while this one waits on Asterisk is `busy`
        self.active[listen.token] = listen
        # watched before asking: a StasisStart may overtake the REST reply
        for channel in (listen.snoop, listen.phone):
            self._watch(channel, listen.events.put_nowait)
        reply: ListenReply = "failed"
        try:
            reply = await self._place(listen, endpoint)
        finally:
            # refused, or the request went away meanwhile: nothing of the listen may stay
            if reply != "ok":
                self.active.pop(listen.token, None)
                await asyncio.shield(self._end(listen))
        if reply != "ok":
            return reply
        task = asyncio.get_running_loop().create_task(
            self._run(listen), name=f"listen:{listen.token}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return "ok"

    async def _place(self, listen: _Listen, endpoint: str) -> ListenReply:
        """The snoop on the caller's channel, then the supervisor's phone rung."""
        try:
            await self._ari.snoop(
                listen.call_id,
                listen.snoop,
                spy="both",
                whisper="none",
                app_args=LISTEN_ENTRY,
                app=self._ari.app,
            )
        except ChannelGone:
            return "not_on_call"  # the caller hung up in that instant
        except AriError:
            log.warning("could not place a snoop for a listen")
            return "failed"
        try:
            await self._ari.originate(
                endpoint,
                channel_id=listen.phone,
                app=self._ari.app,
                app_args=LISTEN_ENTRY,
                timeout_s=self._ring_timeout_s,
            )
        except AriError:
            log.warning("could not ring the supervisor's phone for a listen")
            return "failed"
        return "ok"

    def _agent_changed(self, change: AgentChange) -> None:
        for listen in self.active.values():
            if listen.agent_id == change.agent_id and self.call_of(listen.agent_id) != (
                listen.call_id
            ):
                listen.events.put_nowait("agent_left")

    async def _run(self, listen: _Listen) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._ring_timeout_s + self._grace_s
        entered: set[str] = set()
        bridged = False
        try:
            while True:
                if bridged:
                    item = await listen.events.get()
                else:
                    left = deadline - loop.time()
                    if left <= 0:
                        log.info("the supervisor's phone did not answer; the listen ends")
                        return
                    try:
                        async with asyncio.timeout(left):
                            item = await listen.events.get()
                    except TimeoutError:
                        continue
                if isinstance(item, str):
                    return  # the agent left the call
                if is_gone(item, listen.snoop) or is_gone(item, listen.phone):
                    return
                if isinstance(item, StasisStart) and item.channel.id in (
                    listen.snoop,
                    listen.phone,
                ):
                    entered.add(item.channel.id)
                if not bridged and entered == {listen.snoop, listen.phone}:
                    await self._ari.create_bridge(listen.bridge, "mixing", listen.bridge)
                    await self._ari.add_to_bridge(listen.bridge, listen.snoop)
                    await self._ari.add_to_bridge(listen.bridge, listen.phone)
                    bridged = True
        except AriError:
            log.info("a listen's channel went while it was bridged; the listen ends")
        finally:
            self.active.pop(listen.token, None)
            await asyncio.shield(self._end(listen))

    async def _end(self, listen: _Listen) -> None:
        self._unwatch(listen)
        for channel in (listen.phone, listen.snoop):
            with contextlib.suppress(AriError):
                await self._ari.hangup(channel)
        with contextlib.suppress(AriError):
            await self._ari.destroy_bridge(listen.bridge)
        log.info("a listen ended")

    def _unwatch(self, listen: _Listen) -> None:
        if self._watch is not None:
            self._watch(listen.snoop, None)
            self._watch(listen.phone, None)

    async def stop(self) -> None:
        """End every listen (the engine stops; the calls themselves go on)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await asyncio.gather(*tasks, return_exceptions=True)
