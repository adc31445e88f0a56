"""`AcdRouter`: the call session's `Router` on our own ACD (`routing.queues`) and transfers
(`routing.transfer`). It runs inside the caller's session task: waiting in a queue, talking to
the agent (`routing.queues.conversation`), being put through to a department or the on-duty line,
until the call ends. A caller the agent hands over goes on from there in the same task: to the
department's line, or waiting again in a queue (another, or theirs when a blind transfer found
nobody), offered to the next agent as the same call (the same pop).

The router also owns what the console reaches the calls through: `desk` (reject, hold and
resume, transfer, complete, cancel: `routing.commands`) and `wrap_ups` (the wrap-up codes:
`routing.wrapup`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from ivr.ari.client import StreamItem
from ivr.ari.models import ChannelDestroyed
from ivr.calls.codec import TALK, Talk
from ivr.calls.handle import CallCommand, CallHandle
from ivr.calls.records import CallRecorder
from ivr.calls.services import HandoverOutcome, QueueOutcome, TalkKind
from ivr.errors import AriError, AriUnavailable
from routing.commands import CallDesk
from routing.legs import talk_until_hangup
from routing.model import CallbackRequest, QueueEvent, TransferEvent, WrapUpEvent
from routing.ports import RoutingAri
from routing.queues import (
    Abandoned,
    Answered,
    CallbackScheduled,
    Closed,
    Overflow,
    QueueService,
)
from routing.queues import QueueOutcome as AcdOutcome
from routing.queues.conversation import Conversation, Ended, TalkEnd, ToDepartment
from routing.queues.outcomes import Trail
from routing.transfer import TransferService
from routing.wrapup import WrapUps

RoutingEvent = QueueEvent | TransferEvent | WrapUpEvent
"""What the trail of the queues, transfers and wrap-ups carries."""

log = logging.getLogger(__name__)


def _callback_leg(request: CallbackRequest) -> str:
    return f"{request.call_id}-callback"


class QueueEvents:
    """The queues' and transfers' trail as it happens (enqueued, rejoined, offered, answered,
    transferred, ...): handed to the call's trail (`recorder`, the database in `hotline run`)
    with each event's own time, kept here for a while, and awaitable for whoever watches."""

    def __init__(self, keep: int = 1000, recorder: CallRecorder | None = None) -> None:
        self.recent: deque[RoutingEvent] = deque(maxlen=keep)
        self._recorder = recorder
        self._change = asyncio.Event()
        self._listeners: list[Callable[[RoutingEvent], None]] = []

    def subscribe(self, listener: Callable[[RoutingEvent], None]) -> None:
        """Hand every later event to `listener` too (the agent console's feed); it must not
        block: it runs on the call's own path."""
        self._listeners.append(listener)

    def add(self, event: RoutingEvent) -> None:
        self.recent.append(event)
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                # a listener's fault must not cost the caller their place
                log.exception("a queue event listener failed")
        if self._recorder is not None:
            self._recorder.event(event.call_id, event.kind, event.at, _data(event))
        self._change.set()
        self._change = asyncio.Event()

    async def next(self) -> None:
        await self._change.wait()


def _data(event: RoutingEvent) -> dict[str, str]:
    """The trail row's data (ids, codes, and a wrap-up's notes: the trail is where they live)."""
    if isinstance(event, WrapUpEvent):
        return {
            "queue": event.queue,
            "agent": event.agent_id,
            "reason": event.reason,
            "notes": event.notes,
            "ended_by": event.ended_by,
            "started_at": event.started_at.isoformat(),
        }
    if isinstance(event, QueueEvent):
        data = {"queue": event.queue, "agent": event.agent_id or ""}
    else:
        data = {"department": event.department}
    if event.detail:
        data["detail"] = event.detail
    return data


