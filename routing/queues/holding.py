"""Holding bridges: one per queue, with music on hold for the whole bridge, where every caller
of that queue waits (`HoldingBridges`), and the prompts a waiting caller hears over the music
(`PromptPlayer`). The bridges outlive the engine on purpose: callers wait on while it restarts,
and the next engine finds its bridges again by name."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ivr.ari.models import PlaybackFinished
from ivr.calls.handle import CallHandle
from ivr.errors import AriError, AriUnavailable
from routing.legs import is_gone
from routing.ports import RoutingAri

log = logging.getLogger(__name__)

# asking Asterisk to put a caller into a holding bridge: the first try and one more after a timeout
JOIN_ATTEMPTS = 2


class HoldingBridges:
    def __init__(self, ari: RoutingAri, *, prefix: str, moh_class: str | None) -> None:
        self._ari = ari
        self._prefix = prefix
        self._moh_class = moh_class
        self._made: set[str] = set()

    def name(self, queue: str) -> str:
        return f"{self._prefix}{queue}"

    async def enter(self, queue: str, channel_id: str, *, rejoin: bool = False) -> str:
        """Put the caller into the queue's holding bridge (made on first use); its id.
        `rejoin`: a re-adopted caller, who is normally in it still."""
        bridge_id = await self._ensure(queue)
        if rejoin and await self._holds(bridge_id, channel_id):
            return bridge_id
        for attempt in range(JOIN_ATTEMPTS):
            try:
                await self._ari.add_to_bridge(bridge_id, channel_id)
            except AriError:
                # already in it (a rejoin after a restart, or the first attempt did get
                # through) or gone (the session sees the hangup event)
                log.debug("add to holding bridge failed", exc_info=True)
            except AriUnavailable:
                # an Asterisk at its limit can take longer than the request timeout to join a
                # channel to a bridge of hundreds: the caller keeps their place in the queue
                # (offers bridge them on their own), and is asked in once more
                log.warning("joining the holding bridge timed out (attempt %d)", attempt + 1)
                continue
            break
        return bridge_id

    async def _holds(self, bridge_id: str, channel_id: str) -> bool:
        # Asterisk runs an addChannel on the channel's own thread, which is busy with the
        # prompt the caller hears until it ends: after a take-over, callers re-adopted during
        # their position announcement waited out the request timeout (9 of 9, 5 s). A bridge's
        # snapshot is read at once.
        try:
            return channel_id in (await self._ari.get_bridge(bridge_id)).channels
        except (AriError, AriUnavailable):
            return False

    async def leave(self, bridge_id: str, channel_id: str) -> None:
        """Take the caller out (overflow, closed): a caller who hung up is gone already."""
        with contextlib.suppress(AriError):
            await self._ari.remove_from_bridge(bridge_id, channel_id)

    async def _ensure(self, queue: str) -> str:
        bridge_id = self.name(queue)
        if bridge_id in self._made:
            return bridge_id
        try:
            await self._ari.create_bridge(bridge_id, "holding", f"queue {queue}")
        except AriError as exc:
            # 409: it already exists (a restarted engine finds its holding bridges again)
            if exc.status != 409:
                raise
        try:
            await self._ari.bridge_moh(bridge_id, self._moh_class)
        except AriError:
            # a missing MOH class or chan_bridge_media must not stop the queue
            log.warning("no music on hold for queue %s", queue)
        self._made.add(bridge_id)
        return bridge_id

    async def destroy_all(self) -> None:
        """Remove the holding bridges made here (tests; a decommissioned queue)."""
        for bridge_id in sorted(self._made):
            with contextlib.suppress(AriError):
                await self._ari.destroy_bridge(bridge_id)
        self._made.clear()


class PromptPlayer:
    """Our prompts to one waiting caller, over the holding bridge's music, one at a time. It
    knows the ARI id of the prompt playing (ours: chosen before the request), so that only that
    prompt's end counts, not a stopped one's late `PlaybackFinished`."""

    def __init__(self, ari: RoutingAri, call: CallHandle) -> None:
        self._ari = ari
        self._call = call
        self._playing: str | None = None

    async def play(self, prompt_ids: tuple[str, ...]) -> bool:
        """Start playing; False if it could not be (the caller is gone: the hangup follows)."""
        playback_id = self._call.new_id("playback")
        self._playing = playback_id
        media = [self._call.media(p) for p in prompt_ids]
        try:
            await self._ari.play(self._call.channel_id, media, playback_id)
        except AriError:
            self._playing = None
            return False
        return True

    async def stop(self) -> None:
        if self._playing is not None:
            with contextlib.suppress(AriError):
                await self._ari.stop_playback(self._playing)
            self._playing = None

    def finished(self, event: object) -> bool:
        """`event` is the end of the prompt playing now."""
        if isinstance(event, PlaybackFinished) and event.playback.id == self._playing:
            self._playing = None
            return True
        return False

    async def finish(self, timeout_s: float) -> None:
        """Let the prompt play out: until it ends, the caller hangs up, or `timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self._playing is not None and loop.time() < deadline:
            event = await self._call.next_event(deadline - loop.time())
            if event is None or is_gone(event, self._call.channel_id):
                return
            self.finished(event)
