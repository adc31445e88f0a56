"""The flow interpreter: a pure function from (flow, call state, event, now) to (state, commands).

It never performs I/O. The call session turns commands into ARI requests and service calls and
feeds their outcomes back as events; the simulator and the tests do the same with fakes. All ids
it hands out (playbacks, timers, intake keys) come from a counter in the state, so they are known
before any request is sent and stale events (a `PlaybackDone` for a prompt already stopped, a
`Timeout` for a cancelled timer) are recognised and ignored.

Every wait has a timer: prompts have a playback guard, input has the node's `timeout_s`, service
calls their own timeout. Digits pressed during a menu or collect prompt stop it (barge-in).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

from ivr.domain import HoursState
from ivr.flow import model as m
from ivr.flow.say import say_prompts
from ivr.flow.validators import validate

# --- events ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    caller_id: str | None
    withheld: bool = False


@dataclass(frozen=True)
class Digit:
    key: str


@dataclass(frozen=True)
class PlaybackDone:
    playback_id: str


@dataclass(frozen=True)
class Timeout:
    timer: str


@dataclass(frozen=True)
class AccountResult:
    outcome: Literal["found", "several", "none", "error"]
    account: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IntakeResult:
    ok: bool
    confirmation: str | None = None
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class HoursResult:
    state: HoursState


@dataclass(frozen=True)
class NoticesResult:
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class QueueResult:
    outcome: Literal["answered", "overflow", "closed", "abandoned"]


@dataclass(frozen=True)
class TransferResult:
    ok: bool


@dataclass(frozen=True)
class RecordDone:
    recording: str


@dataclass(frozen=True)
class HungUp:
    pass


@dataclass(frozen=True)
class Failed:
    """A command could not be carried out (an unexpected error): apologise, fall back."""

    reason: str


FlowEvent = (
    Started
    | Digit
    | PlaybackDone
    | Timeout
    | AccountResult
    | IntakeResult
    | HoursResult
    | NoticesResult
    | QueueResult
    | TransferResult
    | RecordDone
    | HungUp
    | Failed
)

# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Said:
    """A value read out: the prompt ids to play plus what they say, for text renderings."""

    kind: m.SayKind
    value: str
    prompts: tuple[str, ...]


@dataclass(frozen=True)
class Play:
    items: tuple[str | Said, ...]
    playback_id: str

    @property
    def prompt_ids(self) -> tuple[str, ...]:
        out: list[str] = []
        for item in self.items:
            out.extend((item,) if isinstance(item, str) else item.prompts)
        return tuple(out)


@dataclass(frozen=True)
class StopPlayback:
    playback_id: str


@dataclass(frozen=True)
class StartTimer:
    name: str
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class LookupAccount:
    by: Literal["phone", "customer_number"]
    value: str


@dataclass(frozen=True)
class CheckHours:
    calendar: str


@dataclass(frozen=True)
class FetchNotices:
    area: str


@dataclass(frozen=True)
class CreateIntake:
    kind: m.IntakeKind
    fields: Mapping[str, str]
    key: str
    """Idempotency key, unique within the call: a retried request must not create a second one."""


@dataclass(frozen=True)
class Enqueue:
    queue: str
    priority: int
    context: Mapping[str, str]


@dataclass(frozen=True)
class Transfer:
    department: str
    context: Mapping[str, str]


@dataclass(frozen=True)
class Emergency:
    context: Mapping[str, str]


@dataclass(frozen=True)
class Record:
    name: str
    max_s: float


@dataclass(frozen=True)
class SetLanguage:
    language: m.Language


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Trail:
    """An entry for the call's append-only event trail; `detail` never holds keyed-in values."""

    event: str
    node: str
    detail: Mapping[str, str] = field(default_factory=dict)


Command = (
    Play
    | StopPlayback
    | StartTimer
    | CancelTimer
    | LookupAccount
    | CheckHours
    | FetchNotices
    | CreateIntake
    | Enqueue
    | Transfer
    | Emergency
    | Record
    | SetLanguage
    | Hangup
    | Trail
)

# --- state ----------------------------------------------------------------------------------

Phase = Literal[
    "idle", "prompt", "input", "confirm-prompt", "confirm-input", "service", "final", "done"
]


