"""Putting a waiting caller through to an agent: ring the agent's phone (`routing.legs`), keep
the agent's state right whatever happens (answered, rang out, rejected on the console, the
caller hung up, the session was cancelled), move the caller from the holding bridge into a
fresh mixing bridge with the agent, and run that conversation to its end (then the agent's
wrap-up starts).

Reject: the agent's `Decline` (`routing.commands`) arrives in the caller's inbox while the phone
rings; the ringing leg is hung up, the agent is ready again at once (no pause: they chose to
stay available) and the caller keeps their place, offered to the next ready agent. The agent is
not offered this call again for the rest of its wait (`QueuedCall.declined_by`), so a reject
really passes the call on; other calls reach them as usual. If every agent declines it, the
call waits for the next agent to become free (or the queue's own overflow).

Take-over: the ringing leg is kept on the caller (`HOTLINE_OFFER`) before the phone rings, so
an engine that re-adopts the caller follows the same ring (`resume`): the agent's phone rings
on, and answering it connects the caller, trailed `answered` once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Literal, TypeAlias

from ivr.ari.models import Channel
from ivr.calls.codec import OFFER, Ringing
from ivr.calls.handle import CallHandle
from ivr.errors import AriError
from routing.agents import AgentPool, Clock
from routing.commands import Decline, StaffCommand
from routing.config import QueueConfig
from routing.legs import Leg, RingResult, end_quietly, hang_up_quietly, ring_leg
from routing.policy import NoAnswer, OfferWithdrawn, QueuedCall, Reject
from routing.ports import RoutingAri
from routing.queues.conversation import Conversation, Ended
from routing.queues.membership import Places
from routing.queues.outcomes import Abandoned, Answered, Trail

log = logging.getLogger(__name__)

_Placed: TypeAlias = Literal["new", "ringing", "up"]
"""The agent's leg: to be placed now, or placed by a previous engine and ringing, or answered."""


