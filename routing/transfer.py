"""Department transfers and the emergency on-duty escalation, run inside the caller's session.

A department leg is originated into our Stasis app with the call's context on it (`HOTLINE_CALL`,
`HOTLINE_CONTEXT` as JSON, `HOTLINE_DEPARTMENT`), `claim`ed, and bridged with the caller when it
answers. Blind: the agent leaves at once and the caller hears hold music while the department
rings. Attended: the caller waits on hold while the agent talks to the department in a
consultation bridge, then `complete` (caller joins the department, agent leaves) or `cancel`
(department leg hung up, caller back with the agent). The emergency path rings a department's
on-duty list in order (the database's list, read for each call, else config.yaml's), each step
its own ring time, bypassing hours and queues; a phone that answers must press 1 to take the call
(a voicemail does not end the escalation), and it always returns an `EmergencyOutcome` (who
accepted, every attempt) so the report is recorded even when nobody did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from ivr.ari.models import ChannelDtmfReceived, PlaybackFinished
from ivr.calls.handle import CallHandle
from ivr.domain import utc_now
from ivr.errors import AriError
from ivr.store.departments import Department
from ivr.store.duty import DutyStep
from routing.agents import Clock
from routing.config import DEPARTMENT_RING_S, RoutingConfig
from routing.hours import Calendar
from routing.legs import Leg, RingResult, Stop, hang_up_quietly, is_gone, ring_leg
from routing.model import TransferEvent
from routing.ports import RoutingAri

log = logging.getLogger(__name__)

CONTEXT_VAR = "HOTLINE_CONTEXT"
ACCEPT_PROMPT = "duty-accept"
"""What an on-duty phone hears when it answers a leak call: "press 1 to accept"."""
ACCEPT_DIGIT = "1"
ACCEPT_ASKS = 4
"""How many times the accept prompt is said to a phone that has not pressed 1 yet."""

TransferStatus = Literal[
    "connected", "no_answer", "caller_gone", "closed", "cancelled", "unknown_target"
]


@dataclass(frozen=True, slots=True)
class TransferResult:
    """`connected`: the caller talks to the department leg `channel_id` in `bridge_id`. Any other
    status: the caller is alone on hold music (blind) or back with the agent (attended cancel);
    the session decides what comes next (queue again, apology, voicemail)."""

    department: str
    kind: Literal["blind", "attended"]
    status: TransferStatus
    channel_id: str | None = None
    bridge_id: str | None = None


@dataclass(frozen=True, slots=True)
class Consultation:
    """An attended transfer in progress: the agent and the department talk in `bridge_id`,
    the caller waits on hold (taken out of `caller_bridge_id`)."""

    department: str
    agent_channel_id: str
    department_channel_id: str
    bridge_id: str
    caller_bridge_id: str


class OnDutySource(Protocol):
    """Where the on-duty lists are kept (`ivr.store.duty.DutyRoster`); None: none for that
    department, ring config.yaml's."""

    async def on_duty(self, department: str) -> Sequence[DutyStep] | None: ...


class DepartmentSource(Protocol):
    """Where the departments are kept (`ivr.store.departments.DepartmentBook`): a department's
    row as it is now (removed ones too), None when none is kept for it (config.yaml's holds)."""

    async def department(self, code: str) -> Department | None: ...


