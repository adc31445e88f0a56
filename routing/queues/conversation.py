"""The caller and the agent, from the answer to the moment the agent leaves the call: they talk
until either hangs up, or the agent hands the caller over from the console (`routing.commands`).

Runs inside the caller's session task and reads only its inbox, where the console's commands
arrive too. The hand-overs:

- to another queue, blind: the agent leaves at once, the caller joins that queue with the wait
  they already had (`ToQueue`; the receiving agent gets the same pop: it is the same call);
- to a department, blind: the agent leaves at once, the caller hears hold music while the
  department rings; answered: `ToDepartment`; not answered: back to the queue they came from,
  with their old place (`BackToQueue`) — never dropped;
- to a department, attended: the caller is held (music), the agent talks to the department in
  a consultation bridge, then Complete (or the agent hangs up: the same) hands the caller over,
  Cancel (or the department hanging up, or not answering) puts the caller back with the agent.
  The caller hanging up during the consultation ends it; the agent hanging up while the
  department still rings lets the department take the caller when it answers (else the queue).

The agent may put the caller on hold (`Hold`): the caller leaves the conversation's bridge and
hears music on hold on their own channel, the agent's leg stays up alone in the bridge; Resume
puts the caller back. Each hold is a `hold_started` / `hold_ended` pair on the trail (the
reports' hold time); a hang-up while held closes it. The hold is kept with the talk on the
caller's channel (`HOTLINE_TALK`'s `held_since`): a restarted engine keeps the caller on music
and the agent can still resume. A transfer waits for Resume (`on_hold`): an attended one
consults from the bridge the caller is in.

Whenever the agent leaves — a hang-up or a hand-over — their wrap-up starts (`wrap_up`) and the
trail says `call_ended` (detail: who hung up, or `transferred`). Cleanup is shielded: a
cancelled session still ends its legs in Asterisk; on `Detached` (the engine stops) nothing is
ended and the next engine follows the conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ivr.calls.codec import TALK, Talk
from ivr.calls.handle import CallHandle
from ivr.domain import utc_now
from ivr.errors import AriError, Detached
from routing.agents import AgentPool
from routing.commands import (
    CallDesk,
    CancelTransfer,
    CompleteTransfer,
    Decline,
    Hold,
    Reply,
    StaffCommand,
    Transfer,
)
from routing.legs import TALK_POLL_S, end_quietly, is_gone
from routing.ports import RoutingAri
from routing.queues.outcomes import Answered, Trail
from routing.transfer import Consultation, TransferResult, TransferService

WrapUp = Callable[[str, str, str, float], None]
"""(agent, call id, queue, wrap_up_s): the agent left the call, their wrap-up starts."""


@dataclass(frozen=True, slots=True)
class Ended:
    """The conversation is over: `first` hung up, the other side was hung up."""

    first: Literal["caller", "agent"]


@dataclass(frozen=True, slots=True)
class ToDepartment:
    """The caller talks to the department's leg `channel_id` in `bridge_id`; the agent left."""

    department: str
    channel_id: str
    bridge_id: str


@dataclass(frozen=True, slots=True)
class ToQueue:
    """The agent passed the caller to `queue`; the caller waits there next."""

    queue: str


@dataclass(frozen=True, slots=True)
class BackToQueue:
    """A blind transfer found nobody after the agent left: the caller goes back to `queue`."""

    queue: str


TalkEnd = Ended | ToDepartment | ToQueue | BackToQueue


@dataclass
class _Talk:
    answered: Answered
    wrap_up_s: float
    left: bool = False  # the agent is out of the call (wrap-up started)
    held_since: datetime | None = None  # the caller is on hold (out of the bridge, on music)

    @property
    def agent(self) -> str:
        return self.answered.agent_id

    @property
    def leg(self) -> str:
        return self.answered.agent_channel_id


