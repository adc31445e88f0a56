"""What the queues and the agent pool do, pushed to the agents' pages as it happens.

`ConsoleFeed.queue_event` hears every queue trail entry (`routing.acd.QueueEvents.subscribe`)
and `agent_change` every agent state change (the pool's `on_event`). An offer pushes the
screen-pop while the agent's phone still rings: the call's trail written so far is flushed
(the key presses of the last moment are in the batch not yet written), the pop is read from
the database (`pop_for`, which audits every account shown) with the values the caller keyed
(`context_of(call_id)`, the flow's hand-over), and pushed; if the database does not answer
within `POP_TIMEOUT_S` a pop with the call's id and time goes out instead, so the page always
shows the offer. Answers, withdrawn offers, ended calls and state changes are pushed at once.

Pushing never waits on a page (`Hub.push` queues or drops); the pops are tasks this feed owns
and cancels on `aclose`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import utc_now
from ivr.web.hub import Hub
from ivr.web.messages import (
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallHold,
    OfferWithdrawn,
    TransferStep,
    TransferStepName,
    WrapUpRecorded,
    bare_offer,
    pop_for,
)
from routing.agents import AgentChange, AgentPool
from routing.model import QueueEvent, TransferEvent, WrapUpEvent
from routing.wrapup import WrapUps

log = logging.getLogger(__name__)

POP_TIMEOUT_S = 2.0
"""How long the pop may take to read (flush of the trail included) before the bare offer goes
out instead: the phone rings for `ring_timeout_s` (20 s); the pop must come well within it."""

Clock = Callable[[], datetime]

# the queue trail's end of an offer that was not answered, as the page words it
_WITHDRAWN = {"abandoned": "caller_hung_up", "no_answer": "timed_out", "rejected": "passed_on"}
# the trail's transfer steps as the page shows them
_STEPS: dict[str, TransferStepName] = {
    "transfer_requested": "requested",
    "transferred": "transferred",
    "transfer_blind": "ringing",
    "transfer_consult": "ringing",
    "consult_started": "consulting",
    "transfer_connected": "connected",
    "transfer_failed": "failed",
    "transfer_cancelled": "cancelled",
    "closed": "failed",
}


class ConsoleFeed:
    def __init__(
        self,
        hub: Hub,
        db: AsyncEngine,
        *,
        flush_trail: Callable[[], Awaitable[object]] | None = None,
        context_of: Callable[[str], Mapping[str, str] | None] = lambda _call_id: None,
        wrap_up_s: Callable[[str], float] = lambda _queue: 0.0,
        clock: Clock = utc_now,
        pop_timeout_s: float = POP_TIMEOUT_S,
    ) -> None:
        self._hub = hub
        self._db = db
        self._flush_trail = flush_trail
        self._context_of = context_of
        self._wrap_up_s = wrap_up_s
        self._clock = clock
        self._pop_timeout_s = pop_timeout_s
        self._pops: set[asyncio.Task[None]] = set()
        # the agent each call was offered to (ended calls name no agent in the trail)
        self._agent_of: dict[str, str] = {}
        # when each offered call was answered: a phone that answers at once beats the pop
        self._answered_at: dict[str, datetime] = {}

    # ------------------------------------------------------------------ the queues

    def queue_event(self, event: QueueEvent | TransferEvent | WrapUpEvent) -> None:
        if isinstance(event, WrapUpEvent):
            wrap = WrapUpRecorded(call_id=event.call_id, at=event.at, reason=event.reason)
            self._hub.push(event.agent_id, wrap)
            return
        if isinstance(event, TransferEvent) or event.kind in ("transfer_requested", "transferred"):
            self._transfer_step(event)
            return
        call_id = event.call_id
        if event.kind == "offered" and event.agent_id:
            self._agent_of[call_id] = event.agent_id
            self._pop(event.agent_id, call_id, event.at)
            return
        agent = event.agent_id or self._agent_of.get(call_id)
        if agent is None:
            return
        if event.kind == "answered":
            self._answered_at[call_id] = event.at
            self._hub.push(agent, CallAnswered(call_id=call_id, at=event.at))
        elif event.kind in ("hold_started", "hold_ended"):
            held = event.kind == "hold_started"
            self._hub.push(agent, CallHold(call_id=call_id, at=event.at, held=held))
        elif event.kind in _WITHDRAWN:
            self._agent_of.pop(call_id, None)
            self._answered_at.pop(call_id, None)
            self._hub.push(
                agent,
                OfferWithdrawn(call_id=call_id, at=event.at, reason=_WITHDRAWN[event.kind]),
            )
        elif event.kind == "call_ended":
            self._agent_of.pop(call_id, None)
            self._answered_at.pop(call_id, None)
            wrap_up = self._wrap_up_s(event.queue)
            until = event.at + timedelta(seconds=wrap_up) if wrap_up > 0 else None
            self._hub.push(agent, CallEnded(call_id=call_id, at=event.at, wrap_up_until=until))

    def _transfer_step(self, event: QueueEvent | TransferEvent) -> None:
        # a queue's entry names its agent: after a transfer to a queue the call has ended for
        # them (call_ended comes first) and the step still goes to their page
        named = event.agent_id if isinstance(event, QueueEvent) else None
        agent = named or self._agent_of.get(event.call_id)
        step = _STEPS.get(event.kind)
        if agent is None or step is None:
            return  # a transfer of the IVR's (no agent), or the agent has left the call
        if isinstance(event, TransferEvent):
            target, detail = event.department, event.detail
        else:
            target, detail = event.detail.partition(" ")[2] or event.detail, ""
        message = TransferStep(
            call_id=event.call_id, at=event.at, step=step, target=target, detail=detail
        )
        self._hub.push(agent, message)

    def _pop(self, agent: str, call_id: str, offered_at: datetime) -> None:
        task = asyncio.get_running_loop().create_task(
            self._push_pop(agent, call_id, offered_at), name=f"pop:{call_id}"
        )
        self._pops.add(task)
        task.add_done_callback(self._pops.discard)

    async def _push_pop(self, agent: str, call_id: str, offered_at: datetime) -> None:
        try:
            async with asyncio.timeout(self._pop_timeout_s):
                if self._flush_trail is not None:
                    await self._flush_trail()
                pop = await pop_for(self._db, call_id, agent, offered_at, self._context_of(call_id))
        except Exception as exc:
            # TimeoutError or the database away: the agent still sees that a call is offered
            log.warning(
                "screen-pop not read in time (%s); the bare offer is shown", type(exc).__name__
            )
            pop = bare_offer(call_id, offered_at)
        if self._agent_of.get(call_id) == agent:
            self._hub.push(agent, pop)
            answered = self._answered_at.get(call_id)
            if answered is not None:
                # answered while the pop was read (a phone that answers at once): the page
                # shows the pop as ringing until told again
                self._hub.push(agent, CallAnswered(call_id=call_id, at=answered))

    # ------------------------------------------------------------------ the agents

    def agent_change(self, change: AgentChange) -> None:
        state = change.state
        self._hub.push(
            change.agent_id,
            AgentStateChanged(
                status=state.status, since=state.since, reason=state.reason, call_id=state.call_id
            ),
        )

    def wrap_ups_resumed(self, pool: AgentPool, wrap_ups: WrapUps) -> None:
        """Tell the pages of agents back in a wrap-up from before a restart (the hub keeps it
        for a page that opens later): the call to classify and the deadline."""
        for login in pool.ids():
            state = pool.state(login)
            last = wrap_ups.last(login)
            if state.status != "wrap_up" or last is None or last.call_id != state.call_id:
                continue
            ended = CallEnded(call_id=last.call_id, at=last.started_at, wrap_up_until=last.until)
            self._hub.push(login, ended)

    async def aclose_after_pops(self) -> None:
        """Let the pops being read finish (tests, and an orderly stop that can wait)."""
        if self._pops:
            await asyncio.gather(*list(self._pops), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._pops):
            task.cancel()
        for task in list(self._pops):
            try:
                await task
            except asyncio.CancelledError:
                pass
