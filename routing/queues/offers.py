"""Putting a waiting caller through to an agent: ring the agent's phone (`routing.legs`), keep
the agent's state right whatever happens (answered, rang out, the caller hung up, the session
was cancelled), move the caller from the holding bridge into a fresh mixing bridge with the
agent, and run that conversation to its end (then the agent's wrap-up starts)."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from ivr.calls.handle import CallHandle
from ivr.errors import AriError, Detached
from routing.agents import AgentPool, Clock
from routing.config import QueueConfig
from routing.legs import Leg, RingResult, end_quietly, ring_leg, talk_until_hangup
from routing.policy import NoAnswer, OfferWithdrawn, QueuedCall
from routing.ports import RoutingAri
from routing.queues.membership import Places
from routing.queues.outcomes import Abandoned, Answered, Trail


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
        it rang out (the agent is paused "no answer", the caller keeps the place)."""
        call_id = call.channel_id
        self._agents.offer(agent_id, call_id)
        self._places[queue][call_id] = replace(entry, offered_to=agent_id)
        self._trail(call_id, queue, "offered", agent_id=agent_id)
        leg = call.new_id("agent")
        result: RingResult = "caller_gone"
        try:
            spec = Leg(
                self._agents.endpoint(agent_id),
                leg,
                "agent",
                cfg.ring_timeout_s,
                f"agent {agent_id}",
            )
            result = await ring_leg(call, self._ari, spec, grace_s=self._ring_grace_s)
        finally:
            if result != "answered":
                self._withdraw(queue, entry, agent_id, result)
        waited = (self._clock() - entry.enqueued_at).total_seconds()
        if result == "caller_gone":
            self._trail(call_id, queue, "abandoned", agent_id=agent_id)
            return Abandoned(queue, waited)
        if result == "no_answer":
            self._trail(call_id, queue, "no_answer", agent_id=agent_id)
            return None
        return await self._bridge(call, queue, agent_id, leg, waited)

    def _withdraw(self, queue: str, entry: QueuedCall, agent_id: str, result: RingResult) -> None:
        if entry.call_id in self._places[queue]:
            self._places[queue][entry.call_id] = entry
        if self._agents.state(agent_id).status == "offered":
            # also on cancellation: never leave an agent stuck as offered
            self._agents.apply(
                agent_id, OfferWithdrawn() if result == "caller_gone" else NoAnswer()
            )

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
        """Run an answered call to its end (see `QueueService.talk`)."""
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
                if agent_id in self._agents and self._agents.state(agent_id).status == "on_call":
                    self._agents.call_ended(agent_id, wrap_up_s)
                self._trail(call.channel_id, answered.queue, "call_ended", detail=first)
        return first

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