@dataclass(frozen=True)
class Frame:
    flow_id: str
    flow_version: str | None
    return_to: str


@dataclass(frozen=True)
class CallState:
    flow_id: str
    flow_version: str | None
    node: str
    call_id: str = ""
    phase: Phase = "idle"
    variables: Mapping[str, str] = field(default_factory=dict)
    retries: int = 0
    language: m.Language = "ja"
    counter: int = 0
    playback: str | None = None
    timer: str | None = None
    buffer: str = ""
    stack: tuple[Frame, ...] = ()
    in_fallback: bool = False

    @property
    def done(self) -> bool:
        return self.phase == "done"


_STATE_FIELDS = frozenset(f.name for f in fields(CallState))


@dataclass(frozen=True)
class Step:
    state: CallState
    commands: tuple[Command, ...]


def initial_state(flow: m.Flow, call_id: str = "") -> CallState:
    return CallState(
        flow_id=flow.id,
        flow_version=flow.flow.version,
        node=flow.flow.start,
        call_id=call_id,
        language=flow.flow.language_default,
    )


class FlowBug(Exception):
    """The interpreter met a situation the checks should have prevented."""


SYSTEM_ERROR = "system-error"
_MAX_HOPS = 64
_SERVICE_TIMEOUT_S = 5.0


def step(
    flow: m.Flow,
    state: CallState,
    event: FlowEvent,
    now: datetime,
    library: Mapping[str, m.Flow] | None = None,
) -> Step:
    """Run `event` to completion; `library` holds the flows `subflow` nodes may call."""
    if state.done:
        return Step(state, ())
    run = _Run(flow, library or {}, state, now)
    try:
        run.handle(event)
    except (FlowBug, LookupError, ValueError) as exc:
        # A flow that passed the checks should not get here; the caller still must not hear
        # silence, so start again from the state before the event and fall back.
        run = _Run(flow, library or {}, state, now)
        run.abandon_waits()
        run.fallback(f"internal: {type(exc).__name__}")
    return Step(run.state, tuple(run.commands))