class AgentOffers:
    def __init__(
        self,
        agents: AgentPool,
        ari: RoutingAri,
        places: Places,
        trail: Trail,
        clock: Clock,
        *,
        ring_grace_s: float,
    ) -> None:
        self._agents = agents
        self._ari = ari
        self._places = places
        self._trail = trail
        self._clock = clock
        self._ring_grace_s = ring_grace_s

    async def offer(
        self, call: CallHandle, cfg: QueueConfig, queue: str, agent_id: str, entry: QueuedCall
    ) -> Answered | Abandoned | None:
        """Ring `agent_id` for this call. An answered offer bridges caller and agent; None means
        it rang out (the agent is paused "no answer") or the agent rejected it (ready again);
        either way the caller keeps the place."""
        call_id = call.channel_id
        # the place as it is now: it carries who declined this call already
        entry = self._places[queue].get(call_id, entry)
        self._agents.offer(agent_id, call_id)
        self._places[queue][call_id] = replace(entry, offered_to=agent_id)
        self._trail(call_id, queue, "offered", agent_id=agent_id)
        return await self._ring(call, cfg, queue, agent_id, call.new_id("agent"), entry, "new")

    async def resume(
        self, call: CallHandle, cfg: QueueConfig, queue: str, ringing: Ringing, entry: QueuedCall
    ) -> Answered | Abandoned | None:
        """After an engine restart, for a re-adopted caller whose agent's phone was ringing
        (`HOTLINE_OFFER`): follow that ring as if this engine had placed it, so the agent who
        answers talks to the caller. None: the phone stopped ringing during the take-over (an
        answer while no engine was connected fails in Asterisk), or the agent is no longer
        ready (then it stops ringing); the caller keeps the place, at the head by its enqueue
        time, and is offered afresh."""
        call_id, agent_id, leg = call.channel_id, ringing.agent, ringing.leg
        # (the caller claimed the leg first thing on rejoining: the answer may come any moment)
        channel: Channel | None
        try:
            channel = await self._ari.get_channel(leg)
        except AriError:
            channel = None
        if (
            channel is None
            or agent_id not in self._agents
            or self._agents.state(agent_id).status != "ready"
        ):
            call.release(leg)
            if channel is not None:
                await hang_up_quietly(self._ari, leg)
            await call.remember(OFFER.name, "")
            log.info("the agent's phone stopped ringing in the restart: the caller waits on")
            return None
        entry = self._places[queue].get(call_id, entry)
        self._agents.offer(agent_id, call_id)
        self._places[queue][call_id] = replace(entry, offered_to=agent_id)
        self._trail(call_id, queue, "offer_resumed", agent_id=agent_id)
        # answered during the take-over, once this engine was connected: it is in our app
        placed: _Placed = "up" if channel.state == "Up" else "ringing"
        return await self._ring(call, cfg, queue, agent_id, leg, entry, placed)

    async def _ring(
        self,
        call: CallHandle,
        cfg: QueueConfig,
        queue: str,
        agent_id: str,
        leg: str,
        entry: QueuedCall,
        placed: _Placed,
    ) -> Answered | Abandoned | None:
        call_id = call.channel_id
        result: RingResult = "caller_gone"
        try:
            if placed == "new":
                # kept before the phone rings: an engine that takes over follows this ring
                # instead of hanging up on the agent who answers it and ringing them again
                await call.remember(OFFER.name, OFFER.encode(Ringing(agent_id, leg)))
            if placed == "up":
                result = "answered"
            else:
                spec = Leg(
                    self._agents.endpoint(agent_id),
                    leg,
                    "agent",
                    cfg.ring_timeout_s,
                    f"agent {agent_id}",
                )
                result = await ring_leg(
                    call,
                    self._ari,
                    spec,
                    grace_s=self._ring_grace_s,
                    stop=_declined_by(agent_id),
                    ringing=placed == "ringing",
                )
        finally:
            if result != "answered":
                self._withdraw(queue, entry, agent_id, result)
        waited = (self._clock() - entry.enqueued_at).total_seconds()
        if result != "answered":
            # (not on cancellation or `Detached`: the next engine follows the ring)
            await call.remember(OFFER.name, "")
        if result == "caller_gone":
            self._trail(call_id, queue, "abandoned", agent_id=agent_id)
            return Abandoned(queue, waited)
        if result == "stopped":
            self._trail(call_id, queue, "rejected", agent_id=agent_id)
            return None
        if result == "no_answer":
            self._trail(call_id, queue, "no_answer", agent_id=agent_id)
            return None
        answered = await self._bridge(call, queue, agent_id, leg, waited)
        # after the bridge, so the agent is not kept waiting for the write; the conversation
        # is kept from here on (`HOTLINE_TALK`)
        await call.remember(OFFER.name, "")
        if isinstance(answered, Answered):
            return replace(answered, enqueued_at=entry.enqueued_at, priority=entry.priority)
        return answered

    def _withdraw(self, queue: str, entry: QueuedCall, agent_id: str, result: RingResult) -> None:
        if entry.call_id in self._places[queue]:
            declined = entry.declined_by | {agent_id} if result == "stopped" else entry.declined_by
            self._places[queue][entry.call_id] = replace(entry, declined_by=declined)
        if self._agents.state(agent_id).status == "offered":
            # also on cancellation: never leave an agent stuck as offered
            self._agents.apply(agent_id, _withdrawal(result))

    async def _bridge(
        self, call: CallHandle, queue: str, agent_id: str, leg: str, waited: float
    ) -> Answered | Abandoned:
        call_id = call.channel_id
        self._agents.answered(agent_id)
        bridge_id = call.new_id("bridge")
        try:
            await self._ari.create_bridge(bridge_id, "mixing", f"queue {queue}")
            # adding a caller who sits in the holding bridge moves it (same instant)
            await self._ari.add_to_bridge(bridge_id, call_id)
            await self._ari.add_to_bridge(bridge_id, leg)
        except AriError:
            # the caller hung up in the instant the agent answered
            await end_quietly(self._ari, leg, bridge_id)
            self._agents.call_ended(agent_id, 0)
            self._trail(call_id, queue, "abandoned", agent_id=agent_id)
            return Abandoned(queue, waited)
        self._trail(call_id, queue, "answered", agent_id=agent_id)
        return Answered(queue, agent_id, leg, bridge_id)

    async def talk(
        self, call: CallHandle, answered: Answered, wrap_up_s: int, *, agent_up: bool = True
    ) -> Literal["caller", "agent"]:
        """Run an answered call to its end (see `QueueService.talk`): a plain conversation,
        no hand-overs (the ACD router's `Conversation` has them)."""
        conversation = Conversation(
            self._ari, self._agents, self._trail, lambda agent, _c, _q, s: self._wrap(agent, s)
        )
        end = await conversation.run(call, answered, wrap_up_s, agent_up=agent_up)
        return end.first if isinstance(end, Ended) else "agent"

    def _wrap(self, agent_id: str, wrap_up_s: float) -> None:
        self._agents.call_ended(agent_id, wrap_up_s)

    async def resume_talk(self, call: CallHandle, answered: Answered) -> bool:
        """Follow a conversation found after a restart (see `QueueService.resume_talk`)."""
        call.claim(answered.agent_channel_id)
        try:
            await self._ari.get_channel(answered.agent_channel_id)
        except AriError:
            return False
        agent_id = answered.agent_id
        if agent_id in self._agents and self._agents.state(agent_id).status == "ready":
            self._agents.offer(agent_id, call.channel_id)
            self._agents.answered(agent_id)
        self._trail(call.channel_id, answered.queue, "talk_resumed", agent_id=agent_id)
        return True


def _declined_by(agent_id: str) -> Callable[[object], bool]:
    """While the phone rings: the agent's own reject ends it; other console commands are
    answered (the agent is not on the call yet)."""

    def stop(item: object) -> bool:
        if not isinstance(item, StaffCommand):
            return False
        mine = isinstance(item, Decline) and item.agent_id == agent_id
        item.answer("ok" if mine else "not_on_call")
        return mine

    return stop


def _withdrawal(result: RingResult) -> NoAnswer | OfferWithdrawn | Reject:
    if result == "caller_gone":
        return OfferWithdrawn()
    if result == "stopped":
        return Reject()
    return NoAnswer()
