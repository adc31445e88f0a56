"""Typed model of a dialplan YAML file: a flow header and a mapping of nodes keyed by id.

Every node is a pydantic model with `extra="forbid"`, discriminated on `kind`. The loader feeds
these models plain strings (YAML scalars are never typed by YAML itself) and pydantic converts
them; `targets()` and `prompt_refs()` list a node's edges and prompt ids with the key path each
came from, so graph checks can point at a line.
"""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from ivr.domain import RequestKind

DTMF_KEYS = "0123456789*#"
Language = Literal["ja", "en"]
SayKind = Literal["digits", "number", "date", "money", "code"]
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
PROMPT_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
FLOW_ID_PATTERN = r"^[a-z][a-z0-9_-]*$"

KeyPath = tuple[str, ...]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Say(_Strict):
    """A value read out from a variable: `{say: date, var: moving_date}`."""

    say: SayKind
    var: Annotated[str, Field(pattern=NAME_PATTERN)]


def _prompt_item_kind(value: object) -> str:
    return "say" if isinstance(value, dict | Say) else "prompt"


# tagged, so a bad prompt id is one error about the id, not two (one per union member)
PromptItem = Annotated[
    Annotated[str, Field(pattern=PROMPT_PATTERN), Tag("prompt")] | Annotated[Say, Tag("say")],
    Discriminator(_prompt_item_kind),
]

#: What each `collect` validator accepts: (fewest, most) keys. A Japanese phone number is 10
#: digits (fixed lines) or 11 (mobiles, 050), its leading 0 included.
KEYED_LENGTHS: dict[str, tuple[int, int]] = {
    "date": (8, 8),
    "customer_number": (10, 10),
    "phone": (10, 11),
}


def _dtmf_key(key: str) -> str:
    if len(key) != 1 or key not in DTMF_KEYS:
        raise ValueError(f"option key {key!r} is not a single key 0-9, * or #")
    return key


DtmfKey = Annotated[str, AfterValidator(_dtmf_key)]


def _prompts(*ids: str) -> list[PromptItem]:
    return list(ids)


def _as_list(cls: object, value: object) -> object:
    return [value] if isinstance(value, str | dict) else value


class _Node(_Strict):
    def targets(self) -> list[tuple[KeyPath, str]]:
        """Every node id this node can go to, with the key path naming it."""
        return []

    def prompt_refs(self) -> list[tuple[KeyPath, str]]:
        """Every prompt id this node plays, with the key path naming it."""
        refs: list[tuple[KeyPath, str]] = []
        for name in ("prompts", "on_invalid", "on_timeout"):
            items = getattr(self, name, None) or []
            for i, item in enumerate(items):
                if isinstance(item, str):
                    refs.append(((name, str(i)), item))
        return refs

    def _edges(self, *names: str) -> list[tuple[KeyPath, str]]:
        out: list[tuple[KeyPath, str]] = []
        for name in names:
            value = getattr(self, name)
            if value is not None:
                out.append(((name,), value))
        return out


Prompts = Annotated[list[PromptItem], Field(min_length=1)]


class PlayNode(_Node):
    kind: Literal["play"]
    prompts: Prompts
    next: str

    _list = field_validator("prompts", mode="before")(_as_list)

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("next")


class MenuNode(_Node):
    kind: Literal["menu"]
    prompts: Prompts
    options: dict[DtmfKey, str] = Field(min_length=1)
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 6
    retries: Annotated[int, Field(ge=0, le=9)] = 2
    on_invalid: list[PromptItem] = Field(default_factory=lambda: _prompts("invalid-choice"))
    on_timeout: list[PromptItem] = Field(default_factory=lambda: _prompts("no-input"))
    on_exhausted: str | None = None

    _list = field_validator("prompts", "on_invalid", "on_timeout", mode="before")(_as_list)

    def targets(self) -> list[tuple[KeyPath, str]]:
        return [(("options", k), v) for k, v in self.options.items()] + self._edges("on_exhausted")


class CollectNode(_Node):
    kind: Literal["collect"]
    into: Annotated[str, Field(pattern=NAME_PATTERN)]
    prompts: Prompts
    min_len: Annotated[int, Field(ge=1, le=32)] = 1
    max_len: Annotated[int, Field(ge=1, le=32)] = 16
    terminator: Literal["#", "*"] | None = "#"
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 8
    retries: Annotated[int, Field(ge=0, le=9)] = 2
    validator: Literal["date", "customer_number", "phone"] | None = None
    confirm: bool = False
    read_back_as: SayKind | None = None
    on_invalid: list[PromptItem] = Field(default_factory=lambda: _prompts("invalid-entry"))
    on_timeout: list[PromptItem] = Field(default_factory=lambda: _prompts("no-input"))
    next: str
    on_exhausted: str | None = None

    _list = field_validator("prompts", "on_invalid", "on_timeout", mode="before")(_as_list)

    @model_validator(mode="after")
    def _lengths_can_be_keyed(self) -> CollectNode:
        if self.min_len > self.max_len:
            raise ValueError(f"min_len {self.min_len} is more than max_len {self.max_len}")
        if self.validator is not None:
            fewest, most = KEYED_LENGTHS[self.validator]
            if most < self.min_len or fewest > self.max_len:
                wanted = f"{fewest}" if fewest == most else f"{fewest}-{most}"
                raise ValueError(
                    f"validator {self.validator} takes {wanted} keys, but min_len-max_len is "
                    f"{self.min_len}-{self.max_len}: no entry could ever pass"
                )
        return self

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("next", "on_exhausted")


