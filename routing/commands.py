"""What an agent asks of a call from the console — reject the offer, put the caller on hold and
take them off it, transfer the call, complete or cancel an attended transfer — carried to the
routing code that holds the call.

A call is one task with one inbox (`ivr.calls.session`): the console never drives ARI for a
call itself. `CallDesk` checks the request against what the ACD knows (the agent's state, the
call they are on, a consultation in progress), then posts a `StaffCommand` into the caller's
inbox (`post`, the supervisor's, bound by the composition root). The code reading that inbox at
the moment — the offer ringing the agent's phone (`routing.queues.offers`) or the conversation
(`routing.queues.conversation`) — carries it out and answers its `reply`: `ok`, or why not (a
code the console shows). A command nobody reads in time (the call moved on in that instant) answers
`too_late` after `REPLY_TIMEOUT_S`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ivr.calls.handle import CallCommand
from routing.agents import AgentPool, UnknownAgent

REPLY_TIMEOUT_S = 5.0
"""How long the console waits for the call's task to take a command (it reads its inbox at
once; a ringing phone or a conversation never waits on anything else)."""

Mode = Literal["blind", "attended"]
TargetKind = Literal["department", "queue"]

Refusal = Literal[
    "not_ringing",
    "not_on_call",
    "no_consultation",
    "busy",
    "unknown_target",
    "closed",
    "full",
    "attended_queue",
    "too_late",
    "on_hold",
    "not_on_hold",
]
"""Why a command was not carried out: the agent's phone is not ringing / they are on no call /
no attended transfer is in progress / one is already under way / no such department or queue /
its calendar is closed / the queue takes no caller now / a queue cannot be consulted (attended
goes to a department) / the call moved on before the command was read / the caller is on hold
(a transfer waits for Resume; Hold twice is refused) / the caller is not on hold (Resume)."""

Reply = Literal["ok"] | Refusal


@dataclass(eq=False)
class StaffCommand(CallCommand):
    """A console request for the call `agent_id` is offered or talking; `reply` is answered
    once by whoever carries it out."""

    agent_id: str
    reply: asyncio.Future[Reply] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def answer(self, outcome: Reply) -> None:
        if not self.reply.done():
            self.reply.set_result(outcome)


@dataclass(eq=False)
class Decline(StaffCommand):
    """Reject the offer ringing the agent's phone: the caller keeps the place."""


@dataclass(eq=False)
class Hold(StaffCommand):
    """Put the caller on hold (music) while the agent's leg stays up; `on` False: take them
    off it again (Resume)."""

    on: bool = True


@dataclass(eq=False)
class Transfer(StaffCommand):
    """Transfer the call to `target` (a department or a queue), `blind` or `attended`."""

    kind: TargetKind = "department"
    target: str = ""
    mode: Mode = "blind"


@dataclass(eq=False)
class CompleteTransfer(StaffCommand):
    """The attended transfer goes through: the caller joins the department, the agent leaves."""


@dataclass(eq=False)
class CancelTransfer(StaffCommand):
    """The attended transfer is called off: the department leg ends, the caller is back."""


@dataclass(eq=False)
class MoveToQueue(StaffCommand):
    """A supervisor (`agent_id`: who) moves the waiting caller to `queue`; they keep their
    place by the time they first joined."""

    queue: str = ""


Post = Callable[[str, CallCommand], bool]


class CallDesk:
    """The console's way to a call in routing (see the module docstring). `consulting` is kept
    by the conversation: call id → the department the agent is consulting."""

    def __init__(self, agents: AgentPool, *, reply_timeout_s: float = REPLY_TIMEOUT_S) -> None:
        self._agents = agents
        self._post: Post | None = None
        self._reply_timeout_s = reply_timeout_s
        self.consulting: dict[str, str] = {}

    def bind(self, post: Post) -> None:
        """Give the desk the supervisor's `post` (into a call's inbox)."""
        self._post = post

    def _call_of(self, agent_id: str, status: str) -> str | None:
        try:
            state = self._agents.state(agent_id)
        except UnknownAgent:
            return None
        return state.call_id if state.status == status else None

    async def _send(self, call_id: str, command: StaffCommand) -> Reply:
        if self._post is None or not self._post(call_id, command):
            return "too_late"
        try:
            async with asyncio.timeout(self._reply_timeout_s):
                return await asyncio.shield(command.reply)
        except TimeoutError:
            command.answer("too_late")  # a late reader finds it answered and leaves it
            return "too_late"

    async def reject(self, agent_id: str) -> Reply:
        """Reject the call ringing `agent_id`'s phone."""
        call_id = self._call_of(agent_id, "offered")
        if call_id is None:
            return "not_ringing"
        return await self._send(call_id, Decline(agent_id))

    async def transfer(
        self, agent_id: str, call_id: str, kind: TargetKind, target: str, mode: Mode
    ) -> Reply:
        """Transfer `call_id`, the call `agent_id` is talking on."""
        if self._call_of(agent_id, "on_call") != call_id:
            return "not_on_call"
        if call_id in self.consulting:
            return "busy"
        if kind == "queue" and mode == "attended":
            return "attended_queue"
        return await self._send(call_id, Transfer(agent_id, kind=kind, target=target, mode=mode))

    async def hold(self, agent_id: str, call_id: str, on: bool) -> Reply:
        """Put `call_id`, the call `agent_id` is talking on, on hold (`on`) or off it."""
        if self._call_of(agent_id, "on_call") != call_id:
            return "not_on_call"
        if call_id in self.consulting:
            return "busy"  # the caller already hears hold music while the agent consults
        return await self._send(call_id, Hold(agent_id, on=on))

    async def move(self, supervisor: str, call_id: str, queue: str) -> Reply:
        """Move the waiting caller `call_id` to `queue` (the waiting caller's task carries it
        out; answered `not_on_call` by an offer ringing in that instant)."""
        return await self._send(call_id, MoveToQueue(supervisor, queue=queue))

    async def complete(self, agent_id: str, call_id: str) -> Reply:
        if self._call_of(agent_id, "on_call") != call_id:
            return "not_on_call"
        if call_id not in self.consulting:
            return "no_consultation"
        return await self._send(call_id, CompleteTransfer(agent_id))

    async def cancel(self, agent_id: str, call_id: str) -> Reply:
        if self._call_of(agent_id, "on_call") != call_id:
            return "not_on_call"
        if call_id not in self.consulting:
            return "no_consultation"
        return await self._send(call_id, CancelTransfer(agent_id))
