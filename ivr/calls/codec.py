"""The channel-variable codec: what a call keeps for a restarted engine, one typed value per key.

A call keeps four things while it is in our Stasis app (in the call memory, `ivr.calls.memory`,
and on the channel for engines of before it): where it is in its flow (`STATE`,
`HOTLINE_STATE`), its place in a queue (`QUEUE`, `HOTLINE_QUEUE`), the agent's phone ringing
for it (`OFFER`, `HOTLINE_OFFER`) and the conversation it is in (`TALK`, `HOTLINE_TALK`).
Each is one JSON object with a format version `v`:

    text = QUEUE.encode(Membership("general", 0, enqueued_at))
    kept = QUEUE.decode(text)   # Kept(value=Membership(...), problem="")

`decode` never raises: "" is nothing kept (`Kept(None)`); a damaged value, or one written by an
engine of another format version, is `Kept(None, problem)`, where `problem` says why in words
fit for a log line (field names and what is wrong with them, never the kept values: they hold
callers' entries). Values kept before the codec carry no `v`: they are version 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AwareDatetime, Field, TypeAdapter, ValidationError

from ivr.flow.interpreter import CallState

VERSION = 1
"""The format every key is written in; a value of another version is not read."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Kept(Generic[T]):
    """What `decode` found: `value`, or None with `problem` saying why ("" if nothing was kept)."""

    value: T | None
    problem: str = ""


class Key(Generic[T]):
    """One channel variable (`name`) and its typed value."""

    def __init__(
        self, name: str, kind: type[T], to_wire: Callable[[T], Mapping[str, object]]
    ) -> None:
        self.name = name
        self._to_wire = to_wire
        self._adapter: TypeAdapter[T] = TypeAdapter(kind)

    def encode(self, value: T) -> str:
        return json.dumps(
            {"v": VERSION, **self._to_wire(value)}, ensure_ascii=False, separators=(",", ":")
        )

    def decode(self, text: str) -> Kept[T]:
        if not text:
            return Kept(None)
        try:
            data = json.loads(text)
        except ValueError:
            return Kept(None, f"{self.name}: not JSON")
        if not isinstance(data, dict):
            return Kept(None, f"{self.name}: not a JSON object")
        version = data.get("v", VERSION)
        if version != VERSION:
            # written by an engine of another format: its meaning is not ours to guess
            shown = str(version)[:16]
            return Kept(None, f"{self.name}: format version {shown} (this engine reads {VERSION})")
        try:
            return Kept(self._adapter.validate_python(data))
        except ValidationError as exc:
            return Kept(None, f"{self.name}: {_problems(exc)}")

    def __repr__(self) -> str:
        return f"Key({self.name!r})"


def _problems(exc: ValidationError) -> str:
    # loc and msg only: pydantic's `input` would put the kept value into the log
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}"
        for e in exc.errors(include_input=False, include_url=False)
    )


# ---------------------------------------------------------------------------- HOTLINE_QUEUE


@dataclass(frozen=True, slots=True)
class Membership:
    """A waiting caller's place: from these a restarted engine rebuilds the same queue order.
    `announced_at`: when the caller last heard their place and wait (None: not yet), and
    `callback_offered`: they heard the callback offer, `called_back`: this call is the call
    back (no second one); with them a restarted engine goes on with the caller's schedule
    instead of starting it again."""

    queue: str
    priority: int
    enqueued_at: datetime
    announced_at: datetime | None = None
    callback_offered: bool = False
    called_back: bool = False


def _membership_wire(m: Membership) -> Mapping[str, object]:
    wire: dict[str, object] = {
        "queue": m.queue,
        "priority": m.priority,
        "enqueued_at": m.enqueued_at.isoformat(),
    }
    # written only when set: a place kept by an older engine reads the same
    if m.announced_at is not None:
        wire["announced_at"] = m.announced_at.isoformat()
    if m.callback_offered:
        wire["callback_offered"] = True
    if m.called_back:
        wire["called_back"] = True
    return wire


QUEUE = Key("HOTLINE_QUEUE", Membership, _membership_wire)


# ---------------------------------------------------------------------------- HOTLINE_TALK

_Id = Annotated[str, Field(min_length=1)]


@dataclass(frozen=True, slots=True)
class Talk:
    """The conversation a caller is in: with an agent of `queue`, or with a department (`queue`
    and `agent` empty) on staff leg `leg` in bridge `bridge`. A restarted engine follows it
    instead of taking the caller back into the flow. `held_since`: the agent put the caller on
    hold then (out of the bridge, on music): the next engine keeps them so, and the agent can
    still resume."""

    queue: str
    agent: str
    leg: _Id
    bridge: _Id
    held_since: AwareDatetime | None = None


def _talk_wire(t: Talk) -> Mapping[str, object]:
    wire: dict[str, object] = {
        "queue": t.queue,
        "agent": t.agent,
        "leg": t.leg,
        "bridge": t.bridge,
    }
    if t.held_since is not None:
        # only when held: a talk without it reads the same for an engine from before holds
        wire["held_since"] = t.held_since.isoformat()
    return wire


TALK = Key("HOTLINE_TALK", Talk, _talk_wire)


# ---------------------------------------------------------------------------- HOTLINE_OFFER


@dataclass(frozen=True, slots=True)
class Ringing:
    """The agent's phone ringing for a waiting caller: agent `agent`, staff leg `leg` (kept
    before the ring starts). A restarted engine follows that leg: the agent who answers it
    talks to the caller, instead of being hung up on and rung again."""

    agent: _Id
    leg: _Id


def _ringing_wire(r: Ringing) -> Mapping[str, object]:
    return {"agent": r.agent, "leg": r.leg}


OFFER = Key("HOTLINE_OFFER", Ringing, _ringing_wire)


# ---------------------------------------------------------------------------- HOTLINE_STATE


@dataclass(frozen=True, slots=True)
class RecordSoFar:
    """What the call's record held when the state was kept: its start, the keys pressed."""

    started_at: str = ""
    digits: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SavedFlow:
    """Where the call is in its flow (the interpreter's state) and on which flow version
    (`flow` id and file `digest`): a restarted engine resumes it at the same node."""

    flow: str
    digest: str
    state: CallState
    record: RecordSoFar = field(default_factory=RecordSoFar)


def state_dict(state: CallState) -> dict[str, Any]:
    """`dataclasses.asdict(state)`, without its deep copy of every value (done after each step:
    the values are strings, numbers and one dict of strings; only the frames are dataclasses)."""
    values = dict(state.__dict__)
    values["variables"] = dict(state.variables)
    values["stack"] = tuple(asdict(frame) for frame in state.stack)
    return values


def _saved_flow_wire(s: SavedFlow) -> Mapping[str, object]:
    record = {"started_at": s.record.started_at, "digits": list(s.record.digits)}
    return {"flow": s.flow, "digest": s.digest, "state": state_dict(s.state), "record": record}


STATE = Key("HOTLINE_STATE", SavedFlow, _saved_flow_wire)
