"""`CallSession`: one asyncio task and one inbox per call, running the call's YAML flow.

The supervisor's WebSocket reader puts the call's ARI events into `inbox`; timers post into the
same inbox; nothing else touches the session's state. The flow interpreter (`ivr.flow`) is pure:
the session turns ARI events into flow events, feeds them to `step`, and carries out the commands
it returns (play, timers, account look-ups, intake, routing) over ARI and the services.

After every step the interpreter's state is kept in the call memory (`ivr.calls.memory`, the
database in production) under `HOTLINE_STATE`, with the flow version it runs on, so a restarted
engine that re-adopts the call resumes at the same node (re-prompting the caller) instead of
starting over or abandoning the call. Keeping it never waits: the caller's next prompt does not
depend on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from itertools import count
from typing import Any

from ivr.ari.client import Resynced
from ivr.ari.models import (
    AriEvent,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    PlaybackFinished,
    RecordingFailed,
    RecordingFinished,
    StasisEnd,
)
from ivr.ari.port import AriPort
from ivr.callerid import normalise_caller_id
from ivr.calls.codec import STATE, RecordSoFar, SavedFlow
from ivr.calls.flows import FlowVersion
from ivr.calls.handle import CallCommand
from ivr.calls.records import CallRecord, CallRecorder
from ivr.calls.services import CallServices, HandoverOutcome, QueueOutcome
from ivr.config import CallsConfig
from ivr.errors import AriError, AriUnavailable, ChannelGone, Detached
from ivr.flow import interpreter as i
from ivr.flow.executor import Executor
from ivr.flow.model import QueueNode
from ivr.flow.ports import AccountSummary, IntakeOutcome
from ivr.logs import bind_call_id

log = logging.getLogger(__name__)

STATE_VARIABLE = STATE.name
# the apology after an internal error is short; do not hold the line longer than this for it
APOLOGY_MAX_S = 15.0
# how long a service (account look-up, intake) may take before the flow treats it as failed;
# an intake is committed before it answers, so a slow database means the error branch, not loss
SERVICE_TIMEOUT_S = 5.0

_HANGUP_EVENTS = (StasisEnd, ChannelDestroyed, ChannelHangupRequest)


class Stop:
    """The engine is shutting down: leave the call in Asterisk for the next engine."""


class FlowTimer:
    def __init__(self, name: str) -> None:
        self.name = name


SessionInput = AriEvent | Resynced | FlowTimer | Stop | CallCommand


class _CallEnded(Exception):
    pass


class CallSession:
    def __init__(
        self,
        channel: Channel,
        ari: AriPort,
        recorder: CallRecorder,
        config: CallsConfig,
        services: CallServices,
        *,
        entry: str = "main",
        adopted: bool = False,
        claim: Callable[[str, CallSession | None], None] | None = None,
        on_step: Callable[[], None] | None = None,
    ) -> None:
        self.call_id = channel.id
        self.channel = channel
        self._ari = ari
        self.recorder = recorder
        self.config = config
        self.services = services
        self.inbox: asyncio.Queue[SessionInput] = asyncio.Queue()
        self.adopted = adopted
        self.entry = entry
        self._claim = claim
        self._on_step = on_step
        self.record = CallRecord(
            call_id=channel.id,
            caller=channel.caller.number,
            entry=entry,
            started_at=self._now().isoformat(),
            adopted=adopted,
        )
        self._ids = count(1)
        # an adopted call's ids must never repeat one the previous engine chose for it: its
        # last prompt may still be playing under that id, and stopping "ours" would stop
        # theirs while ours plays on, holding the channel (a move into the agent's bridge
        # waited for its end, past the agent's hang-up)
        self._id_base = f"{channel.id}-{secrets.token_hex(3)}" if adopted else channel.id
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._version: FlowVersion | None = None
        self.state: i.CallState | None = None
        self._media_of: dict[str, str] = {}
        self._deferred: list[SessionInput] = []
        # what the call remembers is on its channel, not in the call memory (see `_resume`)
        self._on_channel = False
        self._executor = Executor(self, services, services.clock, channel.id)

    # ------------------------------------------------------------------ CallHandle

    @property
    def channel_id(self) -> str:
        return self.call_id

    @property
    def caller_number(self) -> str:
        return self.channel.caller.number

    @property
    def language(self) -> str:
        return self.state.language if self.state is not None else "ja"

    @property
    def context(self) -> Mapping[str, str]:
        return dict(self.state.variables) if self.state is not None else {}

    @property
    def ari(self) -> AriPort:
        return self._ari

    def new_id(self, what: str) -> str:
        # we choose every ARI id: an event may overtake the REST reply that caused it
        return f"{self._id_base}-{what}-{next(self._ids)}"

    def claim(self, channel_id: str) -> None:
        if self._claim is not None:
            self._claim(channel_id, self)

    def release(self, channel_id: str) -> None:
        if self._claim is not None:
            self._claim(channel_id, None)

    async def next_event(self, timeout_s: float) -> AriEvent | CallCommand | None:
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    item = await self.inbox.get()
                    if isinstance(item, Stop):
                        raise Detached
                    if isinstance(item, FlowTimer | Resynced):
                        self._deferred.append(item)
                        continue
                    return item
        except TimeoutError:
            return None

    async def remember(self, key: str, value: str) -> None:
        await self.services.memory.keep_durably(self.call_id, key, value)

    async def recall(self, key: str) -> str:
        kept = await self.services.memory.recall(self.call_id, key)
        if kept or not self._on_channel:
            return kept
        return await self._ari.get_variable(self.call_id, key)

    def media(self, prompt_id: str) -> str:
        return self.services.media(prompt_id, self.language)

    # ------------------------------------------------------------------ task body

    async def run(self) -> None:
        bind_call_id(self.call_id)
        try:
            await self._serve()
        except (_CallEnded, Detached) as exc:
            if isinstance(exc, Detached):
                self.record.outcome = "detached"
        except ChannelGone:
            # the caller hung up between an event and our request: normal, not an error
            log.debug("channel gone during a request")
            self.record.outcome = self.record.outcome or "caller_hung_up"
        except asyncio.CancelledError:
            self.record.outcome = self.record.outcome or "detached"
            raise
        except Exception:
            log.exception("call session failed; apologising and closing the call")
            self.record.outcome = "failed"
            await self._apologise()
        finally:
            self._cancel_timers()
            if self.record.outcome != "detached":
                # the call is over: nothing to resume (a detached one is resumed by the next engine)
                self.services.memory.forget(self.call_id)
            self.record.ended_at = self._now().isoformat()
            await self._write_record()

    async def _serve(self) -> None:
        if self.entry == "callback":
            self._opened()
            await (self._resume_callback() if self.adopted else self._serve_callback())
            return
        if self.adopted:
            first = await self._resume()
        else:
            first = await self._begin()
        self._opened()
        await self._feed(first)
        while True:
            item = self._deferred.pop(0) if self._deferred else await self.inbox.get()
            if isinstance(item, Stop):
                raise Detached
            event = self._flow_event(item)
            if event is not None:
                await self._feed(event)

    async def _begin(self) -> i.FlowEvent:
        flow_id = self.services.entry_flows.get(self.entry, "hotline")
        self._version = self.services.flows.live(flow_id)
        self.state = i.initial_state(self._version.flow, call_id=self.call_id)
        log.info("call started (entry %s, flow %s)", self.entry, flow_id)
        await self._ari.answer(self.call_id)
        caller = normalise_caller_id(self.channel.caller.number)
        return i.Started(caller_id=caller.e164, withheld=not caller.has_number)

    def _now(self) -> datetime:
        # the services' clock (virtual in tests) is the one "now" of the call's trail
        return self.services.clock().astimezone(UTC)

    def _opened(self) -> None:
        # a re-adopted call's row and first event are an earlier engine's: this creates them
        # only if that engine never wrote them
        started = datetime.fromisoformat(self.record.started_at)
        self.recorder.opened(self.call_id, self.record.caller, started)

    async def _resume(self) -> i.FlowEvent:
        """Re-adopt a call that was in Stasis before this engine connected."""
        restored = await self._saved_state()
        if restored is None:
            log.info("call re-adopted with no saved state; starting its flow")
            if self.channel.state == "Up":
                # answered before the state was saved: do not answer twice
                self._ari = _NoAnswer(self._ari)
            return await self._begin()
        state = self._adopt(restored)
        self.state = state
        log.info("call re-adopted at node %s", state.node)
        return await self._wake(state)

    async def _saved_state(self) -> SavedFlow | None:
        saved = await self.recall(STATE.name)
        if not saved:
            # a call re-adopted from an engine of before the call memory, which kept what a call
            # must remember on its channel: read all of it from there
            saved = await self._ari.get_variable(self.call_id, STATE.name)
            self._on_channel = bool(saved)
        kept = STATE.decode(saved)
        if kept.problem:
            log.warning("saved call state unreadable (%s); the call starts again", kept.problem)
        return kept.value

    def _adopt(self, saved: SavedFlow) -> i.CallState:
        """Take over the saved record and flow version; the state to go on from."""
        state = saved.state
        self.record.started_at = saved.record.started_at or self.record.started_at
        self.record.digits = list(saved.record.digits)
        self._version = self.services.flows.version(saved.flow, saved.digest)
        if self._version is None:
            # the engine restarted after the flow file changed: same node on the live version
            self._version = self.services.flows.live(saved.flow)
            if state.node not in self._version.flow.nodes:
                state = replace(state, node=self._version.flow.flow.start, phase="idle")
        return state

    async def _wake(self, state: i.CallState) -> i.FlowEvent:
        # what the previous engine was waiting for is lost; wake the node up again
        if self._version is None:
            raise RuntimeError("the session has no flow")
        node = self._version.flow.nodes.get(state.node)
        if state.phase == "service":
            # talking to an agent or a department: the conversation goes on, then the flow
            talked = await self._routing(self.services.router.resume_talk(self))
            if talked == "answered":
                return self._queued("answered")
            if talked == "bridged":
                return self._handover("bridged")
        if state.phase == "service" and isinstance(node, QueueNode):
            rejoined = await self._routing(self.services.router.rejoin(self))
            if rejoined is not None:
                return self._queued(rejoined)
        if state.playback is not None:
            return i.PlaybackDone(state.playback)
        if state.timer is not None:
            return i.Timeout(state.timer)
        return i.Failed("engine restarted during a service call")

    def _flow_event(self, item: SessionInput) -> i.FlowEvent | None:
        if isinstance(item, _HANGUP_EVENTS):
            return i.HungUp()
        if isinstance(item, Resynced):
            if all(c.id != self.call_id for c in item.channels):
                return i.HungUp()
            return None
        if isinstance(item, ChannelDtmfReceived):
            return self._digit(item)
        if isinstance(item, PlaybackFinished):
            return self._playback_finished(item)
        if isinstance(item, FlowTimer):
            self._timers.pop(item.name, None)
            return i.Timeout(item.name)
        if isinstance(item, RecordingFinished | RecordingFailed):
            return i.RecordDone(item.recording.name)
        return None

    def _digit(self, item: ChannelDtmfReceived) -> i.FlowEvent | None:
        if item.channel.id != self.call_id:
            return None
        self.record.digits.append(item.digit)
        return i.Digit(item.digit)

    def _playback_finished(self, item: PlaybackFinished) -> i.FlowEvent:
        if item.playback.state == "done":
            media = self._media_of.pop(item.playback.id, item.playback.media_uri)
            self.record.prompts_finished.append(media)
            self.record.media_finished.append(item.playback.media_uri)
        elif item.playback.state == "failed":
            log.warning("a prompt failed to play")
        return i.PlaybackDone(item.playback.id)

    # ------------------------------------------------------------------ the flow

    async def _feed(self, event: i.FlowEvent) -> None:
        pending = [event]
        while pending:
            if self.state is None or self._version is None:
                raise RuntimeError("the session has no flow")
            result = i.step(
                self._version.flow,
                self.state,
                pending.pop(0),
                self.services.clock(),
                self.services.flows.library(),
            )
            self.state = result.state
            for command in result.commands:
                follow_up = await self._executor.carry_out(command)
                if follow_up is not None:
                    pending.append(follow_up)
            if isinstance(event, i.HungUp):
                self.record.outcome = self.record.outcome or "caller_hung_up"
                raise _CallEnded
            if self.state.done:
                self.record.outcome = self.record.outcome or "completed"
                raise _CallEnded
        self._save()
        if self._on_step is not None:
            self._on_step()

    # ------------------------------------------------------------------ Effects (ivr.flow.executor)

    async def play(self, c: i.Play) -> None:
        language = self.language
        media = [self.services.media(p, language) for p in c.prompt_ids]
        self.record.prompts_played.extend(c.prompt_ids)
        self._media_of[c.playback_id] = ",".join(c.prompt_ids)
        await self._ari.play(self.call_id, media, c.playback_id)

    async def stop_playback(self, c: i.StopPlayback) -> None:
        with contextlib.suppress(ChannelGone):
            await self._ari.stop_playback(c.playback_id)

    def start_timer(self, c: i.StartTimer) -> None:
        self._arm_timer(c.name, c.seconds)

    def cancel_timer(self, c: i.CancelTimer) -> None:
        handle = self._timers.pop(c.name, None)
        if handle is not None:
            handle.cancel()

    def set_language(self, c: i.SetLanguage) -> None:
        self.record.language = c.language

    def trail(self, c: i.Trail) -> None:
        at = self._now()
        data = {"node": c.node, **c.detail}
        self.record.trail.append({"event": c.event, **data})
        self.record.trail_at.append(at.isoformat())
        self.recorder.event(self.call_id, c.event, at, data)

    async def hangup(self, c: i.Hangup) -> None:
        self.record.outcome = self.record.outcome or "completed"
        with contextlib.suppress(ChannelGone):
            await self._ari.hangup(self.call_id)

    async def enqueue(self, c: i.Enqueue) -> i.FlowEvent:
        router = self.services.router
        return self._queued(
            await self._routing(router.enqueue(self, c.queue, c.priority, c.context))
        )

    async def transfer(self, c: i.Transfer) -> i.FlowEvent:
        router = self.services.router
        return self._handover(await self._routing(router.transfer(self, c.department, c.context)))

    async def emergency(self, c: i.Emergency) -> i.FlowEvent:
        return self._handover(await self._routing(self.services.router.emergency(self, c.context)))

    async def start_recording(self, c: i.Record) -> None:
        await self._ari.record(self.call_id, c.name, max_duration_s=int(c.max_s), terminate_on="#")

    async def service(self, work: Awaitable[i.FlowEvent]) -> i.FlowEvent:
        try:
            # a timeout scope, not wait_for: no extra task for every look-up of every call
            async with asyncio.timeout(SERVICE_TIMEOUT_S):
                return await work
        except Exception:
            log.exception("a service call failed; the flow takes its error branch")
            # the node's service timer running out is how the flow learns a service failed
            timer = self.state.timer if self.state is not None else None
            return i.Timeout(timer) if timer else i.Failed("service failed")

    def found(self, c: i.LookupAccount, account: AccountSummary) -> None:
        self.record.account = account.customer_number
        by = "caller_id" if c.by == "phone" else "customer_number"
        self.recorder.matched(self.call_id, account.customer_number, by, self._now())

    def took(self, c: i.CreateIntake, outcome: IntakeOutcome) -> None:
        if outcome.ok:
            self.record.intakes.append(f"{c.kind}:{outcome.confirmation}")

    async def _serve_callback(self) -> None:
        """A call the engine placed to a caller who chose a callback: straight to the queue
        place they kept (no IVR), then to the agent."""
        log.info("callback call answered")
        self._callback_ended(await self._routing(self.services.router.serve_callback(self)))

    def _callback_ended(self, outcome: QueueOutcome) -> None:
        self._queued(outcome)
        if self.record.outcome == "":
            self.record.outcome = f"callback_{outcome}"

    async def _resume_callback(self) -> None:
        """A call back to a resident, re-adopted after a restart: the conversation with the
        agent goes on, or the resident waits again at the kept place; anything else (the
        restart came before the place was taken up) ends the call rather than leave silence."""
        router = self.services.router
        talked = await self._routing(router.resume_talk(self))
        if talked is not None:
            self.record.outcome = "callback_answered_by_agent"
            return
        outcome = await self._routing(router.rejoin(self))
        if outcome is None:
            log.warning("re-adopted callback call without a queue place; closing it")
            await self._apologise()
            return
        self._callback_ended(outcome)

    def _queued(self, outcome: QueueOutcome) -> i.FlowEvent:
        if outcome == "answered":
            self.record.outcome = "answered_by_agent"
        elif outcome == "abandoned":
            self.record.outcome = "abandoned_in_queue"
        elif outcome == "callback":
            self.record.outcome = "callback_scheduled"
            return i.QueueResult("answered")
        return i.QueueResult(outcome)

    def _handover(self, outcome: HandoverOutcome) -> i.FlowEvent:
        if outcome == "left":
            self.record.outcome = "handed_to_dialplan"
            raise _CallEnded
        if outcome == "caller_gone":
            self.record.outcome = "caller_hung_up"
            raise _CallEnded
        if outcome == "bridged":
            self.record.outcome = "handed_over"
        return i.TransferResult(ok=outcome == "bridged")

    async def _routing(self, work: Any) -> Any:
        # routing can hold the call for a long time (a queue): keep the state that says so
        # first, so a restarted engine puts the caller back in the queue, not in the menu
        self._save()
        try:
            return await work
        finally:
            # flow timers that fired while routing code read the inbox come back afterwards
            for item in self._deferred:
                self.inbox.put_nowait(item)
            self._deferred.clear()

    def _save(self) -> None:
        """Keep the flow state for a restarted engine (in the background: written with the
        other calls' states in the memory's next batch)."""
        if self.state is None or self._version is None:
            return
        saved = SavedFlow(
            self._version.flow.id,
            self._version.digest,
            self.state,
            RecordSoFar(self.record.started_at, tuple(self.record.digits)),
        )
        self.services.memory.keep(self.call_id, STATE.name, STATE.encode(saved))

    async def _write_record(self) -> None:
        try:
            await asyncio.shield(
                asyncio.wait_for(
                    self.recorder.write(self.record), self.config.record_write_timeout_s
                )
            )
        except (TimeoutError, OSError):
            log.error("call record could not be written")

    async def _apologise(self) -> None:
        # the caller never hears dead air: an apology, then the call is closed
        apology = self.new_id("apology")
        current = self.state.playback if self.state is not None else None
        if current is not None:
            with contextlib.suppress(AriError, AriUnavailable):
                await self._ari.stop_playback(current)
        with contextlib.suppress(AriError, AriUnavailable, TimeoutError):
            await self._ari.play(
                self.call_id, self.services.media("system-error", self.language), apology
            )
            async with asyncio.timeout(APOLOGY_MAX_S):
                while True:
                    item = await self.inbox.get()
                    if isinstance(item, _HANGUP_EVENTS):
                        return
                    if isinstance(item, PlaybackFinished) and item.playback.id == apology:
                        break
        with contextlib.suppress(AriError, AriUnavailable):
            await self._ari.hangup(self.call_id)

    # ------------------------------------------------------------------ timers

    def _arm_timer(self, name: str, delay_s: float) -> None:
        self._timers[name] = asyncio.get_running_loop().call_later(
            delay_s, self.inbox.put_nowait, FlowTimer(name)
        )

    def _cancel_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()


class _NoAnswer:
    """Wraps the port for a re-adopted call that is already up: answering again is skipped."""

    def __init__(self, inner: AriPort) -> None:
        self._inner = inner
        self.app = inner.app

    async def answer(self, channel_id: str) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
