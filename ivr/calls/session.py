"""`CallSession`: one asyncio task and one inbox per call.

The supervisor's WebSocket reader puts the call's ARI events into `inbox`; timers post into the
same inbox; nothing else touches the session's state. What the session does with the caller
(answer, play, take keys, hang up) is kept in the channel variable `HOTLINE_STATE` at every
wait, so a restarted engine that re-adopts the call resumes where it was instead of starting
over or abandoning the caller.

Until the YAML flow interpreter drives sessions, the built-in flow is: answer, play the
greeting, take one key (repeating the prompt on silence), thank the caller, hang up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count

from ivr.ari.client import Resynced
from ivr.ari.models import (
    AriEvent,
    Channel,
    ChannelDestroyed,
    ChannelDtmfReceived,
    ChannelHangupRequest,
    PlaybackFinished,
    StasisEnd,
)
from ivr.ari.port import AriPort
from ivr.calls.records import CallRecord, CallRecorder
from ivr.config import CallsConfig
from ivr.errors import AriError, AriUnavailable, ChannelGone
from ivr.logs import bind_call_id

log = logging.getLogger(__name__)

STATE_VARIABLE = "HOTLINE_STATE"
# a PlaybackFinished can be lost while the events socket is down: never wait longer than this
PROMPT_GUARD_S = 120.0
# the apology after an internal error is short; do not hold the line longer than this for it
APOLOGY_MAX_S = 15.0


@dataclass(frozen=True, slots=True)
class Timeout:
    name: str
    generation: int


@dataclass(frozen=True, slots=True)
class Stop:
    """The engine is shutting down: leave the call in Asterisk for the next engine."""


SessionInput = AriEvent | Resynced | Timeout | Stop


class _CallEnded(Exception):
    pass


class CallSession:
    def __init__(
        self,
        channel: Channel,
        ari: AriPort,
        recorder: CallRecorder,
        config: CallsConfig,
        *,
        entry: str = "main",
        adopted: bool = False,
    ) -> None:
        self.call_id = channel.id
        self.channel = channel
        self.ari = ari
        self.recorder = recorder
        self.config = config
        self.inbox: asyncio.Queue[SessionInput] = asyncio.Queue()
        self.adopted = adopted
        self.record = CallRecord(
            call_id=channel.id,
            caller=channel.caller.number,
            entry=entry,
            started_at=_now(),
            adopted=adopted,
        )
        self._ids = count(1)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._timer_gen = count(1)
        self._live_timer: dict[str, int] = {}
        self._playback: str | None = None
        self._step = "greet"
        self._retries = 0

    # ------------------------------------------------------------------ task body

    async def run(self) -> None:
        bind_call_id(self.call_id)
        try:
            if self.adopted:
                await self._resume()
            else:
                log.info("call started (entry %s)", self.record.entry)
                await self.ari.answer(self.call_id)
                await self._greet()
            while True:
                item = await self.inbox.get()
                if isinstance(item, Stop):
                    self.record.outcome = "detached"
                    return
                await self._handle(item)
        except _CallEnded:
            pass
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
            self.record.ended_at = _now()
            await self._write_record()

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
        apology = self._new_id("apology")
        with contextlib.suppress(AriError, AriUnavailable, TimeoutError):
            await self.ari.play(self.call_id, self.config.apology_media, apology)
            async with asyncio.timeout(APOLOGY_MAX_S):
                while True:
                    item = await self.inbox.get()
                    if isinstance(item, StasisEnd | ChannelDestroyed | ChannelHangupRequest):
                        return
                    if isinstance(item, PlaybackFinished) and item.playback.id == apology:
                        break
        with contextlib.suppress(AriError, AriUnavailable):
            await self.ari.hangup(self.call_id)

    # ------------------------------------------------------------------ events

    async def _handle(self, item: SessionInput) -> None:
        if isinstance(item, StasisEnd | ChannelDestroyed | ChannelHangupRequest):
            log.info("caller hung up")
            self.record.outcome = self.record.outcome or "caller_hung_up"
            raise _CallEnded
        if isinstance(item, Resynced):
            if all(c.id != self.call_id for c in item.channels):
                self.record.outcome = self.record.outcome or "caller_hung_up"
                raise _CallEnded
            return
        if isinstance(item, ChannelDtmfReceived):
            await self._on_digit(item.digit)
        elif isinstance(item, PlaybackFinished):
            if item.playback.id == self._playback:
                if item.playback.state == "done":
                    self.record.prompts_finished.append(item.playback.media_uri)
                await self._on_prompt_done(item.playback.state)
        elif isinstance(item, Timeout):
            if self._live_timer.get(item.name) == item.generation:
                del self._live_timer[item.name]
                self._timers.pop(item.name, None)
                await self._on_timeout(item.name)

    async def _on_digit(self, digit: str) -> None:
        if self._step != "greet":
            return
        log.info("key received")
        self.record.digits.append(digit)
        self._cancel_timer("digit")
        if self._playback is not None:
            # barge-in: the caller did not wait for the prompt to end
            playback, self._playback = self._playback, None
            with contextlib.suppress(ChannelGone):
                await self.ari.stop_playback(playback)
        self._step = "thanks"
        await self._save()
        await self._play(self.config.thanks_media)

    async def _on_prompt_done(self, state: str) -> None:
        self._playback = None
        self._cancel_timer("prompt_guard")
        if state == "failed":
            log.warning("a prompt failed to play")
        if self._step == "greet":
            self._start_timer("digit", self.config.digit_timeout_s)
        elif self._step == "thanks":
            self.record.outcome = "completed"
            await self._hangup()
        elif self._step == "goodbye":
            self.record.outcome = "no_input"
            await self._hangup()

    async def _on_timeout(self, name: str) -> None:
        if name == "prompt_guard":
            await self._on_prompt_done("lost")
            return
        if name != "digit":
            return
        if self._retries < self.config.digit_retries:
            self._retries += 1
            await self._greet()
        else:
            self._step = "goodbye"
            await self._save()
            await self._play(self.config.goodbye_media)

    # ------------------------------------------------------------------ actions

    async def _greet(self) -> None:
        self._step = "greet"
        await self._save()
        await self._play(self.config.greeting_media)

    async def _resume(self) -> None:
        """Re-adopt a call that was in Stasis before this engine connected."""
        saved = await self.ari.get_variable(self.call_id, STATE_VARIABLE)
        try:
            state = json.loads(saved) if saved else {}
        except ValueError:
            state = {}
        self._retries = int(state.get("retries", 0))
        self.record.digits = [str(d) for d in state.get("digits", [])]
        self.record.started_at = str(state.get("started_at", self.record.started_at))
        step = str(state.get("step", "greet"))
        log.info("call re-adopted (step %s)", step)
        if step == "thanks":
            self._step = "thanks"
            await self._play(self.config.thanks_media)
        elif step == "goodbye":
            self._step = "goodbye"
            await self._play(self.config.goodbye_media)
        else:
            if self.channel.state != "Up":
                await self.ari.answer(self.call_id)
            await self._greet()

    async def _save(self) -> None:
        state = {
            "step": self._step,
            "retries": self._retries,
            "digits": self.record.digits,
            "started_at": self.record.started_at,
        }
        await self.ari.set_variable(self.call_id, STATE_VARIABLE, json.dumps(state))

    async def _play(self, media: str) -> None:
        playback_id = self._new_id("pb")
        self._playback = playback_id
        self.record.prompts_played.append(media)
        self._start_timer("prompt_guard", PROMPT_GUARD_S)
        await self.ari.play(self.call_id, media, playback_id)

    async def _hangup(self) -> None:
        log.info("call completed (%s)", self.record.outcome)
        with contextlib.suppress(ChannelGone):
            await self.ari.hangup(self.call_id)
        raise _CallEnded

    def _new_id(self, what: str) -> str:
        # we choose every ARI id: the event may overtake the REST reply
        return f"{self.call_id}-{what}-{next(self._ids)}"

    # ------------------------------------------------------------------ timers

    def _start_timer(self, name: str, delay_s: float) -> None:
        self._cancel_timer(name)
        generation = next(self._timer_gen)
        self._live_timer[name] = generation
        self._timers[name] = asyncio.get_running_loop().call_later(
            delay_s, self.inbox.put_nowait, Timeout(name, generation)
        )

    def _cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        self._live_timer.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _cancel_timers(self) -> None:
        for name in list(self._timers):
            self._cancel_timer(name)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
