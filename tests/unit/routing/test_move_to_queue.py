"""A supervisor moves a waiting caller to another queue (`CallDesk.move`, through the caller's
inbox), against the in-memory ARI fake in virtual time: the caller leaves the first queue's
holding bridge for the other's, keeps their place by the time they first joined, the trail says
`moved` then `enqueued` in the new queue, and the new queue's agent gets the call. A move to an
unknown queue, to the same queue or of a call that is not there is refused and changes nothing.
The rig is the console-calls tests' (tests/unit/routing/test_console_calls.py)."""

from __future__ import annotations

import asyncio

import pytest

from routing.model import QueueEvent
from tests.unit.routing.test_console_calls import rig

pytestmark = [pytest.mark.unit, pytest.mark.looptime]


async def test_a_waiting_caller_moves_to_another_queue_with_their_place() -> None:
    r = rig("a1", "a9")  # a9 has the billing skill q2 needs
    r.pool.pause("a1", "break")
    # a9 takes a first caller: the next one waits in q, and q2 is staffed (a9, on a call)
    _first, first_task = r.call("c0")
    await r.answered("a9", "PJSIP/a9")
    queues = r.router.queues
    _call, task = r.call("c1")
    await r.until(lambda: queues.waiting("q") != [])
    [before] = queues.waiting("q")
    await asyncio.sleep(30)  # virtual: the caller has waited 30 s

    desk = r.router.desk
    assert await desk.move("boss", "c1", "nowhere") == "unknown_target"
    assert await desk.move("boss", "c1", "q") == "unknown_target"
    assert await desk.move("boss", "c9", "q2") == "too_late"
    assert [c.call_id for c in queues.waiting("q")] == ["c1"]

    assert await desk.move("boss", "c1", "q2") == "ok"
    assert queues.waiting("q") == []
    [after] = queues.waiting("q2")
    assert (after.call_id, after.enqueued_at) == ("c1", before.enqueued_at)
    bridges = [op[1] for op in r.ari.ops if op[0] == "add_to_bridge" and op[-1] == "c1"]
    assert bridges[-2:] == [queues.holding_bridge("q"), queues.holding_bridge("q2")]
    assert ("remove_from_bridge", queues.holding_bridge("q"), "c1") in r.ari.ops
    moved = [e for e in r.trail if isinstance(e, QueueEvent) and e.call_id == "c1"]
    kinds = [(e.kind, e.queue, e.detail) for e in moved]
    at = kinds.index(("moved", "q", "q2"))
    assert kinds[at + 1] == ("enqueued", "q2", "0")

    r.ari.hangs_up("c0")  # a9 is free again (after wrap-up) and gets c1 in q2
    assert await first_task == "answered"
    endpoint, leg = await r.ari.next_ring()
    assert endpoint == "PJSIP/a9"
    r.ari.answers(leg)
    await r.until(lambda: r.pool.state("a9").status == "on_call")
    r.ari.hangs_up("c1")
    assert await task == "answered"
    assert r.kinds("c1")[-3:] == ["offered", "answered", "call_ended"]