class _Run:
    def __init__(
        self, flow: m.Flow, library: Mapping[str, m.Flow], state: CallState, now: datetime
    ) -> None:
        self.main = flow
        self.library = library
        self.state = state
        self.now = now
        self.commands: list[Command] = []
        self.hops = 0

    # -- plumbing

    @property
    def flow(self) -> m.Flow:
        if self.state.flow_id == self.main.id:
            return self.main
        return self.library[self.state.flow_id]

    @property
    def node(self) -> m.Node:
        return self.flow.nodes[self.state.node]

    def emit(self, command: Command) -> None:
        self.commands.append(command)

    def update(self, **changes: object) -> None:
        # `dataclasses.replace` runs the generated __init__ (every field, frozen setattr): ~35
        # times a call that was the interpreter's largest cost. A copy of the instance dict is
        # the same new state at a third of the price; an unknown name still raises.
        if not _STATE_FIELDS.issuperset(changes):
            raise TypeError(f"CallState has no field(s) {sorted(set(changes) - _STATE_FIELDS)}")
        state = object.__new__(CallState)
        values = state.__dict__
        values.update(self.state.__dict__)
        values.update(changes)
        self.state = state

    def new_id(self, prefix: str) -> str:
        n = self.state.counter + 1
        self.update(counter=n)
        return f"{self.state.call_id}-{prefix}-{n}" if self.state.call_id else f"{prefix}-{n}"

    def set_vars(self, values: Mapping[str, str]) -> None:
        self.update(variables={**self.state.variables, **values})

    def trail(self, event: str, **detail: str) -> None:
        self.emit(Trail(event, self.state.node, detail))

    def start_timer(self, purpose: str, seconds: float) -> None:
        self.cancel_timer()
        name = self.new_id(purpose)
        self.emit(StartTimer(name, seconds))
        self.update(timer=name)

    def cancel_timer(self) -> None:
        if self.state.timer is not None:
            self.emit(CancelTimer(self.state.timer))
            self.update(timer=None)

    def stop_playback(self) -> None:
        if self.state.playback is not None:
            self.emit(StopPlayback(self.state.playback))
            self.update(playback=None)

    def abandon_waits(self) -> None:
        self.stop_playback()
        self.cancel_timer()

    def play(self, items: list[m.PromptItem], phase: Phase) -> None:
        rendered = self.render(items)
        self.update(phase=phase)
        if not rendered:
            self.after_playback()
            return
        playback = self.new_id("pb")
        self.emit(Play(rendered, playback))
        self.update(playback=playback)
        self.start_timer("playback", self.main.flow.playback_guard_s)

    def render(self, items: list[m.PromptItem]) -> tuple[str | Said, ...]:
        out: list[str | Said] = []
        for item in items:
            if isinstance(item, str):
                out.append(item)
                continue
            value = self.state.variables.get(item.var)
            if not value:
                continue
            try:
                prompts = say_prompts(item.say, value, self.state.language)
            except ValueError:
                continue
            out.append(Said(item.say, value, prompts))
        return tuple(out)

    def goto(self, target: str) -> None:
        self.abandon_waits()
        self.hops += 1
        if self.hops > _MAX_HOPS:
            raise FlowBug("too many moves without waiting")
        self.update(node=target, phase="idle", retries=0, buffer="")
        self.enter()

    def fallback(self, reason: str) -> None:
        self.abandon_waits()
        if self.state.in_fallback or self.state.node == self.flow.flow.fallback:
            self.trail("gave_up", reason=reason)
            self.update(phase="final")
            self.play([SYSTEM_ERROR], "final")
            return
        self.trail("fallback", reason=reason)
        self.update(in_fallback=True)
        self.goto(self.flow.flow.fallback)

    def goto_or_fallback(self, target: str | None, reason: str) -> None:
        if target is None:
            self.fallback(reason)
        else:
            self.goto(target)

    def finish(self) -> None:
        self.abandon_waits()
        self.update(phase="done")

    # -- entering nodes

    def enter(self) -> None:
        node = self.node
        handler = _ENTER.get(type(node))
        if handler is not None:
            handler(self, node)

    def enter_prompted(self, node: _PromptedNode) -> None:
        self.play(list(node.prompts), "prompt")

    def enter_lookup(self, node: m.LookupAccountNode) -> None:
        v = self.state.variables
        if node.by != "caller_id":
            self.service(LookupAccount("customer_number", v.get(node.by, "")), node.timeout_s)
            return
        caller = v.get("caller_id", "")
        if v.get("caller_withheld") == "true" or not caller:
            self.trail("account_lookup", outcome="withheld")
            self.goto(node.withheld or node.none)
            return
        self.service(LookupAccount("phone", caller), node.timeout_s)

    def enter_switch(self, node: m.SwitchNode) -> None:
        value = self.state.variables.get(node.variable, "")
        target = node.cases.get(value, node.default)
        self.trail("branch", variable=node.variable, to=target)
        self.goto(target)

    def enter_hours(self, node: m.HoursNode) -> None:
        self.service(CheckHours(node.calendar), node.timeout_s)

    def enter_notices(self, node: m.NoticesNode) -> None:
        area = self.state.variables.get(node.area_var, "")
        if not area:
            self.goto(node.next)
        else:
            self.service(FetchNotices(area), node.timeout_s)

    def enter_intake(self, node: m.IntakeNode) -> None:
        v = self.state.variables
        fields = {k: v[var] for k, var in node.fields.items() if var in v}
        self.service(CreateIntake(node.request, fields, self.new_id("intake")), node.timeout_s)

    def enter_set(self, node: m.SetNode) -> None:
        self.set_vars(node.values)
        language = node.values.get("language")
        if language in ("ja", "en"):
            self.update(language=language)
            self.emit(SetLanguage(self.state.language))
        self.goto(node.next)

    def enter_goto(self, node: m.GotoNode) -> None:
        self.goto(node.target)

    def enter_subflow(self, node: m.SubflowNode) -> None:
        frame = Frame(self.state.flow_id, self.state.flow_version, node.next)
        sub = self.library[node.flow]
        self.trail("subflow", flow=sub.id)
        self.update(stack=(*self.state.stack, frame), flow_id=sub.id, flow_version=sub.flow.version)
        self.goto(sub.flow.start)

    def enter_return(self, node: m.ReturnNode) -> None:
        if not self.state.stack:
            self.emit(Hangup())
            self.finish()
            return
        frame = self.state.stack[-1]
        self.update(
            stack=self.state.stack[:-1], flow_id=frame.flow_id, flow_version=frame.flow_version
        )
        self.goto(frame.return_to)

    def service(self, command: Command, timeout_s: float) -> None:
        self.emit(command)
        self.update(phase="service")
        self.start_timer("service", timeout_s)

    def context(self) -> dict[str, str]:
        return {**self.state.variables, "node": self.state.node, "flow": self.state.flow_id}

    # -- events

    def handle(self, event: FlowEvent) -> None:
        handler = _ON_EVENT.get(type(event))
        if handler is not None:
            handler(self, event)
        elif self.state.phase == "service":
            self.on_result(event)

    def on_started(self, event: Started) -> None:
        self.set_vars(
            {
                "caller_id": event.caller_id or "",
                "caller_withheld": "true" if event.withheld or not event.caller_id else "",
                "language": self.state.language,
            }
        )
        self.emit(SetLanguage(self.state.language))
        self.trail("entered", flow=self.state.flow_id, version=self.state.flow_version or "")
        self.enter()

    def on_hung_up(self, event: HungUp) -> None:
        self.cancel_timer()
        self.update(playback=None)
        self.trail("hung_up", phase=self.state.phase)
        self.update(phase="done")

    def on_failed(self, event: Failed) -> None:
        self.trail("failed", reason=event.reason)
        self.abandon_waits()
        self.fallback("failed")

    def on_playback_done(self, event: PlaybackDone) -> None:
        if event.playback_id == self.state.playback:
            self.update(playback=None)
            self.cancel_timer()
            self.after_playback()

    def on_timer(self, event: Timeout) -> None:
        if event.timer != self.state.timer:
            return
        self.update(timer=None)
        if self.state.playback is not None:
            # The guard fired: Asterisk never said the prompt ended; go on regardless.
            self.stop_playback()
            self.after_playback()
        else:
            self.on_timeout()

    def on_digit_event(self, event: Digit) -> None:
        if self.state.phase in ("prompt", "input", "confirm-prompt", "confirm-input"):
            self.on_digit(event.key)

    def after_playback(self) -> None:
        node = self.node
        phase = self.state.phase
        if phase == "final":
            self.emit(Hangup())
            self.finish()
        elif isinstance(node, m.MenuNode | m.CollectNode):
            timeout = node.timeout_s
            self.update(phase="confirm-input" if phase == "confirm-prompt" else "input")
            self.start_timer("input", timeout)
        elif isinstance(node, m.PlayNode | m.NoticesNode):
            self.goto(node.next)
        elif isinstance(node, m.HangupNode):
            self.trail("hangup")
            self.emit(Hangup())
            self.finish()
        elif isinstance(node, m.QueueNode):
            # "to_": the flow hands the call over; the queue and the transfer write what then
            # happens to it (enqueued, offered, answered, ...) in the same trail
            self.trail("to_queue", queue=node.queue)
            self.service(Enqueue(node.queue, node.priority, self.context()), node.max_wait_s)
        elif isinstance(node, m.TransferNode):
            self.trail("to_department", department=node.department)
            self.service(Transfer(node.department, self.context()), node.timeout_s)
        elif isinstance(node, m.EmergencyNode):
            self.trail("to_emergency")
            self.service(Emergency(self.context()), node.timeout_s)
        elif isinstance(node, m.RecordNode):
            self.service(Record(self.new_id("rec"), node.max_s), node.max_s + _SERVICE_TIMEOUT_S)

    def on_digit(self, key: str) -> None:
        node = self.node
        if not isinstance(node, m.MenuNode | m.CollectNode):
            return
        if self.state.phase.startswith("confirm") and key == getattr(node, "terminator", None):
            # A terminator after the entry filled max_len: the entry is already complete.
            return
        # Barge-in: a key during the prompt stops it and counts like a key after it.
        self.abandon_waits()
        if isinstance(node, m.MenuNode):
            target = node.options.get(key)
            if target is None:
                self.trail("invalid_key")
                self.retry(node, node.on_invalid, "invalid")
            else:
                self.trail("menu_choice", key=key, to=target)
                self.goto(target)
        elif self.state.phase.startswith("confirm"):
            self.on_confirm_key(node, key)
        else:
            self.on_collect_key(node, key)

    def on_collect_key(self, node: m.CollectNode, key: str) -> None:
        if key == node.terminator:
            self.complete(node)
            return
        if key.isdigit():
            self.update(buffer=self.state.buffer + key)
        elif key == "*":
            self.update(buffer="")
        if len(self.state.buffer) >= node.max_len:
            self.complete(node)
            return
        self.update(phase="input")
        self.start_timer("input", node.timeout_s)

    def complete(self, node: m.CollectNode) -> None:
        entered = self.state.buffer
        value = None
        if node.min_len <= len(entered) <= node.max_len:
            value = validate(node.validator, entered, self.now)
        if value is None:
            self.trail("invalid_entry", variable=node.into)
            self.retry(node, node.on_invalid, "invalid")
            return
        self.set_vars({node.into: value})
        self.update(buffer="")
        if node.confirm:
            self.read_back(node, [])
        else:
            self.trail("collected", variable=node.into)
            self.goto(node.next)

    def read_back(self, node: m.CollectNode, before: list[m.PromptItem]) -> None:
        kind = node.read_back_as or ("date" if node.validator == "date" else "digits")
        self.play(
            [*before, "you-entered", m.Say(say=kind, var=node.into), "confirm-entry"],
            "confirm-prompt",
        )

    def on_confirm_key(self, node: m.CollectNode, key: str) -> None:
        if key == "1":
            self.trail("collected", variable=node.into, confirmed="true")
            self.goto(node.next)
        elif key == "2":
            self.trail("re_enter", variable=node.into)
            self.update(
                buffer="",
                variables={k: v for k, v in self.state.variables.items() if k != node.into},
            )
            self.play(list(node.prompts), "prompt")
        else:
            self.retry(node, node.on_invalid, "invalid")

    def on_timeout(self) -> None:
        node = self.node
        if self.state.phase == "service":
            self.on_result(None)
        elif isinstance(node, m.CollectNode) and self.state.phase == "input" and self.state.buffer:
            # No terminator pressed: take what was keyed once the caller pauses.
            self.complete(node)
        elif isinstance(node, m.MenuNode | m.CollectNode):
            self.trail("no_input")
            self.retry(node, node.on_timeout, "timeout")

    def retry(
        self, node: m.MenuNode | m.CollectNode, prefix: list[m.PromptItem], reason: str
    ) -> None:
        retries = self.state.retries + 1
        if retries > node.retries:
            self.trail("retries_exhausted", reason=reason)
            if node.on_exhausted is not None:
                self.goto(node.on_exhausted)
            else:
                self.fallback("retries_exhausted")
            return
        self.update(retries=retries)
        if isinstance(node, m.CollectNode) and self.state.phase.startswith("confirm"):
            self.read_back(node, prefix)
            return
        self.update(buffer="")
        self.play([*prefix, *node.prompts], "prompt")

    def on_result(self, event: FlowEvent | None) -> None:
        node = self.node
        self.cancel_timer()
        handler = _ON_RESULT.get(type(node))
        if handler is not None:
            handler(self, node, event)

    def lookup_result(self, node: m.LookupAccountNode, event: FlowEvent | None) -> None:
        if isinstance(event, AccountResult) and event.outcome != "error":
            values = {k: event.account.get(k, "") for k in m.ACCOUNT_VARS}
            self.set_vars(values)
            self.trail("account_lookup", outcome=event.outcome)
            self.goto({"found": node.found, "several": node.several}.get(event.outcome, node.none))
        elif event is None or isinstance(event, AccountResult):
            self.trail("account_lookup", outcome="error")
            self.goto_or_fallback(node.on_error, "lookup_failed")

    def hours_result(self, node: m.HoursNode, event: FlowEvent | None) -> None:
        # Without an answer from the calendar, assume open: a person can still help.
        state: HoursState = event.state if isinstance(event, HoursResult) else "open"
        self.trail("hours", calendar=node.calendar, state=state)
        branches = {
            "open": node.open,
            "closed": node.closed,
            "holiday": node.holiday or node.closed,
            "peak": node.peak or node.open,
        }
        self.goto(branches[state])

    def notices_result(self, node: m.NoticesNode, event: FlowEvent | None) -> None:
        prompts = event.prompts if isinstance(event, NoticesResult) else ()
        self.set_vars({"notice_count": str(len(prompts))})
        self.trail("notices", count=str(len(prompts)))
        self.play(list(prompts), "prompt")

    def intake_result(self, node: m.IntakeNode, event: FlowEvent | None) -> None:
        if isinstance(event, IntakeResult) and event.ok and event.confirmation:
            self.set_vars({node.into: event.confirmation})
            self.trail("intake_created", kind=node.request)
            self.goto(node.on_created)
        elif isinstance(event, IntakeResult) and not event.ok:
            self.set_vars({"intake_errors": ",".join(event.errors)})
            self.trail("intake_rejected", kind=node.request)
            self.goto(node.on_rejected)
        elif event is None or isinstance(event, IntakeResult):
            self.trail("intake_failed", kind=node.request)
            self.goto_or_fallback(node.on_error, "intake_failed")

    def queue_result(self, node: m.QueueNode, event: FlowEvent | None) -> None:
        outcome = event.outcome if isinstance(event, QueueResult) else "overflow"
        self.trail("queue_result", queue=node.queue, outcome=outcome)
        if outcome in ("answered", "abandoned"):
            self.finish()
        elif outcome == "closed" and node.on_closed:
            self.goto(node.on_closed)
        elif outcome == "overflow" and node.on_overflow:
            self.goto(node.on_overflow)
        else:
            self.fallback(f"queue_{outcome}")

    def handover_result(
        self, node: m.TransferNode | m.EmergencyNode, event: FlowEvent | None
    ) -> None:
        ok = isinstance(event, TransferResult) and event.ok
        self.trail("handed_over" if ok else "handover_failed")
        if ok:
            self.finish()
        elif node.on_failed:
            self.goto(node.on_failed)
        else:
            self.fallback("handover_failed")

    def record_result(self, node: m.RecordNode, event: FlowEvent | None) -> None:
        if isinstance(event, RecordDone):
            self.set_vars({node.variable: event.recording})
        self.goto(node.next)


