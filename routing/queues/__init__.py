"""The ACD's queues: callers wait in a queue's holding bridge, hear their place and expected wait,
may leave a callback instead (virtual hold), and are put through to the agent who answers.

`QueueService` (`service`) is the facade the ACD router uses; `holding` keeps the holding
bridges, `callbacks` the kept callback places, `membership` who waits where (and how a
restarted engine finds out), `outcomes` what a wait ends in and the trail it leaves.
"""

from routing.queues.membership import QUEUE_VAR, parse_membership
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
    TrailKind,
    UnknownQueue,
)
from routing.queues.service import (
    CALLBACK_ENTRY_TIMEOUT_S,
    PROMPTS,
    QueueService,
    usable_callback_number,
)

__all__ = [
    "CALLBACK_ENTRY_TIMEOUT_S",
    "PROMPTS",
    "QUEUE_VAR",
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
    "parse_membership",
    "usable_callback_number",
]
