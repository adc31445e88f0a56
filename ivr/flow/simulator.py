"""Walk a call through a flow without Asterisk: the same interpreter, fake services, a transcript.

Keys are written as groups separated by spaces (`"1 2 20270331#"`); a group is pressed when the
flow next waits for input, each character one key, so the rest of a group barges into whatever
prompt the previous key started. `.` or `T` lets the input timer run out; when the groups are
used up and the flow waits for input, the caller hangs up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from ivr.flow import interpreter as i
from ivr.flow.catalog import Catalog
from ivr.flow.lookups import look_up
from ivr.flow.model import Flow, Language
from ivr.flow.ports import Fakes
from ivr.flow.say import say_text

_MAX_EVENTS = 2000


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
        self.fakes = fakes
        self.catalog = catalog
        self.library = library
        state = i.initial_state(flow, call_id="")
        self.state = state if language is None else replace(state, language=language)
        self.language: str = self.state.language
        self.lines: list[str] = []
        self.timer: str | None = None

    async def feed(self, event: i.FlowEvent) -> list[i.FlowEvent]:
        result = i.step(self.flow, self.state, event, self.at, self.library)
        self.state = result.state
        out: list[i.FlowEvent] = []
        for command in result.commands:
            out.extend(await self.carry_out(command))
        return out

    async def carry_out(self, c: i.Command) -> list[i.FlowEvent]:
        handler = _CARRY_OUT.get(type(c))
        return [] if handler is None else await handler(self, c)

    async def play(self, c: i.Play) -> list[i.FlowEvent]:
        self.lines.append(f"IVR: {render(c, self.catalog, self.language)}")
        return [i.PlaybackDone(c.playback_id)]

    async def stop_playback(self, c: i.StopPlayback) -> list[i.FlowEvent]:
        self.lines.append("   (prompt interrupted)")
        return []

    async def start_timer(self, c: i.StartTimer) -> list[i.FlowEvent]:
        self.timer = c.name
        return []

    async def cancel_timer(self, c: i.CancelTimer) -> list[i.FlowEvent]:
        self.timer = None if self.timer == c.name else self.timer
        return []

    async def set_language(self, c: i.SetLanguage) -> list[i.FlowEvent]:
        self.language = c.language
        return []

    async def trail(self, c: i.Trail) -> list[i.FlowEvent]:
        if c.event not in ("entered", "hung_up"):
            self.lines.append(f"   [{c.node}] {c.event} {_fmt(c.detail)}".rstrip())
        return []

    async def look_up_account(self, c: i.LookupAccount) -> list[i.FlowEvent]:
        return [await self.lookup(c)]

    async def check_hours(self, c: i.CheckHours) -> list[i.FlowEvent]:
        state = await self.fakes.calendar.state_at(c.calendar, self.at)
        return [i.HoursResult(state)]

    async def fetch_notices(self, c: i.FetchNotices) -> list[i.FlowEvent]:
        return [i.NoticesResult(tuple(await self.fakes.notices.active_for(c.area, self.at)))]

    async def create_intake(self, c: i.CreateIntake) -> list[i.FlowEvent]:
        outcome = await self.fakes.intake.create(c.kind, c.fields, c.key, call_id="simulated-call")
        result = outcome.confirmation if outcome.ok else f"rejected {outcome.errors}"
        self.lines.append(f"INTAKE {c.kind}: {_fmt(c.fields)} -> {result}")
        return [i.IntakeResult(outcome.ok, outcome.confirmation, outcome.errors)]

    async def enqueue(self, c: i.Enqueue) -> list[i.FlowEvent]:
        self.lines.append(f"QUEUE {c.queue} (priority {c.priority}): {_context(c.context)}")
        self.lines.append("   an agent answers")
        return [i.QueueResult("answered")]

    async def transfer(self, c: i.Transfer) -> list[i.FlowEvent]:
        self.lines.append(f"TRANSFER {c.department}: {_context(c.context)}")
        return [i.TransferResult(ok=True)]

    async def emergency(self, c: i.Emergency) -> list[i.FlowEvent]:
        self.lines.append(f"EMERGENCY on-duty escalation: {_context(c.context)}")
        return [i.TransferResult(ok=True)]

    async def record(self, c: i.Record) -> list[i.FlowEvent]:
        self.lines.append(f"RECORD up to {c.max_s:g} s")
        return [i.RecordDone(c.name)]

    async def hangup(self, c: i.Hangup) -> list[i.FlowEvent]:
        self.lines.append("HANGUP")
        return []

    async def lookup(self, c: i.LookupAccount) -> i.FlowEvent:
        return await look_up(self.fakes.accounts, c, "simulated-call")


_CARRY_OUT: dict[type, Callable[[_Call, Any], Awaitable[list[i.FlowEvent]]]] = {
    i.Play: _Call.play,
    i.StopPlayback: _Call.stop_playback,
    i.StartTimer: _Call.start_timer,
    i.CancelTimer: _Call.cancel_timer,
    i.SetLanguage: _Call.set_language,
    i.Trail: _Call.trail,
    i.LookupAccount: _Call.look_up_account,
    i.CheckHours: _Call.check_hours,
    i.FetchNotices: _Call.fetch_notices,
    i.CreateIntake: _Call.create_intake,
    i.Enqueue: _Call.enqueue,
    i.Transfer: _Call.transfer,
    i.Emergency: _Call.emergency,
    i.Record: _Call.record,
    i.Hangup: _Call.hangup,
}


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
