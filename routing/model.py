"""Routing's shared values, a leaf that imports nothing of ours: the callback request a caller
leaves behind, and the trail entries that queues and transfers write as things happen. The
ports (`routing.ports`), the queues, transfers and the ACD router all read these."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    """A caller who accepted a callback: `call_id` is the original call, `number` the one to
    call back, `context` what the caller entered in the IVR (for the agent's screen-pop)."""

    call_id: str
    queue: str
    number: str
    priority: int
    enqueued_at: datetime
    language: str
    context: Mapping[str, str] = field(default_factory=dict)


TrailKind = Literal[
    "enqueued",
    "rejoined",
    "announced",
    "offered",
    "no_answer",
    "answered",
    "abandoned",
    "overflow",
    "closed",
    # the caller heard the offer to be called back (detail: the expected wait, seconds)
    "callback_offered",
    "callback_scheduled",
    "callback_dialing",
    "callback_answered",
    "callback_failed",
    "call_ended",
    "talk_resumed",
    # an engine that took over follows the agent's phone ringing for the caller (agent: whose)
    "offer_resumed",
    # a department or on-duty phone answered and the caller is put through to it
    "put_through",
    # the agent declined the offer on the console: the caller keeps the place (agent: who)
    "rejected",
    # the agent asked to transfer the call (detail: "blind|attended department:<name>" or
    # "blind queue:<name>")
    "transfer_requested",
    # the caller left the agent for another queue (detail: "queue:<name>")
    "transferred",
    # a supervisor moved the waiting caller to another queue (detail: the queue), where they
    # keep their place by the first enqueue time
    "moved",
    # the agent put the caller on hold (music; the agent's leg stays up) / the hold ended:
    # Resume (no detail) or the call ended while held (detail: "caller" or "agent", who hung
    # up). An engine restart writes neither: the next engine goes on with the same hold
    "hold_started",
    "hold_ended",
]


@dataclass(frozen=True, slots=True)
class QueueEvent:
    """One entry of the contact's event trail from a queue (no personal data: ids and reasons
    only)."""

    call_id: str
    queue: str
    at: datetime
    kind: TrailKind
    agent_id: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class WrapUpEvent:
    """The agent's classification of a call after it (`reason`, one of `routing.wrap_up_codes`,
    or `unclassified` when wrap-up ended without one: `ended_by` says how — `agent` submitted,
    `timeout`, or the state the agent chose instead). `notes` are the agent's free text: they go
    to the call's trail data and nowhere else (never a log line)."""

    call_id: str
    queue: str
    agent_id: str
    at: datetime
    reason: str
    started_at: datetime
    ended_by: str
    notes: str = ""
    kind: Literal["wrap_up"] = "wrap_up"


@dataclass(frozen=True, slots=True)
class TransferEvent:
    """One entry of the trail from a transfer (ids and outcomes only, never the caller's data)."""

    call_id: str
    department: str
    at: datetime
    kind: str
    detail: str = ""
