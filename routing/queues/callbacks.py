"""Virtual hold: the places of callers who accepted a callback and hung up. A kept place waits in
its queue like a caller (`Places`); when it would get an agent, the bound `dial_back` is
called once (never twice, a restart included) and the place is held at the head until the call
back is answered (`served`) or not (`failed`). With a `CallbackStore` the places survive an
engine restart: nothing of a caller who hung up is left in Asterisk."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import replace

from routing.model import CallbackRequest
from routing.policy import QueuedCall
from routing.ports import CallbackStore
from routing.queues.membership import Places
from routing.queues.outcomes import DialBack, Trail

log = logging.getLogger(__name__)

DIALING = "(dialing)"
"""The callback pseudo-agent: while the engine dials a callback, its place must not take agents."""


class VirtualHold:
    def __init__(
        self,
        places: Places,
        trail: Trail,
        skills: dict[str, frozenset[str]],
        *,
        store: CallbackStore | None,
    ) -> None:
        self._places = places
        self._trail = trail
        self._skills = skills
        self._dial_back: DialBack | None = None
        self._store = store
        self._requests: dict[str, CallbackRequest] = {}
        self._dialed: set[str] = set()
        self._settling: set[asyncio.Task[None]] = set()

    def bind(self, dial_back: DialBack) -> None:
        self._dial_back = dial_back

    @property
    def can_dial(self) -> bool:
        """Whether this engine can call anybody back at all."""
        return self._dial_back is not None

    def pending(self) -> list[CallbackRequest]:
        return list(self._requests.values())

    def holds(self, call_id: str) -> bool:
        """`call_id`'s place is a kept callback place (its caller hung up)."""
        return call_id in self._requests

    async def keep(self, request: CallbackRequest) -> None:
        """The caller accepted: keep the place (in the store first: it must outlive an engine
        restart before the caller is told)."""
        if self._store is not None:
            await self._store.keep(request)
        self._requests[request.call_id] = request
        self._trail(request.call_id, request.queue, "callback_scheduled")

    async def dial_due(self, queue: str, offers: Iterable[tuple[str, str]]) -> None:
        """Call back every kept place of `queue` that the plan gives an agent now."""
        if self._dial_back is None:
            return
        due = [
            call_id
            for call_id, _ in offers
            if call_id in self._requests and call_id not in self._dialed
        ]
        for call_id in due:
            request = self._requests[call_id]
            # never twice, whatever happens next (a restart included)
            self._dialed.add(call_id)
            self._settle(call_id, "dialing")
            entry = self._places[queue][call_id]
            self._places[queue][call_id] = replace(entry, offered_to=DIALING)
            self._trail(call_id, queue, "callback_dialing")
            try:
                await self._dial_back(request)
            except Exception:
                log.exception("callback could not be placed")
                self.failed(request, "dial error")

    def failed(self, request: CallbackRequest, reason: str) -> None:
        """The engine could not reach the caller: the place is given up (no second attempt)."""
        self._settle(request.call_id, "failed")
        self._requests.pop(request.call_id, None)
        self._places[request.queue].pop(request.call_id, None)
        self._trail(request.call_id, request.queue, "callback_failed", detail=reason)

    def served(self, request: CallbackRequest) -> None:
        """The call back was answered: the place moves to the new call."""
        self._settle(request.call_id, "served")
        self._requests.pop(request.call_id, None)
        self._places[request.queue].pop(request.call_id, None)

    async def restore(self) -> int:
        """At engine start: callers who were to be called back get their places again."""
        if self._store is None:
            return 0
        return len(self._hold(await self._store.pending()))

    async def restore_dialing(self) -> list[CallbackRequest]:
        """At engine start: call backs the last engine was placing, held at the head and never
        dialled again until the router learns whether they are answered."""
        if self._store is None:
            return []
        held = self._hold(await self._store.dialing(), offered_to=DIALING)
        self._dialed.update(r.call_id for r in held)
        return held

    def _hold(
        self, requests: list[CallbackRequest], offered_to: str | None = None
    ) -> list[CallbackRequest]:
        """Kept callback places back in their queues (those of queues still configured)."""
        held = []
        for request in requests:
            if request.queue not in self._places:
                continue
            self._places[request.queue][request.call_id] = QueuedCall(
                request.call_id,
                request.enqueued_at,
                request.priority,
                self._skills[request.queue],
                offered_to,
            )
            self._requests[request.call_id] = request
            held.append(request)
        return held

    def _settle(self, call_id: str, state: str) -> None:
        if self._store is None:
            return
        task = asyncio.get_running_loop().create_task(
            self._store.settle(call_id, state), name=f"callback-settle:{call_id}"
        )
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def settled(self) -> None:
        """Wait until every callback state change so far is in the store."""
        while self._settling:
            await asyncio.gather(*list(self._settling), return_exceptions=True)
