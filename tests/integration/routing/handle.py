"""A test double of the session's `CallHandle` on a real `AriClient`: one `Hub` registers the
Stasis app, keeps every event (for assertions) and routes each one to the inbox of the call that
owns or claimed its channel; a `StasisStart` of a channel nobody owns is an arrival. The
production handle lives in the call session; this one only has to be honest about events."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Mapping

from ivr.ari.client import AriClient, Disconnected, Resynced, StreamItem
from ivr.ari.models import AriEvent, Channel, StasisStart, UnknownEvent, event_channel_id
from ivr.ari.port import AriPort
from ivr.calls.handle import CallHandle
from ivr.calls.memory import CallMemory, InMemoryCallMemory
from ivr.errors import AriError

PROMPT_DIR = "/var/lib/hotline/prompts"


def media_uri(prompt_id: str, language: str = "ja") -> str:
    return f"sound:{PROMPT_DIR}/{language}/{prompt_id}"


class Hub:
    """Owns the client's event loop for a test; `stop()` at the end."""

    def __init__(
        self, ari: AriClient, bridge_prefix: str | None = None, memory: CallMemory | None = None
    ) -> None:
        self.ari = ari
        self.bridge_prefix = bridge_prefix
        # where calls keep their restart state; two hubs sharing one stand for two engines
        # sharing one database
        self.memory: CallMemory = memory or InMemoryCallMemory()
        self.events: list[AriEvent] = []
        self.resynced: list[tuple[Channel, ...]] = []
        self._owners: dict[str, TestCall] = {}
        self._seen: set[str] = set()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._counter = itertools.count(1)

    async def start(self) -> Hub:
        self._task = asyncio.get_running_loop().create_task(
            self.ari.run(self._on_item), name=f"hub:{self.ari.app}"
        )
        await asyncio.wait_for(self.ari.connected.wait(), 10)
        return self

    async def stop(self, clean: bool = True) -> None:
        """Stop listening; with `clean`, hang up every channel this hub routed (a failed test
        leaves no call behind) and destroy the bridges named with `bridge_prefix`."""
        if clean:
            for channel_id in sorted(self._seen):
                with contextlib.suppress(AriError):
                    await self.ari.hangup(channel_id)
        if clean and self.bridge_prefix:
            for bridge in await self.ari.list_bridges():
                if bridge.id.startswith(self.bridge_prefix):
                    await self.ari.destroy_bridge(bridge.id)
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.ari.close()

    def _on_item(self, item: StreamItem) -> None:
        if isinstance(item, Resynced):
            self.resynced.append(item.channels)
            return
        if isinstance(item, Disconnected):
            return
        self.events.append(item)
        channel_id = _channel_of(item)
        owner = self._owners.get(channel_id) if channel_id else None
        if owner is not None:
            owner.inbox.put_nowait(item)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[AriEvent], bool], timeout_s: float = 20) -> None:
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(lambda: any(predicate(e) for e in self.events)), timeout_s
            )

    async def arrival(self, channel_id: str, timeout_s: float = 20) -> Channel:
        """The channel once it entered our app (StasisStart)."""
        await self.wait_for(
            lambda e: isinstance(e, StasisStart) and e.channel.id == channel_id, timeout_s
        )
        return next(
            e.channel
            for e in self.events
            if isinstance(e, StasisStart) and e.channel.id == channel_id
        )

    def adopt(
        self,
        channel: Channel,
        language: str = "ja",
        context: Mapping[str, str] | None = None,
    ) -> TestCall:
        call = TestCall(self, channel, language, dict(context or {}))
        self.route(channel.id, call)
        return call

    def route(self, channel_id: str, call: TestCall | None) -> None:
        self._seen.add(channel_id)
        if call is None:
            self._owners.pop(channel_id, None)
        else:
            self._owners[channel_id] = call

    def next_number(self) -> int:
        return next(self._counter)


def _channel_of(event: AriEvent) -> str | None:
    if isinstance(event, UnknownEvent):
        playback = event.raw.get("playback")
        if isinstance(playback, dict):
            target = str(playback.get("target_uri", ""))
            if target.startswith("channel:"):
                return target.removeprefix("channel:")
        return None
    return event_channel_id(event)


class TestCall:
    """Implements `ivr.calls.handle.CallHandle`."""

    __test__ = False  # not a pytest class

    def __init__(self, hub: Hub, channel: Channel, language: str, context: dict[str, str]) -> None:
        self._hub = hub
        self._channel = channel
        self._language = language
        self._context = context
        self.inbox: asyncio.Queue[AriEvent] = asyncio.Queue()

    @property
    def channel_id(self) -> str:
        return self._channel.id

    @property
    def caller_number(self) -> str:
        return self._channel.caller.number

    @property
    def language(self) -> str:
        return self._language

    @property
    def context(self) -> Mapping[str, str]:
        return self._context

    @property
    def ari(self) -> AriPort:
        return self._hub.ari

    def new_id(self, what: str) -> str:
        return f"{self._channel.id}-{what}-{self._hub.next_number()}"

    def claim(self, channel_id: str) -> None:
        self._hub.route(channel_id, self)

    def release(self, channel_id: str) -> None:
        self._hub.route(channel_id, None)

    async def next_event(self, timeout_s: float) -> AriEvent | None:
        try:
            async with asyncio.timeout(max(timeout_s, 0)):
                return await self.inbox.get()
        except TimeoutError:
            return None

    async def remember(self, key: str, value: str) -> None:
        await self._hub.memory.keep_durably(self.channel_id, key, value)

    async def recall(self, key: str) -> str:
        return await self._hub.memory.recall(self.channel_id, key)

    def media(self, prompt_id: str) -> str:
        return media_uri(prompt_id, self._language)


def _conforms(call: TestCall) -> CallHandle:
    return call
