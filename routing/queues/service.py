"""`QueueService`, the facade of the ACD's queues, and the thin shell around the pure waiting
step (`routing.queues.waiting`): callers wait in a queue's holding bridge (music on hold for the
whole bridge), hear their position and expected wait, are offered to agents, and are moved into
a fresh mixing bridge with the agent who answers.

`QueueService.wait` runs inside the caller's session task and reads only that call's inbox
(`CallHandle.next_event`); agent legs are `claim`ed so their events arrive there too. Every
tick, key and prompt end goes through `waiting.step`, and its effects are carried out here.
All decisions come from `routing.policy`: which call goes to which agent (`plan_offers`,
evaluated by each waiting caller on every tick, so no separate dispatcher races the callers),
overflow, the announcement schedule and the callback offer. Queue membership (queue, priority,
enqueue time) is kept in the call memory (`HOTLINE_QUEUE`) so an engine that restarts and
re-adopts waiting callers rebuilds the same order (`restore` + `rejoin`).

Virtual hold (`routing.queues.callbacks`): a caller who accepts the callback offer hangs up but
keeps the place. When that place would get an agent, `run` (one background task per engine)
hands a `CallbackRequest` to the bound `dial_back` (the ACD router's; once, only while the
queue's calendar is open); the router calls the number and, once answered, runs
`serve_callback` in the new call's session, which waits at the head of the queue and connects
the next free agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ivr.ari.models import ChannelDtmfReceived
from ivr.calls.codec import OFFER, QUEUE, Membership, Ringing
from ivr.calls.handle import CallHandle
from ivr.calls.memory import CallMemory
from ivr.domain import utc_now
from ivr.errors import AriError
from routing.agents import AgentPool, Clock
from routing.commands import MoveToQueue, StaffCommand
from routing.config import QueueConfig, RoutingConfig
from routing.hours import Calendar
from routing.legs import is_gone
from routing.model import CallbackRequest, QueueEvent
from routing.policy import QueuedCall, admit, expected_wait_s, order_queue, plan_offers, position_of
from routing.ports import CallbackStore, RoutingAri
from routing.queues import waiting as w
from routing.queues.callbacks import VirtualHold
from routing.queues.holding import HoldingBridges, PromptPlayer
from routing.queues.membership import Places
from routing.queues.offers import AgentOffers
from routing.queues.outcomes import (
    Abandoned,
    Answered,
    CallbackScheduled,
    Closed,
    DialBack,
    Overflow,
    QueueOutcome,
    QueueTiming,
    Trail,
    UnknownQueue,
)

log = logging.getLogger(__name__)

DEFAULT_TIMING = QueueTiming()


class QueueService:
    def __init__(
        self,
        config: RoutingConfig,
        agents: AgentPool,
        ari: RoutingAri,
        calendars: Mapping[str, Calendar],
        *,
        clock: Clock = utc_now,
        timing: QueueTiming = DEFAULT_TIMING,
        on_event: Callable[[QueueEvent], None] | None = None,
        callback_store: CallbackStore | None = None,
    ) -> None:
        self.config = config
        self.agents = agents
        self._ari = ari
        self._calendars = calendars
        self._clock = clock
        self.clock = clock
        self.timing = timing
        self._trail = Trail(clock, on_event)
        self._waiting: Places = {name: {} for name in config.queues}
        skills = {name: frozenset(q.skills) for name, q in config.queues.items()}
        self._callbacks = VirtualHold(self._waiting, self._trail, skills, store=callback_store)
        self._bridges = HoldingBridges(ari, prefix=timing.bridge_prefix, moh_class=timing.moh_class)
        self._offers = AgentOffers(
            agents, ari, self._waiting, self._trail, clock, ring_grace_s=timing.ring_grace_s
        )
        self._hold_offers_until = 0.0

    def bind(self, dial_back: DialBack) -> None:
        """Who calls back the callers who keep their place (the ACD router binds itself). Until
        then no caller is offered a callback: nobody could place it."""
        self._callbacks.bind(dial_back)

    # ------------------------------------------------------------------ reading

    def queue_config(self, queue: str) -> QueueConfig:
        try:
            return self.config.queues[queue]
        except KeyError:
            raise UnknownQueue(queue) from None

    def waiting(self, queue: str) -> list[QueuedCall]:
        """The queue in service order (callback places included)."""
        self.queue_config(queue)
        return order_queue(self._waiting[queue].values())

    def position(self, queue: str, call_id: str) -> int:
        return position_of(self._waiting[queue].values(), call_id)

    def pending_callbacks(self) -> list[CallbackRequest]:
        return self._callbacks.pending()

    def holding_bridge(self, queue: str) -> str:
        return self._bridges.name(queue)

    def _open(self, cfg: QueueConfig, now: datetime) -> bool:
        return self._calendars[cfg.calendar].is_open(now)

    # ------------------------------------------------------------------ entering

    async def wait(
        self,
        call: CallHandle,
        queue: str,
        priority: int = 0,
        context: Mapping[str, str] | None = None,
        *,
        since: datetime | None = None,
    ) -> QueueOutcome:
        """Queue the caller until an agent answers, or another outcome. The caller must be
        answered and not in a bridge. Run inside the caller's session task. `since`: the caller
        comes from an agent (a transfer) and keeps the wait they had (their place in order)."""
        cfg = self.queue_config(queue)
        now = self._clock()
        if not self._open(cfg, now):
            self._trail(call.channel_id, queue, "closed")
            return Closed(queue)
        staffed, ready = self.agents.staffing(cfg.skills)
        waiting = len(self._waiting[queue])
        ewt = expected_wait_s(waiting + 1, staffed, ready, cfg.average_handle_s)
        admission = admit(cfg, waiting=waiting, staffed=staffed, expected_wait=ewt)
        if admission.decision != "join":
            self._trail(call.channel_id, queue, "overflow", detail=admission.reason)
            return Overflow(queue, admission.reason, refused=admission.decision == "refuse")
        joined = since or now
        entry = QueuedCall(call.channel_id, joined, priority, frozenset(cfg.skills))
        await call.remember(QUEUE.name, QUEUE.encode(Membership(queue, priority, joined)))
        self._trail(call.channel_id, queue, "enqueued", detail=str(priority))
        state = w.waiting(queue, joined, now, call.language, call.caller_number)
        return await self._hold(call, entry, state, context or {})

    def takes(self, queue: str) -> Literal["ok", "unknown_target", "closed", "full"]:
        """Whether a caller an agent transfers may join `queue` now (as `wait` would admit)."""
        cfg = self.config.queues.get(queue)
        if cfg is None:
            return "unknown_target"
        if not self._open(cfg, self._clock()):
            return "closed"
        staffed, ready = self.agents.staffing(cfg.skills)
        waiting = len(self._waiting[queue])
        ewt = expected_wait_s(waiting + 1, staffed, ready, cfg.average_handle_s)
        admission = admit(cfg, waiting=waiting, staffed=staffed, expected_wait=ewt)
        return "ok" if admission.decision == "join" else "full"

    async def restore(self, channel_ids: list[str], memory: CallMemory) -> int:
        """After an engine restart, before sessions resume: put every re-adopted caller that
        was waiting back in its queue (from `HOTLINE_QUEUE` in the call memory), so positions
        are right from the first announcement. Returns how many were restored."""
        restored = 0
        for channel_id in channel_ids:
            membership = _membership(await memory.recall(channel_id, QUEUE.name))
            if membership is None or membership.queue not in self._waiting:
                continue
            queue = membership.queue
            skills = frozenset(self.config.queues[queue].skills)
            self._waiting[queue][channel_id] = QueuedCall(
                channel_id, membership.enqueued_at, membership.priority, skills
            )
            restored += 1
        if restored:
            self._hold_offers()
        return restored

    async def rejoin(
        self, call: CallHandle, context: Mapping[str, str] | None = None
    ) -> QueueOutcome | None:
        """For a re-adopted call: if it was waiting in a queue, wait again with its old place
        (same priority and enqueue time). None if the call was not queued."""
        membership = _membership(await call.recall(QUEUE.name))
        if membership is None:
            return None
        queue, priority, enqueued_at = membership.queue, membership.priority, membership.enqueued_at
        cfg = self.queue_config(queue)
        entry = QueuedCall(call.channel_id, enqueued_at, priority, frozenset(cfg.skills))
        if call.channel_id not in self._waiting[queue]:
            self._hold_offers()
        ringing = OFFER.decode(await call.recall(OFFER.name))
        if ringing.value is not None:
            # before anything else: the agent may answer the ringing phone any moment
            call.claim(ringing.value.leg)
        self._trail(call.channel_id, queue, "rejoined")
        state = w.resumed(
            queue,
            enqueued_at,
            call.language,
            call.caller_number,
            announced_at=membership.announced_at,
            callback_offered=membership.callback_offered,
            called_back=membership.called_back,
        )
        return await self._hold(
            call, entry, state, context or {}, rejoin=True, ringing=ringing.value
        )

    def _hold_offers(self) -> None:
        loop = asyncio.get_running_loop()
        if self._hold_offers_until == 0.0:
            self._hold_offers_until = loop.time() + self.timing.rejoin_grace_s

    def _offers_held(self) -> bool:
        return asyncio.get_running_loop().time() < self._hold_offers_until

    async def destroy_holding_bridges(self) -> None:
        """Remove the holding bridges this service made (tests; a decommissioned queue). An
        engine that stops normally keeps them: callers wait on while it restarts."""
        await self._bridges.destroy_all()

    # ------------------------------------------------------------------ waiting

    async def _hold(
        self,
        call: CallHandle,
        entry: QueuedCall,
        state: w.WaitState,
        context: Mapping[str, str],
        *,
        rejoin: bool = False,
        ringing: Ringing | None = None,
    ) -> QueueOutcome:
        while True:
            queue = state.queue
            self._waiting[queue][call.channel_id] = entry
            bridge_id = await self._bridges.enter(queue, call.channel_id, rejoin=rejoin)
            rejoin = False
            outcome: QueueOutcome | MoveToQueue | None = None
            try:
                outcome = await self._wait_loop(call, entry, state, context, ringing)
                ringing = None
            finally:
                if outcome is not None:
                    await self._leave(call, queue, bridge_id, outcome)
            if not isinstance(outcome, MoveToQueue):
                return outcome
            entry, state = await self._moved(call, entry, queue, outcome)

    async def _moved(
        self, call: CallHandle, entry: QueuedCall, left: str, move: MoveToQueue
    ) -> tuple[QueuedCall, w.WaitState]:
        """The caller's place in `move.queue`, by the time they first joined `left`."""
        target, since = move.queue, entry.enqueued_at
        skills = frozenset(self.queue_config(target).skills)
        self._trail(call.channel_id, left, "moved", detail=target)
        await call.remember(QUEUE.name, QUEUE.encode(Membership(target, entry.priority, since)))
        self._trail(call.channel_id, target, "enqueued", detail=str(entry.priority))
        move.answer("ok")
        moved = QueuedCall(call.channel_id, since, entry.priority, skills)
        now = self._clock()
        return moved, w.waiting(target, since, now, call.language, call.caller_number)

    async def _leave(
        self, call: CallHandle, queue: str, bridge_id: str, outcome: QueueOutcome | MoveToQueue
    ) -> None:
        if not isinstance(outcome, CallbackScheduled):
            self._waiting[queue].pop(call.channel_id, None)
        if isinstance(outcome, Overflow | Closed | MoveToQueue):
            await self._bridges.leave(bridge_id, call.channel_id)
        if not isinstance(outcome, Abandoned):
            with contextlib.suppress(AriError):
                await call.remember(QUEUE.name, "")

    async def _wait_loop(
        self,
        call: CallHandle,
        entry: QueuedCall,
        state: w.WaitState,
        context: Mapping[str, str],
        ringing: Ringing | None = None,
    ) -> QueueOutcome | MoveToQueue:
        """Step the waiting machine on every event and carry its effects out, until one of
        them ends the wait, or a supervisor moves the caller to another queue that takes them.
        An offer that rang out, or a prompt that could not be played, is fed back at once as
        the next event. `ringing`: a re-adopted caller's agent phone still rings, followed
        first (`AgentOffers.resume`)."""
        cfg = self.queue_config(state.queue)
        wait = _Wait(call, state.queue, cfg, entry, PromptPlayer(self._ari, call), context)
        event: w.WaitEvent = w.Tick()
        if ringing is not None:
            resumed = await self._offers.resume(call, cfg, state.queue, ringing, entry)
            if resumed is not None:
                return resumed
            event = w.RangOut()
        while True:
            facts = self._facts(cfg, state.queue, call.channel_id)
            before = state
            state, effects = w.step(state, facts, event, self._clock())
            if (state.last_announced, state.callback_offered) != (
                before.last_announced,
                before.callback_offered,
            ):
                await self._keep_schedule(wait, state)
            follow_up: w.WaitEvent | None = None
            for effect in effects:
                done = await self._carry_out(wait, effect)
                if isinstance(done, w.RangOut | w.PlaybackDone):
                    follow_up = done
                elif done is not None:
                    return done
            got = follow_up or await self._next_event(call, wait.player)
            if isinstance(got, MoveToQueue):
                if self._may_move(got, state.queue):
                    await wait.player.stop()
                    return got
                got = w.Tick()
            event = got

    async def _keep_schedule(self, wait: _Wait, state: w.WaitState) -> None:
        """Keep when the caller last heard their place (and the callback offer) with the
        place: an engine that takes over goes on with the same schedule (`rejoin`)."""
        membership = Membership(
            state.queue,
            wait.entry.priority,
            wait.entry.enqueued_at,
            announced_at=state.last_announced,
            callback_offered=state.callback_offered,
            called_back=not state.callback_allowed,
        )
        await wait.call.remember(QUEUE.name, QUEUE.encode(membership))

    def _may_move(self, move: MoveToQueue, queue: str) -> bool:
        """Whether the caller may go to `move.queue` now; if not, the supervisor is told why."""
        verdict = "unknown_target" if move.queue == queue else self.takes(move.queue)
        if verdict != "ok":
            move.answer(verdict)
        return verdict == "ok"

    def _facts(self, cfg: QueueConfig, queue: str, call_id: str) -> w.Facts:
        staffed, ready = self.agents.staffing(cfg.skills)
        return w.Facts(
            config=cfg,
            open=self._open(cfg, self._clock()),
            staffed=staffed,
            ready=ready,
            place=lambda: self.position(queue, call_id),
            # no ready agent with the queue's skills: no offer to plan (the plan sorts the
            # queue, and every waiting caller asks several times a second)
            agent=self._assignment(queue, call_id) if ready else None,
            offers_held=self._offers_held(),
        )

    async def _next_event(
        self, call: CallHandle, player: PromptPlayer
    ) -> w.WaitEvent | MoveToQueue:
        event = await call.next_event(self.timing.tick_s)
        if event is None:
            return w.Tick()
        if is_gone(event, call.channel_id):
            return w.HungUp()
        if player.finished(event):
            return w.PlaybackDone()
        if isinstance(event, ChannelDtmfReceived) and event.channel.id == call.channel_id:
            return w.Key(event.digit)
        if isinstance(event, MoveToQueue):
            return event
        if isinstance(event, StaffCommand):
            # the offer it was meant for ended in that instant
            event.answer("too_late")
        return w.Tick()

    async def _carry_out(
        self, wait: _Wait, effect: w.Effect
    ) -> QueueOutcome | w.RangOut | w.PlaybackDone | None:
        call_id = wait.call.channel_id
        match effect:
            case w.Stop():
                await wait.player.stop()
            case w.Play(prompts=prompts):
                return await _say(wait.player, prompts)
            case w.Announce(prompts=prompts, position=position):
                self._trail(call_id, wait.queue, "announced", detail=str(position))
                return await _say(wait.player, prompts)
            case w.OfferCallback(prompts=prompts, expected_wait=ewt):
                detail = "" if ewt is None else str(int(ewt))
                self._trail(call_id, wait.queue, "callback_offered", detail=detail)
                return await _say(wait.player, prompts)
            case w.Offer(agent_id=agent_id):
                offered = await self._offers.offer(
                    wait.call, wait.cfg, wait.queue, agent_id, wait.entry
                )
                return offered or w.RangOut()
            case w.ScheduleCallback(number=number, goodbye=goodbye):
                return await self._keep_place(wait, number, goodbye)
            case w.Leave(outcome=outcome):
                self._trail_leaving(call_id, outcome)
                return outcome
        return None

    def _trail_leaving(self, call_id: str, outcome: Closed | Overflow | Abandoned) -> None:
        match outcome:
            case Closed(queue=queue):
                self._trail(call_id, queue, "closed")
            case Overflow(queue=queue, reason=reason):
                self._trail(call_id, queue, "overflow", detail=reason)
            case Abandoned(queue=queue):
                self._trail(call_id, queue, "abandoned")

    async def _keep_place(
        self, wait: _Wait, number: str, goodbye: tuple[str, ...]
    ) -> CallbackScheduled:
        """The caller accepted a callback: the place is kept (stored first), the caller hears
        the goodbye, and the session ends the call."""
        request = CallbackRequest(
            call_id=wait.call.channel_id,
            queue=wait.queue,
            number=number,
            priority=wait.entry.priority,
            enqueued_at=wait.entry.enqueued_at,
            language=wait.call.language,
            context=dict(wait.context),
        )
        await self._callbacks.keep(request)
        await wait.player.play(goodbye)
        await wait.player.finish(self.timing.goodbye_s)
        return CallbackScheduled(wait.queue, request)

    def _assignment(self, queue: str, call_id: str) -> str | None:
        """The agent this call should ring now, if the policy gives it one."""
        if self._offers_held():
            return None
        for planned_call, agent_id in plan_offers(self._plannable(queue), self.agents.agents()):
            if planned_call == call_id:
                return agent_id
        return None

    def _plannable(self, queue: str) -> list[QueuedCall]:
        """Calls that may take an agent: callback places only while a callback can be made."""
        cfg = self.config.queues[queue]
        callbacks_possible = self._callbacks.can_dial and self._open(cfg, self._clock())
        return [
            c
            for c in self._waiting[queue].values()
            if callbacks_possible or not self._callbacks.holds(c.call_id)
        ]

    # ------------------------------------------------------------------ talking

    async def talk(
        self, call: CallHandle, answered: Answered, *, agent_up: bool = True
    ) -> Literal["caller", "agent"]:
        """Run an answered call to its end: when either side hangs up, hang up the other,
        destroy the bridge and start the agent's wrap-up. Returns who hung up first.
        `agent_up` False: the agent's leg is already gone (`resume_talk` found so)."""
        wrap_up_s = self.queue_config(answered.queue).wrap_up_s
        return await self._offers.talk(call, answered, wrap_up_s, agent_up=agent_up)

    async def resume_talk(self, call: CallHandle, answered: Answered) -> bool:
        """After an engine restart, for a caller who was talking to an agent: follow the agent's
        leg again and count the agent as on this call. False if the agent hung up while no
        engine was running (then `talk` ends the caller's side too)."""
        return await self._offers.resume_talk(call, answered)

    # ------------------------------------------------------------------ callbacks

    async def run(self) -> None:
        """Background loop (one named task per engine): hands due callbacks to `dial_back`.
        A callback is due when the policy would give its place an agent now."""
        while True:
            await self.agents.changed(self.timing.tick_s)
            await self.dispatch_callbacks()

    async def dispatch_callbacks(self) -> None:
        if not self._callbacks.can_dial or self._offers_held():
            return
        agents = self.agents.agents()
        for queue in self._waiting:
            await self._callbacks.dial_due(queue, plan_offers(self._plannable(queue), agents))

    async def settled(self) -> None:
        """Wait until every callback state change so far is in the store."""
        await self._callbacks.settled()

    async def restore_callbacks(self) -> int:
        """At engine start: callers who were to be called back get their places again."""
        return await self._callbacks.restore()

    async def restore_dialing(self) -> list[CallbackRequest]:
        """At engine start: call backs the last engine was placing. Their places are held (at
        the head, never dialled again) until the router learns whether the ringing call is
        answered (`serve_callback`) or not (`callback_failed`)."""
        return await self._callbacks.restore_dialing()

    def callback_failed(self, request: CallbackRequest, reason: str) -> None:
        """The engine could not reach the caller: the place is given up (no second attempt)."""
        self._callbacks.failed(request, reason)

    async def serve_callback(self, call: CallHandle, request: CallbackRequest) -> QueueOutcome:
        """In the session of the answered callback call: greet, then wait at the caller's old
        place (normally the head) for the next agent. No second callback offer."""
        self._callbacks.served(request)
        cfg = self.queue_config(request.queue)
        entry = QueuedCall(
            call.channel_id, request.enqueued_at, request.priority, frozenset(cfg.skills)
        )
        state = w.called_back(
            request.queue, request.enqueued_at, self._clock(), call.language, call.caller_number
        )
        # as the state has it (greeted, no announcement at once, no callback offer): a restart
        # goes on from there
        membership = Membership(
            request.queue,
            request.priority,
            request.enqueued_at,
            announced_at=state.last_announced,
            callback_offered=True,
            called_back=True,
        )
        await call.remember(QUEUE.name, QUEUE.encode(membership))
        self._trail(call.channel_id, request.queue, "callback_answered", detail=request.call_id)
        return await self._hold(call, entry, state, request.context)


def _membership(text: str) -> Membership | None:
    """The queue place a call kept (None: none, or unreadable: the caller is not queued)."""
    kept = QUEUE.decode(text)
    if kept.problem:
        log.warning("kept queue place unreadable, ignored: %s", kept.problem)
    return kept.value


@dataclass(frozen=True, slots=True)
class _Wait:
    """One caller's wait as the shell carries it out: the call, its place, the prompt player
    and what the caller entered in the IVR (for a callback's screen-pop)."""

    call: CallHandle
    queue: str
    cfg: QueueConfig
    entry: QueuedCall
    player: PromptPlayer
    context: Mapping[str, str]


async def _say(player: PromptPlayer, prompts: tuple[str, ...]) -> w.PlaybackDone | None:
    """Play; a prompt that could not be played counts as ended at once."""
    return None if await player.play(prompts) else w.PlaybackDone()