_PromptedNode = (
    m.PlayNode
    | m.MenuNode
    | m.CollectNode
    | m.HangupNode
    | m.QueueNode
    | m.TransferNode
    | m.EmergencyNode
    | m.RecordNode
)

# Keyed on the exact class: node and event classes are never subclassed, and one dict look-up
# is cheaper than a chain of isinstance checks on the interpreter's hot path.
_ENTER: dict[type, Callable[[_Run, Any], None]] = {
    m.PlayNode: _Run.enter_prompted,
    m.MenuNode: _Run.enter_prompted,
    m.CollectNode: _Run.enter_prompted,
    m.HangupNode: _Run.enter_prompted,
    m.QueueNode: _Run.enter_prompted,
    m.TransferNode: _Run.enter_prompted,
    m.EmergencyNode: _Run.enter_prompted,
    m.RecordNode: _Run.enter_prompted,
    m.LookupAccountNode: _Run.enter_lookup,
    m.SwitchNode: _Run.enter_switch,
    m.HoursNode: _Run.enter_hours,
    m.NoticesNode: _Run.enter_notices,
    m.IntakeNode: _Run.enter_intake,
    m.SetNode: _Run.enter_set,
    m.GotoNode: _Run.enter_goto,
    m.SubflowNode: _Run.enter_subflow,
    m.ReturnNode: _Run.enter_return,
}

# Events not listed here are service results, read only while a service call is pending.
_ON_EVENT: dict[type, Callable[[_Run, Any], None]] = {
    Started: _Run.on_started,
    HungUp: _Run.on_hung_up,
    Failed: _Run.on_failed,
    PlaybackDone: _Run.on_playback_done,
    Timeout: _Run.on_timer,
    Digit: _Run.on_digit_event,
}

_ON_RESULT: dict[type, Callable[[_Run, Any, FlowEvent | None], None]] = {
    m.LookupAccountNode: _Run.lookup_result,
    m.HoursNode: _Run.hours_result,
    m.NoticesNode: _Run.notices_result,
    m.IntakeNode: _Run.intake_result,
    m.QueueNode: _Run.queue_result,
    m.TransferNode: _Run.handover_result,
    m.EmergencyNode: _Run.handover_result,
    m.RecordNode: _Run.record_result,
}
