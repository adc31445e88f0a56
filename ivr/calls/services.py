"""What a call session needs besides ARI: flows, prompt media, accounts, calendars, notices,
intake and routing — bundled so the engine wires real services and tests wire fakes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from ivr.calls.flows import FlowRegistry
from ivr.calls.handle import CallHandle
from ivr.calls.memory import CallMemory, InMemoryCallMemory
from ivr.domain import tokyo_now
from ivr.flow.ports import AccountDirectory, Calendar, IntakeSink, NoticeBoard

# "callback": the caller keeps the place and was hung up on, to be called back
QueueOutcome = Literal["answered", "overflow", "closed", "abandoned", "callback"]
# "left": the call left our Stasis app (continued in the dialplan); "caller_gone": hung up
HandoverOutcome = Literal["bridged", "left", "failed", "caller_gone"]
TalkKind = Literal["answered", "bridged"]


class Router(Protocol):
    """Routing after the IVR. Runs inside the caller's session task (see `CallHandle`)."""

    async def enqueue(
        self, call: CallHandle, queue: str, priority: int, context: Mapping[str, str]
    ) -> QueueOutcome: ...

    async def transfer(
        self, call: CallHandle, department: str, context: Mapping[str, str]
    ) -> HandoverOutcome: ...

    async def emergency(self, call: CallHandle, context: Mapping[str, str]) -> HandoverOutcome: ...

    async def rejoin(self, call: CallHandle) -> QueueOutcome | None:
        """After an engine restart: a caller who was waiting goes back to the same place."""
        ...

    async def serve_callback(self, call: CallHandle) -> QueueOutcome:
        """`call` is the engine's call back to a caller who kept a queue place."""
        ...

    async def resume_talk(self, call: CallHandle) -> TalkKind | None:
        """After an engine restart: a caller who was talking to an agent ("answered") or a
        department ("bridged") goes on talking; returns once that conversation has ended.
        None if the call was not talking."""
        ...


class DialplanRouter:
    """Routing until the ACD is wired in: leaks go to the on-duty list through the same
    dialplan path Asterisk uses when the engine is down (`[hotline-fallback]`); there are no
    agent queues or department transfers yet, so those report overflow / failure and the flow
    takes its own branch for that (an apology and the web intake address)."""

    async def enqueue(
        self, call: CallHandle, queue: str, priority: int, context: Mapping[str, str]
    ) -> QueueOutcome:
        return "overflow"

    async def transfer(
        self, call: CallHandle, department: str, context: Mapping[str, str]
    ) -> HandoverOutcome:
        return "failed"

    async def emergency(self, call: CallHandle, context: Mapping[str, str]) -> HandoverOutcome:
        await call.ari.continue_in_dialplan(call.channel_id, "hotline-fallback", "emergency", 1)
        return "left"

    async def rejoin(self, call: CallHandle) -> QueueOutcome | None:
        return None

    async def resume_talk(self, call: CallHandle) -> TalkKind | None:
        return None

    async def serve_callback(self, call: CallHandle) -> QueueOutcome:
        # no queues, so no callbacks are ever placed; a stray one is closed politely
        await call.ari.hangup(call.channel_id)
        return "abandoned"


def prompt_media(base: str = "/var/lib/hotline/prompts") -> Callable[[str, str], str]:
    """Prompt id + language → the ARI media URI of our own audio file (path as Asterisk sees it)."""

    def media(prompt_id: str, language: str) -> str:
        return f"sound:{base}/{language}/{prompt_id}"

    return media


@dataclass
class CallServices:
    flows: FlowRegistry
    accounts: AccountDirectory
    calendar: Calendar
    notices: NoticeBoard
    intake: IntakeSink
    router: Router = field(default_factory=DialplanRouter)
    # where calls keep their restart state (the database in `hotline run`; see ivr.calls.memory)
    memory: CallMemory = field(default_factory=InMemoryCallMemory)
    media: Callable[[str, str], str] = field(default_factory=prompt_media)
    clock: Callable[[], datetime] = field(default=tokyo_now)
    # how a call entered (first Stasis argument) → the flow it runs
    entry_flows: Mapping[str, str] = field(
        default_factory=lambda: {"main": "hotline", "emergency": "emergency"}
    )
