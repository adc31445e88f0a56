"""Who waits in which queue: the shared table of places (`Places`, callback places included).
A waiting caller's membership (queue, priority, enqueue time) is kept with the call as
`ivr.calls.codec.QUEUE` (`HOTLINE_QUEUE`), from which a restarted engine rebuilds the same
order."""

from __future__ import annotations

from routing.policy import QueuedCall

Places = dict[str, dict[str, QueuedCall]]
"""queue → call id → place; every waiting caller plans offers from this one table."""
