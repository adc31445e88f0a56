"""The waiting step, PURE: what a caller waiting in a queue hears and what happens next.

`step(state, facts, event, now) -> (state, effects)` gets the caller's `WaitState`, the queue as
it is now (`Facts`: open, staffing, the agent the offer plan gives this caller), one event (a
tick, a key, the prompt ended, an offer rang out, the caller hung up) and `now`, and returns the
new state and effects as data (`Offer`, `Announce`, `OfferCallback`, `Play`, `Stop`,
`ScheduleCallback`, `Leave`). After every event the queue is looked at again, in this order:
closed, overflow (`routing.policy.keep_waiting`), an agent to offer, then at most one thing to say
(greeting, place and expected wait, the callback offer), then the end of a number entry.

The callback dialogue is a small keypad machine here, one phase at a time: once offered, `1`
asks to be called back (the caller ID is read back for confirmation, or, with none, the caller
keys a number); while confirming, `1` accepts, `2` declines, `3` keys another number; while
keying, `#` ends the number (so does a pause of `CALLBACK_ENTRY_TIMEOUT_S` after the instruction
or the last key), `*` cancels. An unusable number is said so, and asked again
`CALLBACK_ENTRY_TRIES - 1` times before the caller simply keeps waiting.

No asyncio, no ARI, no clock: `routing.queues.service` carries the effects out and turns the
call's ARI events into these events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, TypeAlias

from ivr.callerid import normalise_number
from ivr.flow.say import number_prompts, say_prompts
from routing.config import QueueConfig
from routing.policy import (
    announced_minutes,
    announcement_due,
    callback_eligible,
    expected_wait_s,
    keep_waiting,
)
from routing.queues.outcomes import Abandoned, Closed, Overflow

CALLBACK_KEY = "1"
CONFIRM_KEY = "1"
DECLINE_KEY = "2"
OTHER_NUMBER_KEY = "3"
END_OF_NUMBER_KEY = "#"
CANCEL_ENTRY_KEY = "*"
# a caller keying a call-back number: the entry ends this long after the last key (and the digits
# so far count as the number, since many callers forget the hash key)
CALLBACK_ENTRY_TIMEOUT_S = 8.0
# Japanese numbers are at most 11 digits nationally; a few more for a caller who adds 81
CALLBACK_NUMBER_MAX_DIGITS = 15
# after this many unusable numbers the caller simply keeps waiting
CALLBACK_ENTRY_TRIES = 2

GREETING = ("queue-callback-hello",)
"""Said first to a caller we called back, who then waits at the old place."""
GOODBYE = ("queue-callback-scheduled",)
"""Said once the callback place is kept; then the call ends."""

PROMPTS: frozenset[str] = frozenset(
    {
        "queue-position",
        "queue-position-end",
        "queue-wait",
        "queue-wait-minutes",
        "queue-callback-offer",
        "queue-callback-confirm",
        "queue-callback-confirm-keys",
        "queue-callback-scheduled",
        "queue-callback-hello",
        "queue-callback-enter-number",
        "queue-callback-number-invalid",
        "queue-keep-waiting",
    }
)
"""Prompt ids the queue plays (plus `num-*` and `digit-*` from `ivr.flow.say`)."""


def usable_callback_number(digits: str) -> bool:
    """A number we can call back: a valid Japanese (or +81) phone number, keyed nationally."""
    return normalise_number(digits) is not None


# --- state and facts -----------------------------------------------------------------------------

Dialogue = Literal["none", "confirming", "entering"]
"""Where the caller is in the callback dialogue: not in it, hearing a number read back for
confirmation, or keying a number."""


@dataclass(frozen=True, slots=True)
class WaitState:
    """One waiting caller. `since`: when this wait began (announcements count from it; after a
    restart the enqueue time, with `last_announced` as the caller last heard it, `resumed`).
    `playing`: a prompt of ours is playing
    (the shell knows its ARI id). `keyed`, `entry_deadline`: the number being keyed, and when
    its entry ends if no key comes; `callback_number`: the one read back for confirmation."""

    queue: str
    enqueued_at: datetime
    since: datetime
    language: str
    caller_number: str = ""
    last_announced: datetime | None = None
    callback_offered: bool = False
    # False for a caller we called back: one callback per caller, never a second on the same place
    callback_allowed: bool = True
    dialogue: Dialogue = "none"
    callback_number: str = ""
    keyed: str = ""
    entry_deadline: datetime | None = None
    entry_failures: int = 0
    playing: bool = False
    greeting: tuple[str, ...] = ()


def waiting(
    queue: str, enqueued_at: datetime, now: datetime, language: str, caller_number: str
) -> WaitState:
    """A caller who starts (or, after a restart, resumes) waiting."""
    return WaitState(queue, enqueued_at, now, language, caller_number)


def resumed(
    queue: str,
    enqueued_at: datetime,
    language: str,
    caller_number: str,
    *,
    announced_at: datetime | None,
    callback_offered: bool,
    called_back: bool = False,
) -> WaitState:
    """A re-adopted caller, after an engine restart: the announcements go on from the last one
    the caller heard (one never heard is due at once), never a second callback offer (nor a
    callback for a caller we called back). The prompt the caller was hearing at the restart
    plays on in Asterisk, so announcing again at the take-over would say it twice."""
    return replace(
        waiting(queue, enqueued_at, enqueued_at, language, caller_number),
        last_announced=announced_at,
        callback_offered=callback_offered or called_back,
        callback_allowed=not called_back,
    )


def called_back(
    queue: str, enqueued_at: datetime, now: datetime, language: str, caller_number: str
) -> WaitState:
    """A caller we called back: greeted, no announcement at once, no second callback offer."""
    return replace(
        waiting(queue, enqueued_at, now, language, caller_number),
        last_announced=now,
        callback_offered=True,
        callback_allowed=False,
        greeting=GREETING,
    )


@dataclass(frozen=True, slots=True)
class Facts:
    """The queue as this caller finds it now. `agent`: the agent the offer plan gives this
    caller now (None: none, or offers are held while re-adopted callers rejoin). `place` is a
    function because counting the place costs a pass over the queue, and every waiting caller
    steps several times a second: it is asked only when something will be said with it."""

    config: QueueConfig
    open: bool
    staffed: int
    ready: int
    place: Callable[[], int]
    agent: str | None = None
    offers_held: bool = False


# --- events --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tick:
    """Nothing happened for a while (or something that is not the caller's)."""


@dataclass(frozen=True, slots=True)
class RangOut:
    """The agent offered to this caller did not answer; the caller keeps the place."""


@dataclass(frozen=True, slots=True)
class HungUp:
    """The caller hung up."""


@dataclass(frozen=True, slots=True)
class Key:
    digit: str


@dataclass(frozen=True, slots=True)
class PlaybackDone:
    """Our prompt ended (played out, stopped, or could not be played)."""


WaitEvent: TypeAlias = Tick | RangOut | HungUp | Key | PlaybackDone


# --- effects -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Play:
    prompts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop the prompt that is playing."""


@dataclass(frozen=True, slots=True)
class Announce:
    """Say the caller's place and expected wait (trail: `announced`, with the place)."""

    prompts: tuple[str, ...]
    position: int


@dataclass(frozen=True, slots=True)
class OfferCallback:
    """Offer to call back (trail: `callback_offered`, with the expected wait in seconds)."""

    prompts: tuple[str, ...]
    expected_wait: float | None


@dataclass(frozen=True, slots=True)
class Offer:
    """Ring `agent_id` for this caller; the shell answers with `RangOut` if it rings out."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class ScheduleCallback:
    """The caller accepted: keep the place for `number`, say `goodbye`, end the wait."""

    number: str
    goodbye: tuple[str, ...] = GOODBYE


@dataclass(frozen=True, slots=True)
class Leave:
    """The wait ends with `outcome`."""

    outcome: Closed | Overflow | Abandoned


Effect: TypeAlias = Play | Stop | Announce | OfferCallback | Offer | ScheduleCallback | Leave
Step: TypeAlias = tuple[WaitState, tuple[Effect, ...]]


# --- the step ------------------------------------------------------------------------------------


def step(state: WaitState, facts: Facts, event: WaitEvent, now: datetime) -> Step:
    """Apply `event`, then look at the queue again (unless the wait just ended)."""
    state, effects = _apply(state, event, now)
    if effects and isinstance(effects[-1], Leave | ScheduleCallback):
        return state, effects
    state, more = _decide(state, facts, now)
    return state, effects + more


def _apply(state: WaitState, event: WaitEvent, now: datetime) -> Step:
    match event:
        case HungUp():
            waited_s = (now - state.enqueued_at).total_seconds()
            return state, (Leave(Abandoned(state.queue, waited_s)),)
        case PlaybackDone():
            return _prompt_done(state, now), ()
        case Key(digit=digit):
            return _key(state, digit, now)
    return state, ()


def _decide(state: WaitState, facts: Facts, now: datetime) -> Step:
    cfg = facts.config
    if not facts.open:
        return state, (Leave(Closed(state.queue)),)
    waited_s = (now - state.enqueued_at).total_seconds()
    check = keep_waiting(cfg, waited_s=waited_s, staffed=facts.staffed)
    if check.decision != "stay":
        refused = check.decision == "refuse"
        return state, (Leave(Overflow(state.queue, check.reason, refused=refused)),)
    if facts.agent is not None:
        state, stop = _stop(state)
        return state, (*stop, Offer(facts.agent))
    state, said = _speak(state, facts, now, waited_s)
    state, entry = _entry_timeout(state, now)
    return state, said + entry


def _speak(state: WaitState, facts: Facts, now: datetime, waited_s: float) -> Step:
    """At most one thing to say: the greeting, the place and wait, or the callback offer."""
    if state.greeting and not state.playing:
        return _play(replace(state, greeting=()), state.greeting)
    if facts.offers_held or state.playing or state.dialogue != "none":
        return state, ()
    cfg = facts.config
    due = announcement_due(cfg.announce, state.since, state.last_announced, now)
    # the place and the expected wait only when something will be said with them
    if not due and not (cfg.callback.enabled and not state.callback_offered):
        return state, ()
    position = facts.place()
    ewt = expected_wait_s(position, facts.staffed, facts.ready, cfg.average_handle_s)
    if due:
        return _announce(state, cfg, position, ewt, now)
    if callback_eligible(
        cfg.callback,
        open_now=True,
        waited_s=waited_s,
        expected_wait=ewt,
        already_offered=state.callback_offered,
    ):
        offered = replace(state, callback_offered=True, playing=True)
        return offered, (OfferCallback(("queue-callback-offer",), ewt),)
    return state, ()


def _announce(
    state: WaitState, cfg: QueueConfig, position: int, ewt: float | None, now: datetime
) -> Step:
    state = replace(state, last_announced=now)
    prompts: list[str] = []
    if cfg.announce.position:
        prompts += ["queue-position", *number_prompts(position, state.language)]
        prompts.append("queue-position-end")
    if cfg.announce.expected_wait and ewt is not None:
        minutes = announced_minutes(ewt)
        prompts += ["queue-wait", *number_prompts(minutes, state.language)]
        prompts.append("queue-wait-minutes")
    if not prompts:
        return state, ()
    return replace(state, playing=True), (Announce(tuple(prompts), position),)


def _prompt_done(state: WaitState, now: datetime) -> WaitState:
    state = replace(state, playing=False)
    if state.dialogue == "entering" and not state.keyed:
        # the instruction ended: the caller has the whole time-out from now
        return replace(state, entry_deadline=_entry_ends(now))
    return state


# --- the callback dialogue -----------------------------------------------------------------------


def _key(state: WaitState, digit: str, now: datetime) -> Step:
    if not (state.callback_offered and state.callback_allowed):
        return state, ()
    if state.dialogue == "entering":
        return _entry_key(state, digit, now)
    if state.dialogue == "confirming":
        return _confirmation_key(state, digit, now)
    if digit != CALLBACK_KEY:
        return state, ()
    state, stop = _stop(state)
    if state.caller_number:
        state, asked = _confirm(state, state.caller_number)
    else:
        # no caller ID to call back: ask for a number
        state, asked = _start_entry(state, now)
    return state, stop + asked


def _confirmation_key(state: WaitState, digit: str, now: datetime) -> Step:
    if digit not in (CONFIRM_KEY, DECLINE_KEY, OTHER_NUMBER_KEY):
        return state, ()
    state, stop = _stop(replace(state, dialogue="none"))
    if digit == CONFIRM_KEY:
        return state, (*stop, ScheduleCallback(state.callback_number))
    if digit == OTHER_NUMBER_KEY:
        state, asked = _start_entry(state, now)
        return state, stop + asked
    return state, stop


def _entry_key(state: WaitState, digit: str, now: datetime) -> Step:
    if digit == CANCEL_ENTRY_KEY:
        return _stop(replace(state, dialogue="none", keyed=""))
    if digit == END_OF_NUMBER_KEY:
        return _number_keyed(state, now)
    if not digit.isdigit() or len(state.keyed) >= CALLBACK_NUMBER_MAX_DIGITS:
        return state, ()
    stop: tuple[Effect, ...] = ()
    if not state.keyed:
        state, stop = _stop(state)  # keying over the instruction
    return replace(state, keyed=state.keyed + digit, entry_deadline=_entry_ends(now)), stop


def _entry_timeout(state: WaitState, now: datetime) -> Step:
    """A pause after the instruction or the last key ends the entry, like `#`."""
    if (
        state.dialogue == "entering"
        and not state.playing
        and state.entry_deadline is not None
        and now >= state.entry_deadline
    ):
        return _number_keyed(state, now)
    return state, ()


def _number_keyed(state: WaitState, now: datetime) -> Step:
    """The entry ended: read a usable number back for confirmation; otherwise say so, and ask
    again or let the caller keep waiting."""
    number = state.keyed
    state, stop = _stop(replace(state, dialogue="none", keyed=""))
    if number and usable_callback_number(number):
        state, asked = _confirm(state, number)
        return state, stop + asked
    state = replace(state, entry_failures=state.entry_failures + 1)
    if state.entry_failures < CALLBACK_ENTRY_TRIES:
        state, asked = _start_entry(state, now, ("queue-callback-number-invalid",))
    else:
        state, asked = _play(state, ("queue-callback-number-invalid", "queue-keep-waiting"))
    return state, stop + asked


def _confirm(state: WaitState, number: str) -> Step:
    digits = say_prompts("digits", number, state.language)
    state = replace(state, dialogue="confirming", callback_number=number)
    return _play(state, ("queue-callback-confirm", *digits, "queue-callback-confirm-keys"))


def _start_entry(state: WaitState, now: datetime, before: tuple[str, ...] = ()) -> Step:
    # the time-out runs again from the end of the instruction (`_prompt_done`)
    state = replace(state, dialogue="entering", keyed="", entry_deadline=_entry_ends(now))
    return _play(state, (*before, "queue-callback-enter-number"))


def _entry_ends(now: datetime) -> datetime:
    return now + timedelta(seconds=CALLBACK_ENTRY_TIMEOUT_S)


# --- prompts -------------------------------------------------------------------------------------


def _play(state: WaitState, prompts: tuple[str, ...]) -> Step:
    return replace(state, playing=True), (Play(prompts),)


def _stop(state: WaitState) -> Step:
    if not state.playing:
        return state, ()
    return replace(state, playing=False), (Stop(),)
