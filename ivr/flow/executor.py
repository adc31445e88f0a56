"""`Executor`: what each of the interpreter's commands means, written once for the live call
session (`ivr.calls.session`) and the simulator (`ivr.flow.simulator`).

The interpreter returns commands as data. The service commands — account look-up, opening
hours, notices, intake — are carried out here against the flow's ports and answered with the
flow event the interpreter waits for, the same for a real call and a simulated one (so `hotline
simulate` cannot drift from what a caller gets). What differs between the two is handed to their
`Effects`: how a prompt is played and a timer kept, what a queue, a transfer or a recording does,
where the trail goes, and how long a service may take before the flow takes its error branch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from ivr.flow import interpreter as i
from ivr.flow.ports import (
    AccountDirectory,
    AccountSummary,
    Calendar,
    IntakeOutcome,
    IntakeSink,
    NoticeBoard,
)


class FlowServices(Protocol):
    """The ports the service commands ask (`ivr.calls.services.CallServices` in the engine,
    `ivr.flow.ports.Fakes` in the simulator)."""

    @property
    def accounts(self) -> AccountDirectory: ...

    @property
    def calendar(self) -> Calendar: ...

    @property
    def notices(self) -> NoticeBoard: ...

    @property
    def intake(self) -> IntakeSink: ...


class Effects(Protocol):
    """The commands whose effect is the caller's (or the transcript's), and two observations."""

    async def play(self, c: i.Play) -> i.FlowEvent | None: ...

    async def stop_playback(self, c: i.StopPlayback) -> None: ...

    def start_timer(self, c: i.StartTimer) -> None: ...

    def cancel_timer(self, c: i.CancelTimer) -> None: ...

    def set_language(self, c: i.SetLanguage) -> None: ...

    def trail(self, c: i.Trail) -> None: ...

    async def hangup(self, c: i.Hangup) -> None: ...

    async def enqueue(self, c: i.Enqueue) -> i.FlowEvent: ...

    async def transfer(self, c: i.Transfer) -> i.FlowEvent: ...

    async def emergency(self, c: i.Emergency) -> i.FlowEvent: ...

    async def start_recording(self, c: i.Record) -> i.FlowEvent | None: ...

    async def service(self, work: Awaitable[i.FlowEvent]) -> i.FlowEvent:
        """Await one service command's `work` (the session bounds it and turns a failure into
        the flow's error branch)."""
        ...

    def found(self, c: i.LookupAccount, account: AccountSummary) -> None:
        """A look-up matched exactly one account."""
        ...

    def took(self, c: i.CreateIntake, outcome: IntakeOutcome) -> None:
        """The intake service answered a request (created or rejected)."""
        ...


class Executor:
    def __init__(
        self,
        effects: Effects,
        services: FlowServices,
        clock: Callable[[], datetime],
        call_id: str,
    ) -> None:
        self._effects = effects
        self._services = services
        self._clock = clock
        self._call_id = call_id

    async def carry_out(self, c: i.Command) -> i.FlowEvent | None:
        """Carry out `c`; the flow event it answers at once, if any (other answers come later
        as events of their own: a prompt that ends, a timer that runs out)."""
        return await _CARRY_OUT[type(c)](self, c)

    # ------------------------------------------------------------------ services

    async def _look_up(self, c: i.LookupAccount) -> i.FlowEvent:
        return await self._effects.service(self._account(c))

    async def _account(self, c: i.LookupAccount) -> i.FlowEvent:
        accounts = self._services.accounts
        found: list[AccountSummary]
        if c.by == "phone":
            found = list(await accounts.lookup_by_phone(c.value, call_id=self._call_id))
        else:
            one = await accounts.lookup_by_customer_number(c.value, call_id=self._call_id)
            found = [one] if one is not None else []
        if len(found) > 1:
            return i.AccountResult("several", {"account_count": str(len(found))})
        if not found:
            return i.AccountResult("none")
        self._effects.found(c, found[0])
        return i.AccountResult("found", {**found[0].variables(), "account_count": "1"})

    async def _check_hours(self, c: i.CheckHours) -> i.FlowEvent:
        return await self._effects.service(self._hours(c))

    async def _hours(self, c: i.CheckHours) -> i.FlowEvent:
        return i.HoursResult(await self._services.calendar.state_at(c.calendar, self._clock()))

    async def _fetch_notices(self, c: i.FetchNotices) -> i.FlowEvent:
        return await self._effects.service(self._notices(c))

    async def _notices(self, c: i.FetchNotices) -> i.FlowEvent:
        prompts = await self._services.notices.active_for(c.area, self._clock())
        return i.NoticesResult(tuple(prompts))

    async def _create_intake(self, c: i.CreateIntake) -> i.FlowEvent:
        return await self._effects.service(self._intake(c))

    async def _intake(self, c: i.CreateIntake) -> i.FlowEvent:
        # the key is unique per call; the intake service creates at most one request per key
        outcome = await self._services.intake.create(
            c.kind, c.fields, f"{self._call_id}:{c.key}", call_id=self._call_id
        )
        self._effects.took(c, outcome)
        return i.IntakeResult(outcome.ok, outcome.confirmation, outcome.errors)

    # ------------------------------------------------------------------ effects

    async def _play(self, c: i.Play) -> i.FlowEvent | None:
        return await self._effects.play(c)

    async def _stop_playback(self, c: i.StopPlayback) -> None:
        await self._effects.stop_playback(c)

    async def _start_timer(self, c: i.StartTimer) -> None:
        self._effects.start_timer(c)

    async def _cancel_timer(self, c: i.CancelTimer) -> None:
        self._effects.cancel_timer(c)

    async def _set_language(self, c: i.SetLanguage) -> None:
        self._effects.set_language(c)

    async def _trail(self, c: i.Trail) -> None:
        self._effects.trail(c)

    async def _hangup(self, c: i.Hangup) -> None:
        await self._effects.hangup(c)

    async def _enqueue(self, c: i.Enqueue) -> i.FlowEvent:
        return await self._effects.enqueue(c)

    async def _transfer(self, c: i.Transfer) -> i.FlowEvent:
        return await self._effects.transfer(c)

    async def _emergency(self, c: i.Emergency) -> i.FlowEvent:
        return await self._effects.emergency(c)

    async def _record(self, c: i.Record) -> i.FlowEvent | None:
        return await self._effects.start_recording(c)


# Keyed on the exact class: the interpreter's commands are never subclassed. Every command has
# its entry (tests/unit/flow/test_executor.py checks the table against `Command`).
_CARRY_OUT: dict[type, Callable[[Executor, Any], Awaitable[i.FlowEvent | None]]] = {
    i.Play: Executor._play,
    i.StopPlayback: Executor._stop_playback,
    i.StartTimer: Executor._start_timer,
    i.CancelTimer: Executor._cancel_timer,
    i.SetLanguage: Executor._set_language,
    i.Trail: Executor._trail,
    i.Hangup: Executor._hangup,
    i.LookupAccount: Executor._look_up,
    i.CheckHours: Executor._check_hours,
    i.FetchNotices: Executor._fetch_notices,
    i.CreateIntake: Executor._create_intake,
    i.Enqueue: Executor._enqueue,
    i.Transfer: Executor._transfer,
    i.Emergency: Executor._emergency,
    i.Record: Executor._record,
}