class AcdRouter:
    def __init__(
        self,
        queues: QueueService,
        transfers: TransferService,
        ari: RoutingAri,
        emergency_department: str = "emergency_duty",
        events: QueueEvents | None = None,
    ) -> None:
        self.events = events or QueueEvents()
        self.queues = queues
        self.transfers = transfers
        self._ari = ari
        self.emergency_department = emergency_department
        self._callbacks: dict[str, CallbackRequest] = {}
        self._watch: Callable[[str, Callable[[StreamItem], None] | None], None] | None = None
        self.outbound_endpoint = queues.config.outbound_endpoint
        self.outbound_caller_id = queues.config.outbound_caller_id or None
        # how long the caller's phone rings when we call back
        self.callback_ring_s = 30
        # the router is who calls back the callers who kept a place in its queues
        queues.bind(self.dial_back)
        self.desk = CallDesk(queues.agents)
        self.wrap_ups = WrapUps(
            queues.agents,
            queues.config.wrap_up_codes,
            self.events.add,
            clock=queues.clock,
        )
        self._conversation = Conversation(
            ari,
            queues.agents,
            Trail(queues.clock, self.events.add),
            self.wrap_ups.begin,
            transfers=transfers,
            desk=self.desk,
            queue_takes=queues.takes,
            moh_class=queues.timing.moh_class,
            clock=queues.clock,
        )

    def held_calls(self) -> frozenset[str]:
        """The calls whose caller an agent has put on hold now."""
        return frozenset(self._conversation.held)

    def bind_commands(self, post: Callable[[str, CallCommand], bool]) -> None:
        """Give the console's desk the supervisor's `post` (into a call's inbox)."""
        self.desk.bind(post)

    def bind(self, watch: Callable[[str, Callable[[StreamItem], None] | None], None]) -> None:
        """Give the router the supervisor's `watch`, to learn when a callback is not answered."""
        self._watch = watch

    def _expect_callback(self, leg: str, request: CallbackRequest) -> None:
        """`leg` rings the caller for `request`: serve it when answered, fail it if not."""
        self._callbacks[leg] = request

        def unanswered(item: StreamItem) -> None:
            if isinstance(item, ChannelDestroyed) and item.channel.id == leg:
                self._forget(leg)
                self.queues.callback_failed(request, "no answer")

        if self._watch is not None:
            self._watch(leg, unanswered)

    async def dial_back(self, request: CallbackRequest) -> None:
        """Call a caller who kept their place (the queue calls this once, within hours)."""
        leg = _callback_leg(request)
        self._expect_callback(leg, request)
        try:
            await self._ari.originate(
                self.outbound_endpoint.format(number=request.number),
                channel_id=leg,
                app_args="callback",
                caller_id=self.outbound_caller_id,
                timeout_s=self.callback_ring_s,
            )
        except AriError:
            self._forget(leg)
            raise

    async def recover_callbacks(self) -> int:
        """At engine start, after `bind`: call backs the last engine left ringing. One still
        ringing is served when the resident answers; one that is gone failed meanwhile (it is
        never dialled twice). Returns how many still ring."""
        ringing = 0
        for request in await self.queues.restore_dialing():
            leg = _callback_leg(request)
            try:
                await self._ari.get_channel(leg)
            except AriError:
                self.queues.callback_failed(request, "lost in an engine restart")
                continue
            except AriUnavailable:
                log.warning("cannot ask Asterisk about a ringing callback; expecting it")
            self._expect_callback(leg, request)
            ringing += 1
        return ringing

    def _forget(self, leg: str) -> None:
        self._callbacks.pop(leg, None)
        if self._watch is not None:
            self._watch(leg, None)

    async def serve_callback(self, call: CallHandle) -> QueueOutcome:
        request = self._callbacks.pop(call.channel_id, None)
        if request is None:
            log.warning("a callback call with no pending request; closing it")
            with contextlib.suppress(AriError):
                await call.ari.hangup(call.channel_id)
            return "abandoned"
        return await self._after(call, await self.queues.serve_callback(call, request))

    async def enqueue(
        self, call: CallHandle, queue: str, priority: int, context: Mapping[str, str]
    ) -> QueueOutcome:
        return await self._after(call, await self.queues.wait(call, queue, priority, context))

    async def rejoin(self, call: CallHandle) -> QueueOutcome | None:
        """A re-adopted call that was waiting: back to its old place (None: it was not)."""
        outcome = await self.queues.rejoin(call, call.context)
        return None if outcome is None else await self._after(call, outcome)

    async def _after(self, call: CallHandle, outcome: AcdOutcome) -> QueueOutcome:
        if isinstance(outcome, Answered):
            return await self._served(call, outcome)
        if isinstance(outcome, CallbackScheduled):
            # the caller heard the callback confirmation and keeps the place; end this call
            with contextlib.suppress(AriError):
                await call.ari.hangup(call.channel_id)
            return "callback"
        if isinstance(outcome, Abandoned):
            return "abandoned"
        if isinstance(outcome, Closed):
            return "closed"
        if isinstance(outcome, Overflow):
            return "overflow"
        raise TypeError(outcome)

    async def _served(
        self,
        call: CallHandle,
        answered: Answered,
        *,
        agent_up: bool = True,
        held_since: datetime | None = None,
    ) -> QueueOutcome:
        """The caller talks to the agent, then goes where the agent handed them (if anywhere).
        `held_since`: a restarted engine's talk found the caller on hold since then."""
        talk = Talk(
            answered.queue,
            answered.agent_id,
            answered.agent_channel_id,
            answered.bridge_id,
            held_since,
        )
        await self._remember_talk(call, talk)
        wrap_up_s = self.queues.queue_config(answered.queue).wrap_up_s
        end = await self._conversation.run(
            call, answered, wrap_up_s, agent_up=agent_up, held_since=held_since
        )
        return await self._handed(call, answered, end)

    async def _handed(self, call: CallHandle, answered: Answered, end: TalkEnd) -> QueueOutcome:
        if isinstance(end, Ended):
            return "answered"
        if isinstance(end, ToDepartment):
            await self._put_through(call, end.channel_id, end.bridge_id)
            return "answered"
        # the old conversation is over: a restarted engine must not follow it again
        await self._remember_talk(call, None)
        # another queue (ToQueue) or theirs again (BackToQueue): with the wait they had
        outcome = await self.queues.wait(
            call, end.queue, answered.priority, call.context, since=answered.enqueued_at
        )
        return await self._after(call, outcome)

    async def transfer(
        self, call: CallHandle, department: str, context: Mapping[str, str]
    ) -> HandoverOutcome:
        result = await self.transfers.blind(call, department, context=context)
        if result.status == "connected" and result.channel_id and result.bridge_id:
            return await self._put_through(call, result.channel_id, result.bridge_id)
        if result.status == "caller_gone":
            return "caller_gone"
        await self._off_hold(call)
        return "failed"

    async def emergency(self, call: CallHandle, context: Mapping[str, str]) -> HandoverOutcome:
        outcome = await self.transfers.emergency(call, self.emergency_department, context)
        log.info(
            "emergency escalation: %d attempt(s), %s",
            len(outcome.attempts),
            "answered"
            if outcome.answered_by
            else "caller hung up"
            if outcome.caller_hung_up
            else "nobody answered",
        )
        if outcome.channel_id and outcome.bridge_id:
            return await self._put_through(call, outcome.channel_id, outcome.bridge_id)
        if outcome.caller_hung_up:
            return "caller_gone"
        await self._off_hold(call)
        return "failed"

    async def _off_hold(self, call: CallHandle) -> None:
        with contextlib.suppress(AriError):
            await self._ari.stop_moh(call.channel_id)

    async def _remember_talk(self, call: CallHandle, talk: Talk | None) -> None:
        # kept on the caller (`HOTLINE_TALK`): a restarted engine follows the conversation
        # instead of taking the caller back into the flow
        with contextlib.suppress(AriError):  # the caller hung up: the talk ends at once anyway
            await call.remember(TALK.name, TALK.encode(talk) if talk is not None else "")

    async def resume_talk(self, call: CallHandle) -> TalkKind | None:
        kept = TALK.decode(await call.recall(TALK.name))
        if kept.problem:
            log.warning("kept conversation unreadable, ignored: %s", kept.problem)
        talk = kept.value
        if talk is None:
            return None
        log.info("call re-adopted while talking; following the conversation")
        if talk.queue and talk.queue in self.queues.config.queues:
            answered = Answered(talk.queue, talk.agent, talk.leg, talk.bridge)
            agent_up = await self.queues.resume_talk(call, answered)
            await self._served(call, answered, agent_up=agent_up, held_since=talk.held_since)
            return "answered"
        call.claim(talk.leg)
        try:
            await self._ari.get_channel(talk.leg)
        except AriError:
            await self._bridged(call, talk.leg, talk.bridge, leg_up=False)
        else:
            self.events.add(
                QueueEvent(call.channel_id, "", datetime.now(UTC), "talk_resumed", None, "transfer")
            )
            await self._bridged(call, talk.leg, talk.bridge)
        return "bridged"

    async def _put_through(self, call: CallHandle, leg: str, bridge_id: str) -> HandoverOutcome:
        """A new conversation with a department: kept on the caller's channel for a restarted
        engine, then run to its end."""
        await self._remember_talk(call, Talk("", "", leg, bridge_id))
        self.events.add(
            QueueEvent(call.channel_id, "", datetime.now(UTC), "put_through", None, "transfer")
        )
        return await self._bridged(call, leg, bridge_id)

    async def _bridged(
        self, call: CallHandle, leg: str, bridge_id: str, *, leg_up: bool = True
    ) -> HandoverOutcome:
        """The caller talks to `leg` until either hangs up (`leg_up` False: the leg is already
        gone, found so after a restart)."""
        await talk_until_hangup(call, self._ari, leg, bridge_id, leg_up=leg_up)
        return "bridged"
