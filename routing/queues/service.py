"""The ACD on ARI holding bridges: callers wait in a queue's holding bridge (music on hold for the
whole bridge), hear their position and expected wait, are offered to agents, and are moved into a
fresh mixing bridge with the agent who answers.

`QueueService.wait` runs inside the caller's session task and reads only that call's inbox
(`CallHandle.next_event`); agent legs are `claim`ed so their events arrive there too. All
decisions come from `routing.policy`: which call goes to which agent (`plan_offers`, evaluated by
each waiting caller on every tick, so no separate dispatcher races the callers), overflow, the
announcement schedule and the callback offer. Queue membership (queue, priority, enqueue time) is
kept in the call memory (`HOTLINE_QUEUE`) so an engine that restarts and re-adopts waiting
callers rebuilds the same order (`restore` + `rejoin`).

Virtual hold: a caller who accepts the callback offer hangs up but keeps the place. When that
place would get an agent, `run` (one background task per engine) hands a `CallbackRequest` to the
engine's `dial_back` (once, only while the queue's calendar is open); the engine calls the number
and, once answered, runs `serve_callback` in the new call's session, which waits at the head of
the queue and connects the next free agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from ivr.ari.models import ChannelDtmfReceived, PlaybackFinished
from ivr.callerid import normalise_number
from ivr.calls.handle import CallHandle
from ivr.calls.memory import CallMemory
from ivr.domain import utc_now
from ivr.errors import AriError, Detached
from ivr.flow.say import number_prompts, say_prompts
from routing.agents import AgentPool, Clock
from routing.config import QueueConfig, RoutingConfig
from routing.hours import Calendar
from routing.legs import Leg, RingResult, end_quietly, is_gone, ring_leg, talk_until_hangup
from routing.policy import (
    NoAnswer,
    OfferWithdrawn,
    QueuedCall,
    admit,
    announced_minutes,
    announcement_due,
    callback_eligible,
    expected_wait_s,
    keep_waiting,
    order_queue,
    plan_offers,
    position_of,
)
from routing.ports import CallbackStore, RoutingAri
from routing.queues.callbacks import VirtualHold
from routing.queues.holding import HoldingBridges
from routing.queues.membership import QUEUE_VAR, Places, encode_membership, parse_membership
from routing.queues.outcomes import (
    Abandoned,
    Answered,
    CallbackRequest,
    CallbackScheduled,
    Closed,
    DialBack,
    Overflow,
    QueueEvent,
    QueueOutcome,
    QueueTiming,
    Trail,
    UnknownQueue,
)

log = logging.getLogger(__name__)

CALLBACK_KEY = "1"
CONFIRM_KEY = "1"
DECLINE_KEY = "2"
OTHER_NUMBER_KEY = "3"
END_OF_NUMBER_KEY = "#"
CANCEL_ENTRY_KEY = "*"
# a caller keying a call-back number: the entry ends this long after the last key (and the digits
# so far count as the number, since many callers forget the hash key)
CALLBACK_ENTRY_TIMEOUT_S = 8.0
# Japanese numbers are at most 11 digits nationally; a few more for a caller who adds 81
CALLBACK_NUMBER_MAX_DIGITS = 15
# after this many unusable numbers the caller simply keeps waiting
CALLBACK_ENTRY_TRIES = 2

PROMPTS: frozenset[str] = frozenset(
    {
        "queue-position",
        "queue-position-end",
        "queue-wait",
        "queue-wait-minutes",
        "queue-callback-offer",
        "queue-callback-confirm",
        "queue-callback-confirm-keys",
        "queue-callback-scheduled",
        "queue-callback-hello",
        "queue-callback-enter-number",
        "queue-callback-number-invalid",
        "queue-keep-waiting",
    }
)
"""Prompt ids the queue plays (plus `num-*` and `digit-*` from `ivr.flow.say`)."""

DEFAULT_TIMING = QueueTiming()


def usable_callback_number(digits: str) -> bool:
    """A number we can call back: a valid Japanese (or +81) phone number, keyed nationally."""
    return normalise_number(digits) is not None


@dataclass
class _Waiter:
    """A waiting caller's private state inside `_hold`."""

    entry: QueuedCall
    since: datetime
    last_announced: datetime | None = None
    callback_offered: bool = False
    confirming: bool = False
    # the number a confirmation reads back (the caller ID, or one the caller keyed)
    callback_number: str = ""
    # keying a call-back number: digits so far, and when the entry times out (loop time)
    entering: bool = False
    keyed: str = ""
    entry_deadline: float = 0.0
    entry_failures: int = 0
    playback: str | None = None
    greeting: tuple[str, ...] = ()

    @property
    def busy_with_callback(self) -> bool:
        """The caller is answering the call-back questions: no announcements meanwhile."""
        return self.confirming or self.entering


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
        dial_back: DialBack | None = None,
        callback_store: CallbackStore | None = None,
    ) -> None:
        self.config = config
        self.agents = agents
        self._ari = ari
        self._calendars = calendars
        self._clock = clock
        self.timing = timing
        self._trail = Trail(clock, on_event)
        self._waiting: Places = {name: {} for name in config.queues}
        skills = {name: frozenset(q.skills) for name, q in config.queues.items()}
        self._callbacks = VirtualHold(
            self._waiting, self._trail, skills, dial_back=dial_back, store=callback_store
        )
        self._bridges = HoldingBridges(ari, prefix=timing.bridge_prefix, moh_class=timing.moh_class)
        self._hold_offers_until = 0.0

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
    ) -> QueueOutcome:
        """Queue the caller until an agent answers, or another outcome. The caller must be
        answered and not in a bridge. Run inside the caller's session task."""
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
        entry = QueuedCall(call.channel_id, now, priority, frozenset(cfg.skills))
        await call.remember(QUEUE_VAR, encode_membership(queue, priority, now))
        self._trail(call.channel_id, queue, "enqueued", detail=str(priority))
        return await self._hold(call, queue, entry, _Waiter(entry, now), context or {})

    async def restore(self, channel_ids: list[str], memory: CallMemory) -> int:
        """After an engine restart, before sessions resume: put every re-adopted caller that
        was waiting back in its queue (from `HOTLINE_QUEUE` in the call memory), so positions
        are right from the first announcement. Returns how many were restored."""
        restored = 0
        for channel_id in channel_ids:
            membership = parse_membership(await memory.recall(channel_id, QUEUE_VAR))
            if membership is None or membership[0] not in self._waiting:
                continue
            queue, priority, enqueued_at = membership
            skills = frozenset(self.config.queues[queue].skills)
            self._waiting[queue][channel_id] = QueuedCall(channel_id, enqueued_at, priority, skills)
            restored += 1
        if restored:
            self._hold_offers()
        return restored

    async def rejoin(
        self, call: CallHandle, context: Mapping[str, str] | None = None
    ) -> QueueOutcome | None:
        """For a re-adopted call: if it was waiting in a queue, wait again with its old place
        (same priority and enqueue time). None if the call was not queued."""
        membership = parse_membership(await call.recall(QUEUE_VAR))
        if membership is None:
            return None
        queue, priority, enqueued_at = membership
        cfg = self.queue_config(queue)
        entry = QueuedCall(call.channel_id, enqueued_at, priority, frozenset(cfg.skills))
        if call.channel_id not in self._waiting[queue]:
            self._hold_offers()
        self._trail(call.channel_id, queue, "rejoined")
        return await self._hold(call, queue, entry, _Waiter(entry, self._clock()), context or {})

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
        queue: str,
        entry: QueuedCall,
        waiter: _Waiter,
        context: Mapping[str, str],
    ) -> QueueOutcome:
        cfg = self.queue_config(queue)
        call_id = call.channel_id
        self._waiting[queue][call_id] = entry
        bridge_id = await self._bridges.enter(queue, call_id)
        outcome: QueueOutcome | None = None
        try:
            outcome = await self._wait_loop(call, queue, cfg, waiter, context)
            return outcome
        finally:
            if outcome is not None:
                await self._leave(call, queue, bridge_id, outcome)

    async def _leave(
        self, call: CallHandle, queue: str, bridge_id: str, outcome: QueueOutcome
    ) -> None:
        if not isinstance(outcome, CallbackScheduled):
            self._waiting[queue].pop(call.channel_id, None)
        if isinstance(outcome, Overflow | Closed):
            await self._bridges.leave(bridge_id, call.channel_id)
        if not isinstance(outcome, Abandoned):
            with contextlib.suppress(AriError):
                await call.remember(QUEUE_VAR, "")

    async def _wait_loop(
        self,
        call: CallHandle,
        queue: str,
        cfg: QueueConfig,
        waiter: _Waiter,
        context: Mapping[str, str],
    ) -> QueueOutcome:
        call_id = call.channel_id
        while True:
            now = self._clock()
            waited_s = (now - waiter.entry.enqueued_at).total_seconds()
            staffed, ready = self.agents.staffing(cfg.skills)
            if not self._open(cfg, now):
                self._trail(call_id, queue, "closed")
                return Closed(queue)
            check = keep_waiting(cfg, waited_s=waited_s, staffed=staffed)
            if check.decision != "stay":
                self._trail(call_id, queue, "overflow", detail=check.reason)
                return Overflow(queue, check.reason, refused=check.decision == "refuse")
            # no ready agent with the queue's skills: no offer to plan (the plan sorts the queue,
            # and every waiting caller asks several times a second)
            agent_id = self._assignment(queue, call_id) if ready else None
            if agent_id is not None:
                await self._stop_playback(waiter)
                result = await self._offer(call, queue, cfg, agent_id, waiter)
                if result is not None:
                    return result
                continue
            if waiter.greeting and waiter.playback is None:
                await self._play(call, waiter, list(waiter.greeting))
                waiter.greeting = ()
            elif (
                not self._offers_held()
                and waiter.playback is None
                and not waiter.busy_with_callback
            ):
                due = announcement_due(cfg.announce, waiter.since, waiter.last_announced, now)
                # the place and the expected wait only when something will be said with them
                if due or (cfg.callback.enabled and not waiter.callback_offered):
                    position = self.position(queue, call_id)
                    ewt = expected_wait_s(position, staffed, ready, cfg.average_handle_s)
                    if due:
                        await self._announce(call, cfg, queue, waiter, position, ewt)
                    elif callback_eligible(
                        cfg.callback,
                        open_now=True,
                        waited_s=waited_s,
                        expected_wait=ewt,
                        already_offered=waiter.callback_offered,
                    ):
                        waiter.callback_offered = True
                        wait = "" if ewt is None else str(int(ewt))
                        self._trail(call_id, queue, "callback_offered", detail=wait)
                        await self._play(call, waiter, ["queue-callback-offer"])
            if (
                waiter.entering
                and waiter.playback is None
                and asyncio.get_running_loop().time() >= waiter.entry_deadline
            ):
                await self._number_keyed(call, waiter)
            event = await call.next_event(self.timing.tick_s)
            if event is None:
                continue
            if is_gone(event, call_id):
                self._trail(call_id, queue, "abandoned")
                return Abandoned(queue, waited_s)
            if isinstance(event, PlaybackFinished) and event.playback.id == waiter.playback:
                waiter.playback = None
                if waiter.entering and not waiter.keyed:
                    # the instruction ended: the caller has the whole time-out from now
                    loop_now = asyncio.get_running_loop().time()
                    waiter.entry_deadline = loop_now + CALLBACK_ENTRY_TIMEOUT_S
            elif isinstance(event, ChannelDtmfReceived) and event.channel.id == call_id:
                scheduled = await self._on_digit(call, queue, waiter, event.digit, context)
                if scheduled is not None:
                    return scheduled

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

    async def _play(self, call: CallHandle, waiter: _Waiter, prompt_ids: list[str]) -> None:
        playback_id = call.new_id("playback")
        waiter.playback = playback_id
        try:
            await self._ari.play(call.channel_id, [call.media(p) for p in prompt_ids], playback_id)
        except AriError:
            waiter.playback = None  # the caller is gone: the hangup event follows

    async def _stop_playback(self, waiter: _Waiter) -> None:
        if waiter.playback is not None:
            with contextlib.suppress(AriError):
                await self._ari.stop_playback(waiter.playback)
            waiter.playback = None

    async def _announce(
        self,
        call: CallHandle,
        cfg: QueueConfig,
        queue: str,
        waiter: _Waiter,
        position: int,
        ewt: float | None,
    ) -> None:
        waiter.last_announced = self._clock()
        prompts: list[str] = []
        if cfg.announce.position:
            prompts += ["queue-position", *number_prompts(position, call.language)]
            prompts.append("queue-position-end")
        if cfg.announce.expected_wait and ewt is not None:
            minutes = announced_minutes(ewt)
            prompts += ["queue-wait", *number_prompts(minutes, call.language)]
            prompts.append("queue-wait-minutes")
        if prompts:
            self._trail(call.channel_id, queue, "announced", detail=str(position))
            await self._play(call, waiter, prompts)

    async def _on_digit(
        self,
        call: CallHandle,
        queue: str,
        waiter: _Waiter,
        digit: str,
        context: Mapping[str, str],
    ) -> CallbackScheduled | None:
        if not waiter.callback_offered:
            return None
        if waiter.entering:
            await self._entry_key(call, waiter, digit)
            return None
        if not waiter.confirming:
            if digit == CALLBACK_KEY:
                await self._stop_playback(waiter)
                if call.caller_number:
                    await self._confirm_number(call, waiter, call.caller_number)
                else:
                    # no caller ID to call back: ask for a number
                    await self._start_entry(call, waiter)
            return None
        if digit == DECLINE_KEY:
            await self._stop_playback(waiter)
            waiter.confirming = False
            return None
        if digit == OTHER_NUMBER_KEY:
            await self._stop_playback(waiter)
            waiter.confirming = False
            await self._start_entry(call, waiter)
            return None
        if digit != CONFIRM_KEY:
            return None
        return await self._schedule_callback(call, queue, waiter, context)

    async def _confirm_number(self, call: CallHandle, waiter: _Waiter, number: str) -> None:
        waiter.confirming = True
        waiter.callback_number = number
        digits = say_prompts("digits", number, call.language)
        await self._play(
            call, waiter, ["queue-callback-confirm", *digits, "queue-callback-confirm-keys"]
        )

    async def _start_entry(
        self, call: CallHandle, waiter: _Waiter, before: tuple[str, ...] = ()
    ) -> None:
        waiter.entering = True
        waiter.keyed = ""
        # the time-out runs from the end of the instruction (see `_wait_loop`)
        waiter.entry_deadline = asyncio.get_running_loop().time() + CALLBACK_ENTRY_TIMEOUT_S
        await self._play(call, waiter, [*before, "queue-callback-enter-number"])

    async def _entry_key(self, call: CallHandle, waiter: _Waiter, digit: str) -> None:
        if digit == CANCEL_ENTRY_KEY:
            await self._stop_playback(waiter)
            waiter.entering = False
            return
        if digit == END_OF_NUMBER_KEY:
            await self._number_keyed(call, waiter)
            return
        if digit.isdigit() and len(waiter.keyed) < CALLBACK_NUMBER_MAX_DIGITS:
            if not waiter.keyed:
                await self._stop_playback(waiter)  # keying over the instruction
            waiter.keyed += digit
            waiter.entry_deadline = asyncio.get_running_loop().time() + CALLBACK_ENTRY_TIMEOUT_S

    async def _number_keyed(self, call: CallHandle, waiter: _Waiter) -> None:
        """The entry ended (hash key or time-out): read a usable number back for confirmation;
        otherwise say so, and ask again or let the caller keep waiting."""
        waiter.entering = False
        number = waiter.keyed
        waiter.keyed = ""
        await self._stop_playback(waiter)
        if number and usable_callback_number(number):
            await self._confirm_number(call, waiter, number)
            return
        waiter.entry_failures += 1
        if waiter.entry_failures < CALLBACK_ENTRY_TRIES:
            await self._start_entry(call, waiter, ("queue-callback-number-invalid",))
        else:
            await self._play(call, waiter, ["queue-callback-number-invalid", "queue-keep-waiting"])

    async def _schedule_callback(
        self,
        call: CallHandle,
        queue: str,
        waiter: _Waiter,
        context: Mapping[str, str],
    ) -> CallbackScheduled:
        await self._stop_playback(waiter)
        entry = waiter.entry
        request = CallbackRequest(
            call_id=call.channel_id,
            queue=queue,
            number=waiter.callback_number,
            priority=entry.priority,
            enqueued_at=entry.enqueued_at,
            language=call.language,
            context=dict(context),
        )
        await self._callbacks.keep(request)
        await self._play(call, waiter, ["queue-callback-scheduled"])
        await self._until_played(call, waiter)
        return CallbackScheduled(queue, request)

    async def _until_played(self, call: CallHandle, waiter: _Waiter) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timing.goodbye_s
        while waiter.playback is not None and loop.time() < deadline:
            event = await call.next_event(deadline - loop.time())
            if event is None or is_gone(event, call.channel_id):
                return
            if isinstance(event, PlaybackFinished) and event.playback.id == waiter.playback:
                waiter.playback = None

    # ------------------------------------------------------------------ offering

    async def _offer(
        self,
        call: CallHandle,
        queue: str,
        cfg: QueueConfig,
        agent_id: str,
        waiter: _Waiter,
    ) -> QueueOutcome | None:
        """Ring `agent_id` for this call. An answered offer bridges caller and agent; None means
        it rang out (the agent is paused "no answer", the caller keeps the place)."""
        call_id = call.channel_id
        self.agents.offer(agent_id, call_id)
        self._waiting[queue][call_id] = replace(waiter.entry, offered_to=agent_id)
        self._trail(call_id, queue, "offered", agent_id=agent_id)
        leg = call.new_id("agent")
        result: RingResult = "caller_gone"
        try:
            result = await self._ring(call, leg, agent_id, cfg)
        finally:
            if result != "answered":
                if call_id in self._waiting[queue]:
                    self._waiting[queue][call_id] = waiter.entry
                if self.agents.state(agent_id).status == "offered":
                    # also on cancellation: never leave an agent stuck as offered
                    self.agents.apply(agent_id, _withdrawn_or_no_answer(result))
        waited = (self._clock() - waiter.entry.enqueued_at).total_seconds()
        if result == "caller_gone":
            self._trail(call_id, queue, "abandoned", agent_id=agent_id)
            return Abandoned(queue, waited)
        if result == "no_answer":
            self._trail(call_id, queue, "no_answer", agent_id=agent_id)
            return None
        self.agents.answered(agent_id)
        bridge_id = call.new_id("bridge")
        try:
            await self._ari.create_bridge(bridge_id, "mixing", f"queue {queue}")
            # adding a caller who sits in the holding bridge moves it (same instant)
            await self._ari.add_to_bridge(bridge_id, call_id)
            await self._ari.add_to_bridge(bridge_id, leg)
        except AriError:
            # the caller hung up in the instant the agent answered
            await end_quietly(self._ari, leg, bridge_id)
            self.agents.call_ended(agent_id, 0)
            self._trail(call_id, queue, "abandoned", agent_id=agent_id)
            return Abandoned(queue, waited)
        self._trail(call_id, queue, "answered", agent_id=agent_id)
        return Answered(queue, agent_id, leg, bridge_id)

    async def _ring(
        self, call: CallHandle, leg: str, agent_id: str, cfg: QueueConfig
    ) -> RingResult:
        spec = Leg(
            self.agents.endpoint(agent_id), leg, "agent", cfg.ring_timeout_s, f"agent {agent_id}"
        )
        return await ring_leg(call, self._ari, spec, grace_s=self.timing.ring_grace_s)

    # ------------------------------------------------------------------ talking

    async def talk(
        self, call: CallHandle, answered: Answered, *, agent_up: bool = True
    ) -> Literal["caller", "agent"]:
        """Run an answered call to its end: when either side hangs up, hang up the other,
        destroy the bridge and start the agent's wrap-up. Returns who hung up first.
        `agent_up` False: the agent's leg is already gone (`resume_talk` found so)."""
        cfg = self.queue_config(answered.queue)
        first: Literal["caller", "agent"] = "caller" if agent_up else "agent"
        detached = False
        try:
            side = await talk_until_hangup(
                call, self._ari, answered.agent_channel_id, answered.bridge_id, leg_up=agent_up
            )
            first = "caller" if side == "caller" else "agent"
        except Detached:
            detached = True
            raise
        finally:
            if not detached:
                agent_id = answered.agent_id
                if agent_id in self.agents and self.agents.state(agent_id).status == "on_call":
                    self.agents.call_ended(agent_id, cfg.wrap_up_s)
                self._trail(call.channel_id, answered.queue, "call_ended", detail=first)
        return first

    async def resume_talk(self, call: CallHandle, answered: Answered) -> bool:
        """After an engine restart, for a caller who was talking to an agent: follow the agent's
        leg again and count the agent as on this call. False if the agent hung up while no
        engine was running (then `talk` ends the caller's side too)."""
        call.claim(answered.agent_channel_id)
        try:
            await self._ari.get_channel(answered.agent_channel_id)
        except AriError:
            return False
        agent_id = answered.agent_id
        if agent_id in self.agents and self.agents.state(agent_id).status == "ready":
            self.agents.offer(agent_id, call.channel_id)
            self.agents.answered(agent_id)
        self._trail(call.channel_id, answered.queue, "talk_resumed", agent_id=agent_id)
        return True

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
        await call.remember(
            QUEUE_VAR, encode_membership(request.queue, request.priority, request.enqueued_at)
        )
        self._trail(call.channel_id, request.queue, "callback_answered", detail=request.call_id)
        now = self._clock()
        waiter = _Waiter(
            entry,
            now,
            last_announced=now,
            callback_offered=True,
            greeting=("queue-callback-hello",),
        )
        return await self._hold(call, request.queue, entry, waiter, request.context)


def _withdrawn_or_no_answer(result: RingResult) -> NoAnswer | OfferWithdrawn:
    return OfferWithdrawn() if result == "caller_gone" else NoAnswer()
