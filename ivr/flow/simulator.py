"""Walk a call through a flow without Asterisk: the same interpreter, fake services, a transcript.

Keys are written as groups separated by spaces (`"1 2 20270331#"`); a group is pressed when the
flow next waits for input, each character one key, so the rest of a group barges into whatever
prompt the previous key started. `.` or `T` lets the input timer run out; when the groups are
used up and the flow waits for input, the caller hangs up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import datetime

from ivr.flow import interpreter as i
from ivr.flow.catalog import Catalog
from ivr.flow.executor import Executor
from ivr.flow.model import Flow, Language
from ivr.flow.ports import AccountSummary, Fakes, IntakeOutcome
from ivr.flow.say import say_text

_MAX_EVENTS = 2000
# the call id of a simulated call (the intake service's idempotency keys and audit rows carry it)
SIMULATED_CALL = "simulated-call"


def render(play: i.Play, catalog: Catalog, language: str) -> str:
    parts = []
    for item in play.items:
        if isinstance(item, str):
            parts.append(catalog.text(item, language))
        else:
            parts.append(say_text(item.kind, item.value, language))
    return " ".join(parts)


def _fmt(values: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())


class _Call:
    """The simulator's `Effects`: every command becomes a transcript line, prompts end at once
    and queues, transfers and recordings succeed."""

    def __init__(
        self,
        flow: Flow,
        at: datetime,
        fakes: Fakes,
        catalog: Catalog,
        library: Mapping[str, Flow],
        language: Language | None,
    ) -> None:
        self.flow = flow
        self.at = at
        self.catalog = catalog
        self.library = library
        state = i.initial_state(flow, call_id="")
        self.state = state if language is None else replace(state, language=language)
        self.language: str = self.state.language
        self.lines: list[str] = []
        self.timer: str | None = None
        self.executor = Executor(self, fakes, lambda: at, SIMULATED_CALL)

    async def feed(self, event: i.FlowEvent) -> list[i.FlowEvent]:
        result = i.step(self.flow, self.state, event, self.at, self.library)
        self.state = result.state
        out: list[i.FlowEvent] = []
        for command in result.commands:
            follow_up = await self.executor.carry_out(command)
            if follow_up is not None:
                out.append(follow_up)
        return out

    async def play(self, c: i.Play) -> i.FlowEvent:
        self.lines.append(f"IVR: {render(c, self.catalog, self.language)}")
        return i.PlaybackDone(c.playback_id)

    async def stop_playback(self, c: i.StopPlayback) -> None:
        self.lines.append("   (prompt interrupted)")

    def start_timer(self, c: i.StartTimer) -> None:
        self.timer = c.name

    def cancel_timer(self, c: i.CancelTimer) -> None:
        self.timer = None if self.timer == c.name else self.timer

    def set_language(self, c: i.SetLanguage) -> None:
        self.language = c.language

    def trail(self, c: i.Trail) -> None:
        if c.event not in ("entered", "hung_up"):
            self.lines.append(f"   [{c.node}] {c.event} {_fmt(c.detail)}".rstrip())

    async def service(self, work: Awaitable[i.FlowEvent]) -> i.FlowEvent:
        return await work

    def found(self, c: i.LookupAccount, account: AccountSummary) -> None:
        return None

    def took(self, c: i.CreateIntake, outcome: IntakeOutcome) -> None:
        result = outcome.confirmation if outcome.ok else f"rejected {outcome.errors}"
        self.lines.append(f"INTAKE {c.kind}: {_fmt(c.fields)} -> {result}")

    async def enqueue(self, c: i.Enqueue) -> i.FlowEvent:
        self.lines.append(f"QUEUE {c.queue} (priority {c.priority}): {_context(c.context)}")
        self.lines.append("   an agent answers")
        return i.QueueResult("answered")

    async def transfer(self, c: i.Transfer) -> i.FlowEvent:
        self.lines.append(f"TRANSFER {c.department}: {_context(c.context)}")
        return i.TransferResult(ok=True)

    async def emergency(self, c: i.Emergency) -> i.FlowEvent:
        self.lines.append(f"EMERGENCY on-duty escalation: {_context(c.context)}")
        return i.TransferResult(ok=True)

    async def start_recording(self, c: i.Record) -> i.FlowEvent:
        self.lines.append(f"RECORD up to {c.max_s:g} s")
        return i.RecordDone(c.name)

    async def hangup(self, c: i.Hangup) -> None:
        self.lines.append("HANGUP")


def _context(context: Mapping[str, str]) -> str:
    shown = {k: v for k, v in context.items() if v and k not in ("caller_withheld", "language")}
    return _fmt(shown)


async def simulate(
    flow: Flow,
    caller: str | None,
    keys: str,
    at: datetime,
    fakes: Fakes,
    catalog: Catalog,
    *,
    language: Language | None = None,
    library: Mapping[str, Flow] | None = None,
) -> list[str]:
    """Transcript of one call from `caller` (None: withheld) pressing `keys` at `at`."""
    call = _Call(flow, at, fakes, catalog, library or {}, language)
    groups = deque(keys.split())
    events: deque[i.FlowEvent] = deque([i.Started(caller, withheld=caller is None)])
    for _ in range(_MAX_EVENTS):
        if events:
            events.extend(await call.feed(events.popleft()))
            continue
        if call.state.done:
            break
        timer = call.timer
        if timer is None:
            call.lines.append("(the flow is stuck: nothing to wait for)")
            break
        if "input" not in timer:
            call.lines.append(f"   ({timer} runs out)")
            events.extend(await call.feed(i.Timeout(timer)))
            continue
        if not groups:
            call.lines.append("CALLER: (hangs up)")
            await call.feed(i.HungUp())
            break
        group = groups.popleft()
        call.lines.append(f"CALLER: {'(silence)' if group in ('.', 'T') else group}")
        later: list[i.FlowEvent] = []
        for key in group:
            if key in ".T":
                if call.timer is not None:
                    later.extend(await call.feed(i.Timeout(call.timer)))
            else:
                later.extend(await call.feed(i.Digit(key)))
        events.extend(later)
    return call.lines
