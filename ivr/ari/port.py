"""The ARI port: what call sessions need from Asterisk. `AriClient` implements it over HTTP and
`ivr.ari.fake.FakeAri` in memory for unit tests; mypy checks both against this Protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ivr.ari.models import Bridge, Channel, Playback


class AriPort(Protocol):
    app: str

    async def answer(self, channel_id: str) -> None: ...

    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...

    async def play(
        self, channel_id: str, media: str | list[str], playback_id: str, lang: str | None = None
    ) -> Playback: ...

    async def stop_playback(self, playback_id: str) -> None: ...

    async def get_variable(self, channel_id: str, variable: str) -> str: ...

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None: ...

    async def get_channel(self, channel_id: str) -> Channel: ...

    async def originate(
        self,
        endpoint: str,
        *,
        channel_id: str,
        other_channel_id: str | None = None,
        app_args: str | None = None,
        caller_id: str | None = None,
        timeout_s: int = 30,
        variables: Mapping[str, str] | None = None,
        formats: str | None = None,
        app: str | None = None,
    ) -> Channel: ...

    async def create_bridge(
        self, bridge_id: str, kind: str = "mixing", name: str = ""
    ) -> Bridge: ...

    async def add_to_bridge(
        self, bridge_id: str, channel_id: str, role: str | None = None
    ) -> None: ...

    async def destroy_bridge(self, bridge_id: str) -> None: ...