@dataclass(frozen=True, slots=True)
class Line:
    """What a transfer to a department rings now: the dial string, for how long, and the
    calendar that decides whether it is open (None: always)."""

    dial: str
    ring_s: int
    calendar: str | None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One on-duty step rung: `not_accepted` is a phone that answered without pressing 1 in
    time (a voicemail, a colleague's phone)."""

    endpoint: str
    result: Literal["answered", "no_answer", "not_accepted", "failed"]
    at: datetime


@dataclass(frozen=True, slots=True)
class EmergencyOutcome:
    """What the emergency path did; write it to the report whatever happened. `answered_by` is
    the on-duty endpoint that took the call (None: nobody answered, or the caller hung up)."""

    department: str
    started_at: datetime
    ended_at: datetime
    attempts: tuple[Attempt, ...]
    answered_by: str | None = None
    channel_id: str | None = None
    bridge_id: str | None = None
    caller_hung_up: bool = False


class TransferService:
    def __init__(
        self,
        config: RoutingConfig,
        ari: RoutingAri,
        calendars: Mapping[str, Calendar],
        *,
        clock: Clock = utc_now,
        ring_grace_s: float = 2.0,
        moh_class: str | None = None,
        on_event: Callable[[TransferEvent], None] | None = None,
        duty: OnDutySource | None = None,
        departments: DepartmentSource | None = None,
    ) -> None:
        self.config = config
        self._duty = duty
        self._departments = departments
        self._ari = ari
        self._calendars = calendars
        self._clock = clock
        self._ring_grace_s = ring_grace_s
        self._moh_class = moh_class
        self._on_event = on_event

    def _trail(self, call: CallHandle, department: str, kind: str, detail: str = "") -> None:
        if self._on_event is not None:
            self._on_event(TransferEvent(call.channel_id, department, self._clock(), kind, detail))

    def _open(self, line: Line) -> bool:
        if line.calendar is None:
            return True
        calendar = self._calendars.get(line.calendar)
        # a calendar config.yaml no longer has: nothing says the department is open
        return calendar is not None and calendar.is_open(self._clock())

    async def line(self, department: str) -> Line | None:
        """The department's line as it is now: the database's row (read for each transfer, so
        a change in the console applies to the next one), else config.yaml's. None: no such
        department, a removed one, or one with only an on-duty list. A database that cannot be
        read falls back to config, as the on-duty lists do."""
        conf = self.config.departments.get(department)
        ring_s = conf.ring_timeout_s if conf is not None else DEPARTMENT_RING_S
        if self._departments is not None:
            try:
                kept = await self._departments.department(department)
            except Exception:
                log.warning("department unreadable, using config's", exc_info=True)
            else:
                if kept is not None:
                    dial = self.config.dial_string(kept.endpoint, kept.number)
                    if kept.removed or dial is None:
                        return None
                    return Line(dial, ring_s, kept.calendar)
        if conf is None:
            return None
        dial = self.config.dial_string(conf.endpoint, conf.number)
        return Line(dial, ring_s, conf.calendar) if dial is not None else None

    async def reachable(self, department: str) -> Literal["ok", "unknown_target", "closed"]:
        """Whether a transfer to `department` may start now (a department with only an on-duty
        list takes emergencies, not transfers)."""
        line = await self.line(department)
        if line is None:
            return "unknown_target"
        return "ok" if self._open(line) else "closed"

    # ------------------------------------------------------------------ ringing a leg

    async def _ring(
        self,
        call: CallHandle,
        endpoint: str,
        leg: str,
        department: str,
        timeout_s: int,
        context: Mapping[str, str],
        stop: Stop | None = None,
    ) -> RingResult:
        """Ring `endpoint` as `leg` with the call's context on it; an answered leg stays
        claimed for this call."""
        variables = {
            "HOTLINE_DEPARTMENT": department,
            CONTEXT_VAR: json.dumps(dict(context), ensure_ascii=False),
        }
        label = f"department {department}"
        spec = Leg(endpoint, leg, f"department,{department}", timeout_s, label, variables)
        return await ring_leg(call, self._ari, spec, grace_s=self._ring_grace_s, stop=stop)

    async def _hangup(self, channel_id: str) -> None:
        await hang_up_quietly(self._ari, channel_id)

    async def _destroy(self, bridge_id: str) -> None:
        with contextlib.suppress(AriError):
            await self._ari.destroy_bridge(bridge_id)

    async def _connect(self, call: CallHandle, leg: str) -> str:
        bridge_id = call.new_id("bridge")
        await self._ari.create_bridge(bridge_id, "mixing", "transfer")
        with contextlib.suppress(AriError):
            await self._ari.stop_moh(call.channel_id)
        await self._ari.add_to_bridge(bridge_id, call.channel_id)
        await self._ari.add_to_bridge(bridge_id, leg)
        return bridge_id

    # ------------------------------------------------------------------ blind

    async def blind(
        self,
        call: CallHandle,
        department: str,
        *,
        agent_channel_id: str | None = None,
        bridge_id: str | None = None,
        context: Mapping[str, str] | None = None,
    ) -> TransferResult:
        """Hang up the agent leg (and its bridge) at once, then ring the department while the
        caller hears hold music; bridge them when it answers. Outside the department's calendar
        nothing is touched and the status is `closed` (`unknown_target`: it is gone)."""
        line = await self.line(department)
        if line is None:
            self._trail(call, department, "transfer_failed", "unknown_target")
            return TransferResult(department, "blind", "unknown_target")
        if not self._open(line):
            self._trail(call, department, "closed")
            return TransferResult(department, "blind", "closed")
        if agent_channel_id is not None:
            call.release(agent_channel_id)
            await self._hangup(agent_channel_id)
        if bridge_id is not None:
            await self._destroy(bridge_id)
        with contextlib.suppress(AriError):
            await self._ari.start_moh(call.channel_id, self._moh_class)
        leg = call.new_id("dept")
        self._trail(call, department, "transfer_blind")
        ring = await self._ring(
            call, line.dial, leg, department, line.ring_s, context or call.context
        )
        if ring != "answered":
            self._trail(call, department, "transfer_failed", ring)
            return TransferResult(department, "blind", "no_answer" if ring == "stopped" else ring)
        new_bridge = await self._connect(call, leg)
        self._trail(call, department, "transfer_connected")
        return TransferResult(department, "blind", "connected", leg, new_bridge)

    # ------------------------------------------------------------------ attended

    async def consult(
        self,
        call: CallHandle,
        department: str,
        *,
        agent_channel_id: str,
        bridge_id: str,
        context: Mapping[str, str] | None = None,
        stop: Stop | None = None,
        agent_left: Callable[[], bool] = lambda: False,
    ) -> Consultation | TransferResult:
        """Start an attended transfer: the caller goes on hold, the department rings, and the
        agent is moved into a consultation bridge with it. Returns a `Consultation` to
        `complete` or `cancel`, or a `TransferResult`: `cancelled` (`stop` said so while it
        rang) / `no_answer` / `closed` with the caller back with the agent; `caller_gone`; or,
        when the agent hung up while it rang (`agent_left`), `connected` (the department took
        the caller, as a blind transfer would) or the ring's result with the caller on hold."""
        line = await self.line(department)
        if line is None:
            self._trail(call, department, "transfer_failed", "unknown_target")
            return TransferResult(department, "attended", "unknown_target")
        if not self._open(line):
            self._trail(call, department, "closed")
            return TransferResult(department, "attended", "closed")
        await self._ari.remove_from_bridge(bridge_id, call.channel_id)
        with contextlib.suppress(AriError):
            await self._ari.start_moh(call.channel_id, self._moh_class)
        leg = call.new_id("dept")
        self._trail(call, department, "transfer_consult")
        ring = await self._ring(
            call, line.dial, leg, department, line.ring_s, context or call.context, stop
        )
        left = agent_left()
        if ring == "answered" and not left:
            consult_bridge = call.new_id("bridge")
            await self._ari.create_bridge(consult_bridge, "mixing", "consultation")
            await self._ari.add_to_bridge(consult_bridge, leg)
            try:
                # adding the agent to another bridge moves it out of the caller's (now empty)
                await self._ari.add_to_bridge(consult_bridge, agent_channel_id)
            except AriError:
                await self._destroy(consult_bridge)  # the agent hung up in that instant
                left = True
            else:
                self._trail(call, department, "consult_started")
                return Consultation(department, agent_channel_id, leg, consult_bridge, bridge_id)
        return await self._not_consulted(call, department, ring, leg, bridge_id, left)

    async def _not_consulted(
        self,
        call: CallHandle,
        department: str,
        ring: RingResult,
        leg: str,
        bridge_id: str,
        agent_left: bool,
    ) -> TransferResult:
        if ring == "answered":
            # the agent let go while the department rang (the only way an answered leg gets
            # here): the department takes the caller
            await self._destroy(bridge_id)
            new_bridge = await self._connect(call, leg)
            self._trail(call, department, "transfer_connected", "agent_left")
            return TransferResult(department, "attended", "connected", leg, new_bridge)
        if ring == "stopped":
            await self._back_to_agent(call, bridge_id)
            self._trail(call, department, "transfer_cancelled")
            return TransferResult(department, "attended", "cancelled")
        if ring == "no_answer" and not agent_left:
            await self._back_to_agent(call, bridge_id)
        self._trail(call, department, "transfer_failed", ring)
        return TransferResult(department, "attended", ring)

    async def complete(self, call: CallHandle, consultation: Consultation) -> TransferResult:
        """The agent hands over: the caller joins the department, the agent leg is hung up."""
        call.release(consultation.agent_channel_id)
        with contextlib.suppress(AriError):
            await self._ari.stop_moh(call.channel_id)
        await self._ari.add_to_bridge(consultation.bridge_id, call.channel_id)
        await self._hangup(consultation.agent_channel_id)
        await self._destroy(consultation.caller_bridge_id)
        self._trail(call, consultation.department, "transfer_connected")
        return TransferResult(
            consultation.department,
            "attended",
            "connected",
            consultation.department_channel_id,
            consultation.bridge_id,
        )

    async def cancel(
        self, call: CallHandle, consultation: Consultation, why: str = ""
    ) -> TransferResult:
        """The department leg is hung up and the caller is back with the agent (`why`:
        the department hung up first, say; empty: the agent cancelled)."""
        call.release(consultation.department_channel_id)
        await self._hangup(consultation.department_channel_id)
        with contextlib.suppress(AriError):
            await self._ari.add_to_bridge(
                consultation.caller_bridge_id, consultation.agent_channel_id
            )
        await self._destroy(consultation.bridge_id)
        await self._back_to_agent(call, consultation.caller_bridge_id)
        if why:
            self._trail(call, consultation.department, "transfer_failed", why)
        else:
            self._trail(call, consultation.department, "transfer_cancelled")
        return TransferResult(consultation.department, "attended", "cancelled")

    async def abandon(self, call: CallHandle, consultation: Consultation) -> None:
        """The caller hung up during the consultation: nobody is left to hand over, the agent's
        and the department's legs end with both bridges."""
        call.release(consultation.department_channel_id)
        await self._hangup(consultation.department_channel_id)
        await self._hangup(consultation.agent_channel_id)
        await self._destroy(consultation.bridge_id)
        await self._destroy(consultation.caller_bridge_id)
        self._trail(call, consultation.department, "transfer_cancelled", "caller_gone")

    async def _back_to_agent(self, call: CallHandle, bridge_id: str) -> None:
        with contextlib.suppress(AriError):
            await self._ari.stop_moh(call.channel_id)
        with contextlib.suppress(AriError):
            await self._ari.add_to_bridge(bridge_id, call.channel_id)

    # ------------------------------------------------------------------ emergency

    async def duty_steps(self, department: str) -> tuple[DutyStep, ...]:
        """The on-duty list to ring now: the database's (read afresh for each call, so an edit
        in the console applies to the next one), else config.yaml's with the department's
        ring time. A database that cannot be read must not stop the leak line: config's list
        is rung then. `routing.fallback` publishes the same list for the dialplan fallback."""
        dept = self.config.departments[department]
        if self._duty is not None:
            try:
                kept = await self._duty.on_duty(department)
            except Exception:
                log.warning("on-duty list unreadable, ringing config's", exc_info=True)
            else:
                if kept is not None:
                    return tuple(kept)
        return tuple(DutyStep(endpoint, endpoint, dept.ring_timeout_s) for endpoint in dept.on_duty)

    async def emergency(
        self,
        call: CallHandle,
        department: str,
        context: Mapping[str, str] | None = None,
    ) -> EmergencyOutcome:
        """Ring the department's on-duty list in order (each step its own ring time), ignoring
        its calendar; a phone that answers hears the accept prompt and only a 1 within
        `accept_timeout_s` bridges the caller with it. A phone that answers without it (a
        voicemail, a colleague's) is hung up and the next step rung. The caller hears hold
        music meanwhile. Always returns an outcome to record."""
        dept = self.config.departments[department]
        started = self._clock()
        attempts: list[Attempt] = []
        self._trail(call, department, "emergency")
        with contextlib.suppress(AriError):
            await self._ari.start_moh(call.channel_id, self._moh_class)
        for index, step in enumerate(await self.duty_steps(department)):
            leg = call.new_id(f"duty{index}")
            ring = await self._ring(
                call, step.endpoint, leg, department, step.ring_s, context or call.context
            )
            if ring == "answered":
                took = await self._accepted(call, leg, dept.accept_timeout_s)
            else:
                took = "caller_gone" if ring == "caller_gone" else "no_answer"
            if took == "caller_gone":
                self._trail(call, department, "emergency_abandoned")
                return EmergencyOutcome(
                    department, started, self._clock(), tuple(attempts), caller_hung_up=True
                )
            if took != "accepted":
                attempts.append(Attempt(step.endpoint, took, self._clock()))
                self._trail(call, department, f"emergency_{took}", f"{index} {step.name}")
                continue
            attempts.append(Attempt(step.endpoint, "answered", self._clock()))
            # who accepted when: the event's own time
            self._trail(call, department, "emergency_accepted", f"{index} {step.name}")
            try:
                bridge_id = await self._connect(call, leg)
            except AriError:
                await self._hangup(leg)
                return EmergencyOutcome(
                    department, started, self._clock(), tuple(attempts), caller_hung_up=True
                )
            self._trail(call, department, "emergency_connected", str(index))
            return EmergencyOutcome(
                department, started, self._clock(), tuple(attempts), step.endpoint, leg, bridge_id
            )
        self._trail(call, department, "emergency_unanswered")
        return EmergencyOutcome(department, started, self._clock(), tuple(attempts))

    async def _accepted(
        self, call: CallHandle, leg: str, timeout_s: int
    ) -> Literal["accepted", "not_accepted", "no_answer", "caller_gone"]:
        """Ask the on-duty phone that answered to press 1 (the prompt said again while it is
        not pressed). Anything but `accepted`: the leg is hung up and released."""
        result = await self._until_accepted(call, leg, timeout_s)
        if result == "accepted":
            return result
        call.release(leg)
        await self._hangup(leg)
        return result

    async def _until_accepted(
        self, call: CallHandle, leg: str, timeout_s: int
    ) -> Literal["accepted", "not_accepted", "no_answer", "caller_gone"]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        playback = await self._ask(call, leg)
        asked = 1
        while (left := deadline - loop.time()) > 0:
            event = await call.next_event(left)
            if event is None:
                break
            if isinstance(event, ChannelDtmfReceived) and event.channel.id == leg:
                if event.digit == ACCEPT_DIGIT:
                    if playback is not None:
                        with contextlib.suppress(AriError):
                            await self._ari.stop_playback(playback)
                    return "accepted"
            elif isinstance(event, PlaybackFinished) and event.playback.id == playback:
                asked += 1
                # said a few times, not in a loop: a prompt that fails at once must not spin
                playback = await self._ask(call, leg) if asked < ACCEPT_ASKS else None
            elif is_gone(event, leg):
                return "no_answer"  # hung up without accepting
            elif is_gone(event, call.channel_id):
                return "caller_gone"
        return "not_accepted"

    async def _ask(self, call: CallHandle, leg: str) -> str | None:
        playback = call.new_id("pb")
        try:
            await self._ari.play(leg, call.media(ACCEPT_PROMPT), playback)
        except AriError:
            return None  # the leg hung up in that instant: its hangup event follows
        return playback
