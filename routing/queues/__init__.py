"""The ACD's queues: callers wait in a queue's holding bridge, hear their place and expected wait,
may leave a callback instead (virtual hold), and are put through to the agent who answers.

`QueueService` (`service`) is the facade the ACD router uses and the thin shell around
`waiting`, the PURE step of one waiting caller (offers, announcements, the callback offer and
its keypad dialogue, overflow). `offers` rings agents and runs the conversation, `holding`
keeps the holding bridges and plays prompts over them, `callbacks` the kept callback places
(virtual hold), `membership` who waits where,
`outcomes` what a wait ends in and the trail it leaves.
"""

from routing.model import CallbackRequest, QueueEvent, TrailKind
from routing.queues.outcomes import (
    Abandoned,
    Answered,
    CallbackScheduled,
    Closed,
    DialBack,
    Overflow,
    QueueOutcome,
    QueueTiming,
    UnknownQueue,
)
from routing.queues.service import QueueService
from routing.queues.waiting import CALLBACK_ENTRY_TIMEOUT_S, PROMPTS, usable_callback_number

__all__ = [
    "CALLBACK_ENTRY_TIMEOUT_S",
    "PROMPTS",
    "Abandoned",
    "Answered",
    "CallbackRequest",
    "CallbackScheduled",
    "Closed",
    "DialBack",
    "Overflow",
    "QueueEvent",
    "QueueOutcome",
    "QueueService",
    "QueueTiming",
    "TrailKind",
    "UnknownQueue",
    "usable_callback_number",
]
