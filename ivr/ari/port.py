"""The ARI port: what call sessions need from Asterisk. `AriClient` implements it over HTTP and
`ivr.ari.fake.FakeAri` in memory for unit tests; mypy checks both against this Protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from ivr.ari.models import Bridge, Channel, LiveRecording, Playback


class AriPort(Protocol):
    app: str

    async def answer(self, channel_id: str) -> None: ...

    async def hangup(self, channel_id: str, reason: str = "normal") -> None: ...

    async def play(
        self, channel_id: str, media: str | list[str], playback_id: str, lang: str | None = None
    ) -> Playback: ...

    async def stop_playback(self, playback_id: str) -> None: ...

    async def get_variable(self, channel_id: str, variable: str) -> str: ...

    async def set_variable(
        self, channel_id: str, variable: str, value: str, timeout_s: float | None = None
    ) -> None: ...

    async def get_channel(self, channel_id: str) -> Channel: ...

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None: ...

    async def record(
        self,
        channel_id: str,
        name: str,
        *,
        fmt: str = "wav",
        max_duration_s: int = 0,
        max_silence_s: int = 0,
        beep: bool = False,
        terminate_on: str = "none",
    ) -> LiveRecording: ...

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