class Conversation:
    def __init__(
        self,
        ari: RoutingAri,
        agents: AgentPool,
        trail: Trail,
        wrap_up: WrapUp,
        *,
        transfers: TransferService | None = None,
        desk: CallDesk | None = None,
        queue_takes: Callable[[str], Reply] | None = None,
        poll_s: float = TALK_POLL_S,
        moh_class: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._ari = ari
        self._agents = agents
        self._trail = trail
        self._wrap_up = wrap_up
        self._transfers = transfers
        self._desk = desk
        self._queue_takes = queue_takes
        self._poll_s = poll_s
        self._moh_class = moh_class
        self._clock = clock
        #: the calls whose caller is on hold now: call id -> since when (the wallboard's)
        self.held: dict[str, datetime] = {}

    async def run(
        self,
        call: CallHandle,
        answered: Answered,
        wrap_up_s: float,
        *,
        agent_up: bool = True,
        held_since: datetime | None = None,
    ) -> TalkEnd:
        """Run the answered call until the agent is out of it. `agent_up` False: the agent's
        leg is already gone (found so after a restart), the caller's side is ended at once.
        `held_since`: the caller was put on hold then (a restarted engine's talk)."""
        talk = _Talk(answered, wrap_up_s, held_since=held_since)
        end: TalkEnd = Ended("caller" if agent_up else "agent")
        detached = False
        if held_since is not None:
            self.held[call.channel_id] = held_since
        try:
            if agent_up and held_since is not None:
                # the music went on in Asterisk while no engine ran; started again in case
                # anything stopped it meanwhile (never dead air for a held caller)
                await self._music(call.channel_id)
            if agent_up:
                end = await self._talk(call, talk)
        except Detached:
            detached = True
            raise
        finally:
            self.held.pop(call.channel_id, None)
            if not detached:
                await asyncio.shield(self._finish(call, talk, end))
        return end

    async def _talk(self, call: CallHandle, talk: _Talk) -> TalkEnd:
        while True:
            event = await call.next_event(self._poll_s)
            if is_gone(event, call.channel_id):
                return Ended("caller")
            if is_gone(event, talk.leg):
                return Ended("agent")
            if isinstance(event, StaffCommand):
                end = await self._command(call, talk, event)
                if end is not None:
                    return end

    async def _finish(self, call: CallHandle, talk: _Talk, end: TalkEnd) -> None:
        call.release(talk.leg)
        if talk.left:
            return
        first = end.first if isinstance(end, Ended) else "caller"
        if talk.held_since is not None:
            # the hang-up ends the hold: its interval closes on the trail
            talk.held_since = None
            self._trail(
                call.channel_id,
                talk.answered.queue,
                "hold_ended",
                agent_id=talk.agent,
                detail=first,
            )
        other = talk.leg if first == "caller" else call.channel_id
        await end_quietly(self._ari, other, talk.answered.bridge_id)
        self._leave(call, talk, first)

    def _leave(self, call: CallHandle, talk: _Talk, detail: str) -> None:
        """The agent is out of the call: wrap-up, and the trail says so."""
        talk.left = True
        agent, call_id = talk.agent, call.channel_id
        if agent in self._agents:
            state = self._agents.state(agent)
            if state.status == "on_call" and state.call_id == call_id:
                self._wrap_up(agent, call_id, talk.answered.queue, talk.wrap_up_s)
        self._trail(call_id, talk.answered.queue, "call_ended", agent_id=agent, detail=detail)

    async def _let_go(self, call: CallHandle, talk: _Talk) -> None:
        """Hand-over: the agent's leg and the conversation's bridge end; the caller stays."""
        call.release(talk.leg)
        await end_quietly(self._ari, talk.leg, talk.answered.bridge_id)
        self._leave(call, talk, "transferred")

    # ------------------------------------------------------------------ commands

    async def _command(
        self, call: CallHandle, talk: _Talk, command: StaffCommand
    ) -> TalkEnd | None:
        if command.agent_id != talk.agent:
            command.answer("not_on_call")
            return None
        if isinstance(command, Decline):
            command.answer("not_ringing")
            return None
        if isinstance(command, Hold):
            await self._hold(call, talk, command)
            return None
        if not isinstance(command, Transfer):
            command.answer("no_consultation")
            return None
        if talk.held_since is not None:
            command.answer("on_hold")
            return None
        verdict = await self._reachable(command)
        if verdict != "ok":
            command.answer(verdict)
            return None
        command.answer("ok")
        where = f"{command.mode} {command.kind}:{command.target}"
        self._trail(
            call.channel_id,
            talk.answered.queue,
            "transfer_requested",
            agent_id=talk.agent,
            detail=where,
        )
        if command.kind == "queue":
            await self._let_go(call, talk)
            self._trail(
                call.channel_id,
                talk.answered.queue,
                "transferred",
                agent_id=talk.agent,
                detail=f"queue:{command.target}",
            )
            return ToQueue(command.target)
        if command.mode == "blind":
            return await self._blind(call, talk, command.target)
        return await self._attended(call, talk, command.target)

    # ------------------------------------------------------------------ hold

    async def _hold(self, call: CallHandle, talk: _Talk, command: Hold) -> None:
        held = talk.held_since is not None
        if command.on == held:
            command.answer("on_hold" if held else "not_on_hold")
            return
        caller, bridge = call.channel_id, talk.answered.bridge_id
        try:
            if command.on:
                # out of the bridge first: music on a bridged channel would be mixed with
                # the agent's voice; the agent's leg stays up alone in the bridge
                await self._ari.remove_from_bridge(bridge, caller)
                try:
                    await self._ari.start_moh(caller, self._moh_class)
                except AriError:
                    # no music: back with the agent rather than left in silence
                    with contextlib.suppress(AriError):
                        await self._ari.add_to_bridge(bridge, caller)
                    raise
            else:
                with contextlib.suppress(AriError):
                    await self._ari.stop_moh(caller)
                await self._ari.add_to_bridge(bridge, caller)
        except AriError:
            # the caller hung up in that instant: their hang-up event ends the talk next
            command.answer("too_late")
            return
        talk.held_since = self._clock() if command.on else None
        if talk.held_since is None:
            self.held.pop(caller, None)
        else:
            self.held[caller] = talk.held_since
        self._trail(
            caller,
            talk.answered.queue,
            "hold_started" if command.on else "hold_ended",
            agent_id=talk.agent,
        )
        command.answer("ok")
        await self._keep(call, talk)

    async def _music(self, channel_id: str) -> None:
        with contextlib.suppress(AriError):  # the caller hung up: nobody to play to
            await self._ari.start_moh(channel_id, self._moh_class)

    async def _keep(self, call: CallHandle, talk: _Talk) -> None:
        """The talk as a restarted engine must find it (`HOTLINE_TALK`, with the hold)."""
        a = talk.answered
        kept = Talk(a.queue, a.agent_id, a.agent_channel_id, a.bridge_id, talk.held_since)
        with contextlib.suppress(AriError):  # the caller hung up: the talk ends at once anyway
            await call.remember(TALK.name, TALK.encode(kept))

    async def _reachable(self, command: Transfer) -> Reply:
        if command.kind == "queue":
            return self._queue_takes(command.target) if self._queue_takes else "unknown_target"
        if self._transfers is None:
            return "unknown_target"
        return await self._transfers.reachable(command.target)

    async def _blind(self, call: CallHandle, talk: _Talk, department: str) -> TalkEnd:
        assert self._transfers is not None  # noqa: S101 — _reachable checked it
        await self._let_go(call, talk)
        result = await self._transfers.blind(call, department, context=call.context)
        if result.status == "connected" and result.channel_id and result.bridge_id:
            return ToDepartment(department, result.channel_id, result.bridge_id)
        if result.status == "caller_gone":
            return Ended("caller")
        return BackToQueue(talk.answered.queue)

    # ------------------------------------------------------------------ attended

    async def _attended(self, call: CallHandle, talk: _Talk, department: str) -> TalkEnd | None:
        assert self._transfers is not None  # noqa: S101 — _reachable checked it
        consulting = self._desk.consulting if self._desk is not None else {}
        consulting[call.channel_id] = department
        agent_left = False

        def stop(item: object) -> bool:
            nonlocal agent_left
            if is_gone(item, talk.leg):
                agent_left = True
                return False
            if isinstance(item, StaffCommand):
                mine = item.agent_id == talk.agent and isinstance(item, CancelTransfer)
                item.answer("ok" if mine else "busy")
                return mine
            return False

        try:
            got = await self._transfers.consult(
                call,
                department,
                agent_channel_id=talk.leg,
                bridge_id=talk.answered.bridge_id,
                context=call.context,
                stop=stop,
                agent_left=lambda: agent_left,
            )
            if isinstance(got, Consultation):
                return await self._consulting(call, talk, got)
            return await self._not_consulted(call, talk, got, agent_left)
        finally:
            consulting.pop(call.channel_id, None)

    async def _not_consulted(
        self, call: CallHandle, talk: _Talk, result: TransferResult, agent_left: bool
    ) -> TalkEnd | None:
        if result.status == "caller_gone":
            return Ended("caller")
        if not agent_left:
            return None  # the caller is back with the agent
        await self._let_go(call, talk)
        if result.status == "connected" and result.channel_id and result.bridge_id:
            return ToDepartment(result.department, result.channel_id, result.bridge_id)
        return BackToQueue(talk.answered.queue)

    async def _consulting(
        self, call: CallHandle, talk: _Talk, consultation: Consultation
    ) -> TalkEnd | None:
        """The agent talks to the department while the caller waits on hold. None: the
        caller is back with the agent."""
        assert self._transfers is not None  # noqa: S101 — only called with transfers
        while True:
            event = await call.next_event(self._poll_s)
            if is_gone(event, call.channel_id):
                await self._transfers.abandon(call, consultation)
                return Ended("caller")
            if is_gone(event, consultation.department_channel_id):
                await self._transfers.cancel(call, consultation, why="department_hung_up")
                return None
            if is_gone(event, talk.leg):
                return await self._complete(call, talk, consultation)
            if not isinstance(event, StaffCommand):
                continue
            if event.agent_id != talk.agent or not isinstance(
                event, CompleteTransfer | CancelTransfer
            ):
                event.answer("busy")
                continue
            event.answer("ok")
            if isinstance(event, CompleteTransfer):
                return await self._complete(call, talk, consultation)
            await self._transfers.cancel(call, consultation)
            return None

    async def _complete(self, call: CallHandle, talk: _Talk, consultation: Consultation) -> TalkEnd:
        assert self._transfers is not None  # noqa: S101 — only called with transfers
        try:
            result = await self._transfers.complete(call, consultation)
        except AriError:
            # the caller hung up in that instant: nobody to hand over
            await self._transfers.abandon(call, consultation)
            return Ended("caller")
        call.release(talk.leg)
        self._leave(call, talk, "transferred")
        return ToDepartment(
            result.department, consultation.department_channel_id, consultation.bridge_id
        )
