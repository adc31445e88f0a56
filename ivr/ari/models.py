"""ARI resources and events as pydantic models: the only place ARI JSON is parsed.

Events are discriminated on `type`. An event type we do not model is kept whole as
`UnknownEvent` (its raw JSON in `raw`), never dropped and never an error: Asterisk adds event
types between releases and a new one must not take the engine down.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class _Model(BaseModel):
    # ARI objects carry more fields than we use and gain new ones between releases
    model_config = ConfigDict(extra="ignore", frozen=True)


class CallerId(_Model):
    name: str = ""
    number: str = ""


class DialplanCep(_Model):
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""


class Channel(_Model):
    id: str
    name: str = ""
    state: str = ""
    caller: CallerId = CallerId()
    connected: CallerId = CallerId()
    dialplan: DialplanCep = DialplanCep()
    language: str = ""
    creationtime: str = ""
    channelvars: dict[str, str] | None = None

    @property
    def stasis_app(self) -> str | None:
        """The Stasis application the channel sits in, read from its current dialplan app."""
        if self.dialplan.app_name != "Stasis":
            return None
        return self.dialplan.app_data.split(",", 1)[0]


class Bridge(_Model):
    id: str
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""
    channels: list[str] = Field(default_factory=list)


class Playback(_Model):
    id: str
    media_uri: str = ""
    target_uri: str = ""
    state: str = ""


class LiveRecording(_Model):
    name: str
    format: str = ""
    state: str = ""
    duration: int | None = None
    cause: str | None = None


class Variable(_Model):
    value: str


class AsteriskInfo(_Model):
    system: dict[str, Any] = Field(default_factory=dict)
    build: dict[str, Any] = Field(default_factory=dict)


class _Event(_Model):
    application: str = ""
    timestamp: str = ""


class StasisStart(_Event):
    type: Literal["StasisStart"]
    channel: Channel
    args: list[str] = Field(default_factory=list)
    replace_channel: Channel | None = None


class StasisEnd(_Event):
    type: Literal["StasisEnd"]
    channel: Channel


class ChannelDtmfReceived(_Event):
    type: Literal["ChannelDtmfReceived"]
    channel: Channel
    digit: str
    duration_ms: int = 0


class ChannelHangupRequest(_Event):
    type: Literal["ChannelHangupRequest"]
    channel: Channel
    cause: int | None = None
    soft: bool | None = None


class ChannelDestroyed(_Event):
    type: Literal["ChannelDestroyed"]
    channel: Channel
    cause: int = 0
    cause_txt: str = ""


class ChannelStateChange(_Event):
    type: Literal["ChannelStateChange"]
    channel: Channel


class ChannelVarset(_Event):
    type: Literal["ChannelVarset"]
    variable: str
    value: str
    channel: Channel | None = None


class ChannelEnteredBridge(_Event):
    type: Literal["ChannelEnteredBridge"]
    bridge: Bridge
    channel: Channel


class ChannelLeftBridge(_Event):
    type: Literal["ChannelLeftBridge"]
    bridge: Bridge
    channel: Channel


class BridgeDestroyed(_Event):
    type: Literal["BridgeDestroyed"]
    bridge: Bridge


class PlaybackStarted(_Event):
    type: Literal["PlaybackStarted"]
    playback: Playback


class PlaybackFinished(_Event):
    type: Literal["PlaybackFinished"]
    playback: Playback


class RecordingFinished(_Event):
    type: Literal["RecordingFinished"]
    recording: LiveRecording


class RecordingFailed(_Event):
    type: Literal["RecordingFailed"]
    recording: LiveRecording


class Dial(_Event):
    type: Literal["Dial"]
    dialstatus: str = ""
    peer: Channel | None = None
    caller: Channel | None = None


class UnknownEvent(_Model):
    """An event type we do not model; `raw` is the JSON Asterisk sent."""

    type: str
    raw: dict[str, Any]


KnownEvent = Annotated[
    StasisStart
    | StasisEnd
    | ChannelDtmfReceived
    | ChannelHangupRequest
    | ChannelDestroyed
    | ChannelStateChange
    | ChannelVarset
    | ChannelEnteredBridge
    | ChannelLeftBridge
    | BridgeDestroyed
    | PlaybackStarted
    | PlaybackFinished
    | RecordingFinished
    | RecordingFailed
    | Dial,
    Field(discriminator="type"),
]
AriEvent = (
    StasisStart
    | StasisEnd
    | ChannelDtmfReceived
    | ChannelHangupRequest
    | ChannelDestroyed
    | ChannelStateChange
    | ChannelVarset
    | ChannelEnteredBridge
    | ChannelLeftBridge
    | BridgeDestroyed
    | PlaybackStarted
    | PlaybackFinished
    | RecordingFinished
    | RecordingFailed
    | Dial
    | UnknownEvent
)

_known: TypeAdapter[KnownEvent] = TypeAdapter(KnownEvent)
# each event class is named after the ARI event type it models
KNOWN_EVENT_TYPES = frozenset(
    cls.__name__
    for cls in (
        StasisStart,
        StasisEnd,
        ChannelDtmfReceived,
        ChannelHangupRequest,
        ChannelDestroyed,
        ChannelStateChange,
        ChannelVarset,
        ChannelEnteredBridge,
        ChannelLeftBridge,
        BridgeDestroyed,
        PlaybackStarted,
        PlaybackFinished,
        RecordingFinished,
        RecordingFailed,
        Dial,
    )
)


def parse_event(data: dict[str, Any]) -> AriEvent:
    """Parse one ARI event. Unknown types, and known types whose shape we cannot read, come
    back as `UnknownEvent` so nothing Asterisk sends is lost or raises in the reader."""
    kind = str(data.get("type", ""))
    if kind in KNOWN_EVENT_TYPES:
        try:
            return _known.validate_python(data)
        except ValidationError:
            pass
    return UnknownEvent(type=kind, raw=data)


def parse_event_json(text: str | bytes) -> AriEvent | None:
    """`parse_event(json.loads(text))` in one pass: pydantic reads the JSON itself (half the CPU
    of decoding to dicts and validating those; the WebSocket reader does this for every event).
    Only an event it cannot type (unknown, or a shape we cannot read) is decoded again, to keep
    it whole as `UnknownEvent`. Text that is not JSON raises ValueError like `json.loads`; JSON
    that is not an object is no event (None)."""
    try:
        return _known.validate_json(text)
    except ValidationError:
        pass
    data = json.loads(text)
    if not isinstance(data, dict):
        return None
    return UnknownEvent(type=str(data.get("type", "")), raw=data)


def event_channel_id(event: AriEvent) -> str | None:
    """The channel an event is about, for routing it to that call's inbox."""
    # the model's fields, read without getattr: a missing attribute on a pydantic model raises
    # inside BaseModel.__getattr__, which costs more than the rest of the routing
    fields = event.__dict__
    channel = fields.get("channel")
    if isinstance(channel, Channel):
        return channel.id
    playback = fields.get("playback")
    if isinstance(playback, Playback) and playback.target_uri.startswith("channel:"):
        return playback.target_uri.removeprefix("channel:")
    return None
