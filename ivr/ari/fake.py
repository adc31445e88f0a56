"""`FakeAri`: an in-memory twin of the ARI port for unit tests of call sessions.

It keeps channels, variables and playbacks, records every operation in `ops`, and lets a test
emit the events Asterisk would send (`fake.emit(...)`) into whatever sink the code under test
registered. Hung-up channels answer later operations with `ChannelGone`, as Asterisk does."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ivr.ari.client import StreamItem
from ivr.ari.models import (
    Bridge,
    CallerId,
    Channel,
    DialplanCep,
    LiveRecording,
    Playback,
    PlaybackFinished,
    StasisEnd,
    StasisStart,
)
from ivr.ari.port import AriPort
from ivr.errors import ChannelGone


@dataclass
class FakeAri:
    app: str = "hotline"
    channels: dict[str, Channel] = field(default_factory=dict)
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    playbacks: dict[str, Playback] = field(default_factory=dict)
    bridges: dict[str, Bridge] = field(default_factory=dict)
    #: the dialplan's globals as set through ARI
    dialplan_globals: dict[str, str] = field(default_factory=dict)
    ops: list[tuple[str, ...]] = field(default_factory=list)
    sink: Callable[[StreamItem], None] | None = None

    # ------------------------------------------------------------ test controls

    def incoming(self, channel_id: str, number: str = "0935821234", args: str = "main") -> None:
        """A caller reaches `Stasis(app, args)`."""
        channel = Channel(
            id=channel_id,
            state="Ring",
            caller=CallerId(number=number),
            dialplan=DialplanCep(
                context="hotline", exten="1000", app_name="Stasis", app_data=f"{self.app},{args}"
            ),
        )
        self.channels[channel_id] = channel
        self.variables.setdefault(channel_id, {})
        self.emit(StasisStart(type="StasisStart", channel=channel, args=args.split(",")))

    def caller_hangs_up(self, channel_id: str) -> None:
        channel = self.channels.pop(channel_id)
        self.emit(StasisEnd(type="StasisEnd", channel=channel))

    def finish_playback(self, playback_id: str, state: str = "done") -> None:
        playback = self.playbacks.pop(playback_id)
        self.emit(
            PlaybackFinished(
                type="PlaybackFinished",
                playback=playback.model_copy(update={"state": state}),
            )
        )

    def emit(self, item: StreamItem) -> None:
        if self.sink is None:
            raise RuntimeError("nothing listens to the fake's events")
        self.sink(item)

    def _live(self, channel_id: str, op: str) -> Channel:
        channel = self.channels.get(channel_id)
        if channel is None:
            raise ChannelGone(404, "POST", f"/channels/{channel_id}/{op}", "Channel not found")
        return channel

    # ------------------------------------------------------------ beyond AriPort

    async def set_global(self, variable: str, value: str) -> None:
        self.ops.append(("set_global", variable, value))
        self.dialplan_globals[variable] = value

    # ------------------------------------------------------------ AriPort

    async def answer(self, channel_id: str) -> None:
        self.ops.append(("answer", channel_id))
        channel = self._live(channel_id, "answer")
        self.channels[channel_id] = channel.model_copy(update={"state": "Up"})

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        self.ops.append(("hangup", channel_id))
        channel = self._live(channel_id, "hangup")
        del self.channels[channel_id]
        self.emit(StasisEnd(type="StasisEnd", channel=channel))

    async def play(
        self, channel_id: str, media: str | list[str], playback_id: str, lang: str | None = None
    ) -> Playback:
        medias = media if isinstance(media, str) else ",".join(media)
        self.ops.append(("play", channel_id, medias, playback_id))
        self._live(channel_id, "play")
        playback = Playback(
            id=playback_id, media_uri=medias, target_uri=f"channel:{channel_id}", state="playing"
        )
        self.playbacks[playback_id] = playback
        return playback

    async def stop_playback(self, playback_id: str) -> None:
        self.ops.append(("stop_playback", playback_id))
        if playback_id not in self.playbacks:
            raise ChannelGone(404, "DELETE", f"/playbacks/{playback_id}", "Playback not found")
        self.finish_playback(playback_id, "stopped")

    async def get_variable(self, channel_id: str, variable: str) -> str:
        self._live(channel_id, "variable")
        return self.variables.get(channel_id, {}).get(variable, "")

    async def set_variable(
        self, channel_id: str, variable: str, value: str, timeout_s: float | None = None
    ) -> None:
        self.ops.append(("set_variable", channel_id, variable))
        self._live(channel_id, "variable")
        self.variables.setdefault(channel_id, {})[variable] = value

    async def get_channel(self, channel_id: str) -> Channel:
        return self._live(channel_id, "")

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None:
        self.ops.append(("continue", channel_id, context or "", extension or ""))
        channel = self.channels.pop(self._live(channel_id, "continue").id)
        self.emit(StasisEnd(type="StasisEnd", channel=channel))

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
    ) -> LiveRecording:
        self.ops.append(("record", channel_id, name))
        self._live(channel_id, "record")
        return LiveRecording(name=name, format=fmt, state="recording")

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
    ) -> Channel:
        self.ops.append(("originate", endpoint, channel_id))
        channel = Channel(id=channel_id, state="Down")
        self.channels[channel_id] = channel
        return channel

    async def create_bridge(self, bridge_id: str, kind: str = "mixing", name: str = "") -> Bridge:
        self.ops.append(("create_bridge", bridge_id, kind))
        bridge = Bridge(id=bridge_id, bridge_type=kind)
        self.bridges[bridge_id] = bridge
        return bridge

    async def add_to_bridge(self, bridge_id: str, channel_id: str, role: str | None = None) -> None:
        self.ops.append(("add_to_bridge", bridge_id, channel_id))

    async def get_bridge(self, bridge_id: str) -> Bridge:
        if bridge_id not in self.bridges:
            raise ChannelGone(404, "GET", f"/bridges/{bridge_id}", "Bridge not found")
        return self.bridges[bridge_id]

    async def destroy_bridge(self, bridge_id: str) -> None:
        self.ops.append(("destroy_bridge", bridge_id))
        self.bridges.pop(bridge_id, None)


def _conforms(fake: FakeAri) -> AriPort:
    # mypy checks here that the fake keeps the port's shape
    return fake
