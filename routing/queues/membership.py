"""Who waits in which queue: the shared table of places (`Places`, callback places included) and
a waiting caller's membership as kept on the channel (`HOTLINE_QUEUE`: queue, priority, enqueue
time), from which a restarted engine rebuilds the same order."""

from __future__ import annotations

import json
from datetime import datetime

from routing.policy import QueuedCall

QUEUE_VAR = "HOTLINE_QUEUE"
"""Channel variable holding a waiting caller's queue membership as JSON."""

Places = dict[str, dict[str, QueuedCall]]
"""queue → call id → place; every waiting caller plans offers from this one table."""


def encode_membership(queue: str, priority: int, enqueued_at: datetime) -> str:
    """The `HOTLINE_QUEUE` value for a place."""
    return json.dumps(
        {"queue": queue, "priority": priority, "enqueued_at": enqueued_at.isoformat()},
        separators=(",", ":"),
    )


def parse_membership(value: str) -> tuple[str, int, datetime] | None:
    """(queue, priority, enqueued_at) from a `HOTLINE_QUEUE` value; None if empty or damaged."""
    if not value:
        return None
    try:
        data = json.loads(value)
        return (
            str(data["queue"]),
            int(data["priority"]),
            datetime.fromisoformat(data["enqueued_at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
