"""The supervisor: turns ARI events into call sessions and routes events to their inboxes.

`on_event` is what the events WebSocket reader calls. It never awaits: it starts a session task
for a new call (StasisStart) or a call found in Stasis after a (re)connect (`Resynced`), and
puts every other event into the inbox of the call it concerns. Session tasks are owned and
named here (`call:<channel id>`) and are cancelled and awaited on shutdown. With several engines
on one Asterisk (`ivr.leader`), `may_act` is asked first: an engine that cannot prove it holds
the leader lock handles no event at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ivr.ari.client import Disconnected, Resynced, StreamItem
from ivr.ari.models import Channel, StasisStart, event_channel_id
from ivr.ari.port import AriPort
from ivr.calls.handle import CALLER_OF_LEG_VAR, LISTEN_ENTRY, LISTEN_PREFIX, CallCommand
from ivr.calls.records import CallRecorder
from ivr.calls.services import CallServices
from ivr.calls.session import CallSession, Stop
from ivr.config import CallsConfig
from ivr.errors import AriError

log = logging.getLogger(__name__)

# the first Stasis argument says how the call entered (see asterisk/extensions.conf)
INBOUND_ENTRIES = frozenset({"main", "emergency"})
# a call the engine placed to call a waiting caller back (routing.queues callbacks)
CALLBACK_ENTRY = "callback"
# legs the engine rings for a call: an agent's phone, a department or on-duty phone
STAFF_ENTRIES = frozenset({"agent", "department"})
# ARI events no session or routing code reads: Asterisk is asked not to send them (a call in the
# IVR got 5 ChannelVarset, 2 PlaybackStarted and a ChannelStateChange among its 14 events; a
# queue's callers bring the bridge and dial events, a prompt of several files PlaybackContinuing
# between them). ChannelHangupRequest stays although StasisEnd follows: it comes before the
# PlaybackFinished ("failed") of the prompt the caller hung up on, so the session ends there.
# how long an answered staff leg no session follows waits for a re-adopted caller's session to
# claim it (it does so first thing when it rejoins its queue) before it is hung up as left over
ORPHAN_CLAIM_WAIT_S = 3.0
UNREAD_EVENTS = (
    "ChannelVarset",
    "PlaybackStarted",
    "ChannelStateChange",
    "PlaybackContinuing",
    "ChannelEnteredBridge",
    "ChannelLeftBridge",
    "BridgeCreated",
    "BridgeDestroyed",
    "Dial",
    "ChannelDialplan",
    "ChannelCallerId",
    "ChannelConnectedLine",
)


class Supervisor:
    def __init__(
        self,
        ari: AriPort,
        recorder: CallRecorder,
        config: CallsConfig,
        services: CallServices,
    ) -> None:
        self.ari = ari
        self.recorder = recorder
        self.config = config
        self.services = services
        self.sessions: dict[str, CallSession] = {}
        # other channels (agent legs) whose events go to a call's inbox
        self._claimed: dict[str, CallSession] = {}
        self._change = asyncio.Event()
        # set (and replaced) whenever a session claims a leg
        self._claims = asyncio.Event()
        # legs the engine originated that have no session (yet): who wants their events
        self._watchers: dict[str, Callable[[StreamItem], None]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._orphans: set[asyncio.Task[None]] = set()
        self.calls_started = 0
        self.calls_adopted = 0
        # the leader lock's fence (ivr.leader.Leader.holds); one engine alone always acts
        self.may_act: Callable[[], bool] = lambda: True

    def on_event(self, item: StreamItem) -> None:
        if not self.may_act():
            return
        if isinstance(item, Resynced):
            self._resync(item)
            return
        if isinstance(item, Disconnected):
            return
        if (
            isinstance(item, StasisStart)
            and item.channel.id not in self.sessions
            and item.channel.id not in self._claimed
        ):
            self._entered(item)
            return
        channel_id = event_channel_id(item)
        if channel_id is None:
            return
        session = self.sessions.get(channel_id) or self._claimed.get(channel_id)
        if session is not None:
            session.inbox.put_nowait(item)
        elif (watcher := self._watchers.get(channel_id)) is not None:
            watcher(item)

    def _entered(self, item: StasisStart) -> None:
        """A channel no session owns entered our app: a new call, or a leg of the engine's."""
        entry = item.args[0] if item.args else ""
        if entry in INBOUND_ENTRIES or entry == CALLBACK_ENTRY:
            self._watchers.pop(item.channel.id, None)
            self._start(item.channel, entry, adopted=False)
        elif entry in STAFF_ENTRIES and item.channel.id not in self._watchers:
            self._unclaimed_answer(item)
        elif _is_listen(item.channel.id, entry):
            if (watcher := self._watchers.get(item.channel.id)) is not None:
                watcher(item)
            else:
                # a listen of an engine that stopped: it is over, the caller is not touched
                self._hang_up_listen(item.channel.id)

    def _unclaimed_answer(self, start: StasisStart) -> None:
        """An agent or department phone answered a ring no session follows: one placed by the
        engine before a restart. A re-adopted caller whose agent's phone was ringing follows
        that ring (`HOTLINE_OFFER`) and claims the leg, but the answer may come in just before
        it has: it is handed to the session that claims it within `ORPHAN_CLAIM_WAIT_S`. Any
        other such ring's offer is over, so the phone must not stay connected to silence."""
        self._background(self._hand_over_or_hang_up(start), f"orphan:{start.channel.id}")

    async def _hand_over_or_hang_up(self, start: StasisStart) -> None:
        leg = start.channel.id
        try:
            async with asyncio.timeout(ORPHAN_CLAIM_WAIT_S):
                while leg not in self._claimed:
                    await self._claims.wait()
        except TimeoutError:
            log.info("hanging up a staff leg left over from before a restart")
            await self._hang_up(leg)
            return
        self._claimed[leg].inbox.put_nowait(start)

    def _hang_up_listen(self, channel_id: str) -> None:
        log.info("hanging up a listen left over from before a restart")

        async def end() -> None:
            await self._hang_up(channel_id)
            # the listen's bridge is named after its channels (routing.listen)
            bridge = channel_id.rsplit("-", 1)[0] + "-bridge"
            with contextlib.suppress(AriError):
                await self.ari.destroy_bridge(bridge)

        self._background(end(), f"orphan:{channel_id}")

    async def _hang_up(self, channel_id: str) -> None:
        with contextlib.suppress(AriError):
            await self.ari.hangup(channel_id)

    def _background(self, work: Coroutine[Any, Any, None], name: str) -> None:
        # the event reader never awaits a REST call: small clean-up jobs run as tasks
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._orphans.add(task)
        task.add_done_callback(self._orphans.discard)

    def watch(self, channel_id: str, watcher: Callable[[StreamItem], None] | None) -> None:
        """Hand events of a leg the engine placed, before it has a session, to `watcher`
        (e.g. a callback that is never answered ends with ChannelDestroyed, not StasisStart)."""
        if watcher is None:
            self._watchers.pop(channel_id, None)
        else:
            self._watchers[channel_id] = watcher

    def post(self, call_id: str, command: CallCommand) -> bool:
        """Put `command` into the inbox of the call `call_id` (False: no such call here)."""
        session = self.sessions.get(call_id)
        if session is None:
            return False
        session.inbox.put_nowait(command)
        return True

    def changed(self) -> None:
        """A session moved on (or started, or ended): wake whoever waits in `next_change`."""
        self._change.set()
        self._change = asyncio.Event()

    async def next_change(self) -> None:
        """Wait until some call's state changes (for tests and the wallboard)."""
        await self._change.wait()

    def _claim(self, channel_id: str, session: CallSession | None) -> None:
        if session is None:
            self._claimed.pop(channel_id, None)
        else:
            self._claimed[channel_id] = session
            self._claims.set()
            self._claims = asyncio.Event()

    def _resync(self, snapshot: Resynced) -> None:
        for session in self.sessions.values():
            session.inbox.put_nowait(snapshot)
        present = {c.id for c in snapshot.channels}
        if not snapshot.reconnect:
            # what calls that ended while no engine ran kept is of no use to anyone now
            self._background(self._forget_ended(present), "memory-prune")
        for channel in snapshot.channels:
            if channel.id in self.sessions or channel.id in self._claimed:
                continue
            args = channel.dialplan.app_data.split(",")
            entry = args[1] if len(args) > 1 else ""
            if _is_listen(channel.id, entry):
                if channel.id not in self._watchers:  # else: a listen of ours, going on
                    self._hang_up_listen(channel.id)
            elif entry in INBOUND_ENTRIES or entry == CALLBACK_ENTRY:
                self._start(channel, entry, adopted=True)
            elif entry in STAFF_ENTRIES:
                self._hang_up_if_caller_left(channel.id, present)
        # (re)connected: whoever watches the calls looks again
        self.changed()

    async def _forget_ended(self, present: set[str]) -> None:
        try:
            dropped = await self.services.memory.forget_all_but(present)
        except Exception:
            log.exception("could not prune the call memory")
            return
        if dropped:
            log.info("dropped the kept state of %d call(s) that ended while no engine ran", dropped)

    def _hang_up_if_caller_left(self, channel_id: str, present: set[str]) -> None:
        # a staff leg whose caller hung up while no engine ran talks to nobody; one whose
        # caller is still here is followed again by that caller's session (HOTLINE_TALK)
        async def check() -> None:
            try:
                caller = await self.ari.get_variable(channel_id, CALLER_OF_LEG_VAR)
            except AriError:
                return
            if caller not in present:
                log.info("hanging up a staff leg whose caller left during a restart")
                await self._hang_up(channel_id)

        self._background(check(), f"orphan-check:{channel_id}")

    def _start(self, channel: Channel, entry: str, *, adopted: bool) -> None:
        session = CallSession(
            channel,
            self.ari,
            self.recorder,
            self.config,
            self.services,
            entry=entry,
            adopted=adopted,
            claim=self._claim,
            on_step=self.changed,
        )
        self.sessions[channel.id] = session
        task = asyncio.get_running_loop().create_task(session.run(), name=f"call:{channel.id}")
        self._tasks[channel.id] = task
        task.add_done_callback(functools.partial(self._finished, channel.id))
        if adopted:
            self.calls_adopted += 1
        else:
            self.calls_started += 1

    def _finished(self, channel_id: str, _task: asyncio.Task[None]) -> None:
        session = self.sessions.pop(channel_id, None)
        self.changed()
        for other in [c for c, s in self._claimed.items() if s is session]:
            del self._claimed[other]
        task = self._tasks.pop(channel_id, None)
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.error("call task ended with an error", exc_info=task.exception())

    async def wait_idle(self) -> None:
        """Wait until no call session is running (tests and graceful drains)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def stop(self, grace_s: float = 5.0) -> None:
        """Detach from every call without hanging up: calls stay in Asterisk and the next
        engine re-adopts them. Each session writes its call record before it ends."""
        for session in self.sessions.values():
            session.inbox.put_nowait(Stop())
        tasks = list(self._tasks.values())
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


def _is_listen(channel_id: str, entry: str) -> bool:
    return entry == LISTEN_ENTRY or channel_id.startswith(LISTEN_PREFIX)
