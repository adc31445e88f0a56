"""What a queue wait ends in (`QueueOutcome`), how the queue writes its trail, and its timing.
Plain data: every other module of `routing.queues` and the ACD router read these (the callback
request and the trail entry are routing's shared values, `routing.model`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from routing.model import CallbackRequest, QueueEvent, TrailKind
from routing.policy import Reason


@dataclass(frozen=True, slots=True)
class Answered:
    """An agent took the call: caller and `agent_channel_id` talk in mixing bridge `bridge_id`.
    Pass this to `QueueService.talk` to run the conversation to its end."""

    queue: str
    agent_id: str
    agent_channel_id: str
    bridge_id: str
    kind: Literal["answered"] = "answered"
    # the caller's place before the answer (None: not known, after a restart): a caller the
    # agent's transfer could not place goes back to the queue with it
    enqueued_at: datetime | None = None
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Overflow:
    """The caller may not join or stay; `refused` = the queue says so outright (play a busy
    message), otherwise route to the overflow target. The caller is out of the holding bridge."""

    queue: str
    reason: Reason
    refused: bool = False
    kind: Literal["overflow"] = "overflow"


@dataclass(frozen=True, slots=True)
class Closed:
    """The queue's calendar is closed (at entry, or it closed while the caller waited)."""

    queue: str
    kind: Literal["closed"] = "closed"


@dataclass(frozen=True, slots=True)
class Abandoned:
    """The caller hung up while waiting (or while an agent's phone rang)."""

    queue: str
    waited_s: float
    kind: Literal["abandoned"] = "abandoned"


@dataclass(frozen=True, slots=True)
class CallbackScheduled:
    """The caller keeps the place and will be called back; the session should say goodbye
    (already played: `queue-callback-scheduled`) and hang up."""

    queue: str
    request: CallbackRequest
    kind: Literal["callback_scheduled"] = "callback_scheduled"


QueueOutcome = Answered | Overflow | Closed | Abandoned | CallbackScheduled


@dataclass(frozen=True, slots=True)
class QueueTiming:
    """How often a waiting caller re-checks the queue (offers, overflow, announcements): the
    latency between an agent becoming free and the phone ringing. `ring_grace_s` is added to
    the queue's `ring_timeout_s` before we hang up an agent leg ourselves (Asterisk's originate
    timeout normally ends it first). `rejoin_grace_s`: after the first re-adopted caller
    rejoins, offers and announcements wait this long so every waiting caller is back in order.
    `goodbye_s` bounds waiting for the callback-scheduled prompt to finish."""

    tick_s: float = 0.25
    ring_grace_s: float = 2.0
    rejoin_grace_s: float = 1.0
    goodbye_s: float = 15.0
    moh_class: str | None = None
    bridge_prefix: str = "hold-"


DialBack = Callable[[CallbackRequest], Awaitable[None]]


class UnknownQueue(KeyError):
    pass


class Trail:
    """Writes a queue's trail entries, each with its own time, to `on_event` (if any)."""

    def __init__(
        self, clock: Callable[[], datetime], on_event: Callable[[QueueEvent], None] | None
    ) -> None:
        self._clock = clock
        self._on_event = on_event

    def __call__(
        self,
        call_id: str,
        queue: str,
        kind: TrailKind,
        *,
        agent_id: str | None = None,
        detail: str = "",
    ) -> None:
        if self._on_event is not None:
            self._on_event(QueueEvent(call_id, queue, self._clock(), kind, agent_id, detail))