class LookupAccountNode(_Node):
    kind: Literal["lookup_account"]
    by: Annotated[str, Field(pattern=NAME_PATTERN)]
    found: str
    several: str
    none: str
    withheld: str | None = None
    on_error: str | None = None
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 5

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("found", "several", "none", "withheld", "on_error")


class SwitchNode(_Node):
    kind: Literal["switch"]
    variable: Annotated[str, Field(pattern=NAME_PATTERN)]
    cases: dict[str, str] = Field(min_length=1)
    default: str

    def targets(self) -> list[tuple[KeyPath, str]]:
        return [(("cases", k), v) for k, v in self.cases.items()] + self._edges("default")


class HoursNode(_Node):
    kind: Literal["hours"]
    calendar: str
    open: str
    closed: str
    holiday: str | None = None
    peak: str | None = None
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 3

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("open", "closed", "holiday", "peak")


class NoticesNode(_Node):
    kind: Literal["notices"]
    area_var: Annotated[str, Field(pattern=NAME_PATTERN)] = "account_area"
    next: str
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 3

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("next")


IntakeKind = RequestKind
"""An `intake` node's `request:` (the intake service's own kinds)."""


class IntakeNode(_Node):
    kind: Literal["intake"]
    request: IntakeKind
    fields: dict[str, Annotated[str, Field(pattern=NAME_PATTERN)]]
    into: Annotated[str, Field(pattern=NAME_PATTERN)] = "confirmation"
    on_created: str
    on_rejected: str
    on_error: str | None = None
    timeout_s: Annotated[float, Field(gt=0, le=60)] = 10

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("on_created", "on_rejected", "on_error")


class QueueNode(_Node):
    kind: Literal["queue"]
    queue: str
    priority: Annotated[int, Field(ge=0, le=9)] = 0
    prompts: list[PromptItem] = Field(default_factory=list)
    max_wait_s: Annotated[float, Field(gt=0, le=7200)] = 1800
    on_overflow: str | None = None
    on_closed: str | None = None

    _list = field_validator("prompts", mode="before")(_as_list)

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("on_overflow", "on_closed")


class TransferNode(_Node):
    kind: Literal["transfer"]
    department: str
    prompts: list[PromptItem] = Field(default_factory=list)
    timeout_s: Annotated[float, Field(gt=0, le=300)] = 60
    on_failed: str | None = None

    _list = field_validator("prompts", mode="before")(_as_list)

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("on_failed")


class EmergencyNode(_Node):
    kind: Literal["emergency"]
    prompts: list[PromptItem] = Field(default_factory=list)
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 120
    on_failed: str | None = None

    _list = field_validator("prompts", mode="before")(_as_list)

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("on_failed")


class RecordNode(_Node):
    kind: Literal["record"]
    variable: Annotated[str, Field(pattern=NAME_PATTERN)]
    prompts: list[PromptItem] = Field(default_factory=list)
    max_s: Annotated[float, Field(gt=0, le=300)] = 60
    next: str

    _list = field_validator("prompts", mode="before")(_as_list)

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("next")


class SetNode(_Node):
    kind: Literal["set"]
    values: dict[Annotated[str, Field(pattern=NAME_PATTERN)], str] = Field(min_length=1)
    next: str

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("next")


class GotoNode(_Node):
    kind: Literal["goto"]
    target: str

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("target")


class SubflowNode(_Node):
    kind: Literal["subflow"]
    flow: str
    next: str

    def targets(self) -> list[tuple[KeyPath, str]]:
        return self._edges("next")


class ReturnNode(_Node):
    kind: Literal["return"]


class HangupNode(_Node):
    kind: Literal["hangup"]
    prompts: list[PromptItem] = Field(default_factory=list)

    _list = field_validator("prompts", mode="before")(_as_list)


Node = Annotated[
    PlayNode
    | MenuNode
    | CollectNode
    | LookupAccountNode
    | SwitchNode
    | HoursNode
    | NoticesNode
    | IntakeNode
    | QueueNode
    | TransferNode
    | EmergencyNode
    | RecordNode
    | SetNode
    | GotoNode
    | SubflowNode
    | ReturnNode
    | HangupNode,
    Field(discriminator="kind"),
]

NODE_KINDS: tuple[str, ...] = tuple(
    cls.model_fields["kind"].annotation.__args__[0] for cls in get_args(get_args(Node)[0])
)

#: Kinds that wait for the caller (DTMF or voice); a cycle must contain one of them.
INPUT_KINDS = frozenset({"menu", "collect", "record"})
#: Kinds after which the flow has handed the call over or ended it.
TERMINAL_KINDS = frozenset({"queue", "transfer", "emergency", "hangup", "return"})


class FlowInfo(_Strict):
    id: Annotated[str, Field(pattern=FLOW_ID_PATTERN)]
    version: str | None = None
    start: str
    fallback: str
    language_default: Language = "ja"
    playback_guard_s: Annotated[float, Field(gt=0, le=600)] = 120


class Flow(_Strict):
    """One flow file: `flow:` header and `nodes:`."""

    flow: FlowInfo
    nodes: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Node] = Field(min_length=1)

    @property
    def id(self) -> str:
        return self.flow.id

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]


def is_dtmf_key(key: str) -> bool:
    return len(key) == 1 and key in DTMF_KEYS


#: Variables set by the interpreter itself (at start, by `lookup_account`, `intake`, `notices`).
ACCOUNT_VARS = (
    "account_number",
    "account_area",
    "account_status",
    "account_balance",
    "account_payment",
    "account_count",
)
BUILTIN_VARS = frozenset(
    {"caller_id", "caller_withheld", "language", "intake_errors", "notice_count", *ACCOUNT_VARS}
)
