"""The pure waiting step as tables: offers, announcements, the callback offer, overflow, closing,
hanging up, and the callback dialogue (accept, decline, another number, number entry with `#`,
`*` and the pause, unusable numbers). No ARI, no asyncio: state, facts, event, now in; state and
effects out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ivr.flow.say import number_prompts, say_prompts
from routing.config import QueueConfig
from routing.queues import waiting as w
from routing.queues.outcomes import Abandoned, Closed, Overflow

pytestmark = pytest.mark.unit

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
CALLER = "0935821234"

QUIET: dict[str, Any] = {"announce": {"on_entry": False, "every_s": None}}
"""No announcements, so the callback offer and the dialogue are alone on the line."""
CALLBACK: dict[str, Any] = {**QUIET, "callback": {"enabled": True, "after_s": 0}}

CONFIRM_NUMBER = ("queue-callback-confirm", *say_prompts("digits", CALLER, "ja"))
ENTER_NUMBER = w.Play(("queue-callback-enter-number",))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def queue(**settings: Any) -> QueueConfig:
    base: dict[str, Any] = {"calendar": "cal", "when_no_agents": "join", "average_handle_s": 60}
    return QueueConfig.model_validate({**base, **settings})


def facts(
    cfg: QueueConfig,
    *,
    open_: bool = True,
    staffed: int = 1,
    ready: int = 0,
    place: int = 1,
    agent: str | None = None,
    held: bool = False,
) -> w.Facts:
    return w.Facts(cfg, open_, staffed, ready, lambda: place, agent, held)


def fresh(caller: str = CALLER, **state: Any) -> w.WaitState:
    """A caller who has just joined queue `q` at T0."""
    return replace(w.waiting("q", T0, T0, "ja", caller), **state)


def run(
    state: w.WaitState, known: w.Facts, *events: tuple[float, w.WaitEvent]
) -> tuple[w.WaitState, list[w.Effect]]:
    """Step through `(seconds after T0, event)` pairs; all effects, in order."""
    effects: list[w.Effect] = []
    for seconds, event in events:
        state, more = w.step(state, known, event, at(seconds))
        effects.extend(more)
    return state, effects


def offered_callback(caller: str = CALLER) -> w.WaitState:
    """A caller who heard the callback offer to its end."""
    state, effects = run(fresh(caller), facts(queue(**CALLBACK)), (0, w.Tick()))
    assert effects == [w.OfferCallback(("queue-callback-offer",), 60.0)]
    state, _ = run(state, facts(queue(**CALLBACK)), (1, w.PlaybackDone()))
    return state


def entering(caller: str = "") -> w.WaitState:
    """A caller without caller ID who accepted and heard the instruction to key a number."""
    state, effects = run(offered_callback(caller), facts(queue(**CALLBACK)), (2, w.Key("1")))
    assert effects == [ENTER_NUMBER]
    state, _ = run(state, facts(queue(**CALLBACK)), (3, w.PlaybackDone()))
    return state


# --- offers, leaving -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "known", "event", "effects"),
    [
        pytest.param(fresh(), facts(queue(**QUIET), ready=1, agent="a1"), w.Tick(),
                     [w.Offer("a1")], id="an agent for this caller: offer"),
        pytest.param(fresh(playing=True), facts(queue(**QUIET), ready=1, agent="a1"), w.Tick(),
                     [w.Stop(), w.Offer("a1")], id="the prompt stops for the offer"),
        pytest.param(fresh(), facts(queue(**QUIET), ready=1, agent="a2"), w.RangOut(),
                     [w.Offer("a2")], id="rang out: the next agent at once"),
        pytest.param(fresh(), facts(queue(**QUIET), ready=1), w.RangOut(),
                     [], id="rang out, nobody else: keep waiting"),
        pytest.param(fresh(), facts(queue(**QUIET), open_=False, agent="a1"), w.Tick(),
                     [w.Leave(Closed("q"))], id="the queue closed"),
        pytest.param(fresh(), facts(queue(**QUIET), agent="a1"), w.HungUp(),
                     [w.Leave(Abandoned("q", 0.0))], id="hung up: nothing else happens"),
        pytest.param(fresh(), facts(queue(**QUIET, when_no_agents="overflow"), staffed=0),
                     w.Tick(), [w.Leave(Overflow("q", "no_agents"))],
                     id="every agent logged out: overflow"),
        pytest.param(fresh(), facts(queue(**QUIET, when_no_agents="refuse"), staffed=0),
                     w.Tick(), [w.Leave(Overflow("q", "no_agents", refused=True))],
                     id="every agent logged out: refuse"),
    ],
)  # fmt: skip
def test_offers_and_leaving(
    state: w.WaitState, known: w.Facts, event: w.WaitEvent, effects: list[w.Effect]
) -> None:
    assert list(w.step(state, known, event, T0)[1]) == effects


@pytest.mark.parametrize(
    ("seconds", "effects"),
    [
        (119, []),
        (120, [w.Leave(Overflow("q", "max_wait"))]),
        (121, [w.Leave(Overflow("q", "max_wait"))]),
    ],
)
def test_overflow_at_max_wait(seconds: float, effects: list[w.Effect]) -> None:
    known = facts(queue(**QUIET, max_wait_s=120))
    assert list(w.step(fresh(), known, w.Tick(), at(seconds))[1]) == effects


def test_abandoned_counts_the_wait_from_the_enqueue_time() -> None:
    rejoined = w.waiting("q", T0, at(300), "ja", CALLER)  # after an engine restart
    _, effects = w.step(rejoined, facts(queue(**QUIET)), w.HungUp(), at(330))
    assert effects == (w.Leave(Abandoned("q", 330.0)),)


# --- announcements -------------------------------------------------------------------------------


def announcement(place: int, minutes: int | None) -> w.Announce:
    prompts = ["queue-position", *number_prompts(place, "ja"), "queue-position-end"]
    if minutes is not None:
        prompts += ["queue-wait", *number_prompts(minutes, "ja"), "queue-wait-minutes"]
    return w.Announce(tuple(prompts), place)


@pytest.mark.parametrize(
    ("settings", "staffed", "place", "effects"),
    [
        pytest.param({}, 1, 3, [announcement(3, 3)], id="place and wait (3 x 60 s / 1 agent)"),
        pytest.param({}, 2, 3, [announcement(3, 2)], id="wait in whole minutes, rounded up"),
        pytest.param({}, 0, 2, [announcement(2, None)], id="nobody staffed: no wait to say"),
        pytest.param({"announce": {"expected_wait": False}}, 1, 4, [announcement(4, None)],
                     id="the place only"),
        pytest.param({"announce": {"position": False, "expected_wait": False}}, 1, 1, [],
                     id="nothing to announce"),
        pytest.param({"announce": {"on_entry": False}}, 1, 1, [], id="not on entry"),
    ],
)  # fmt: skip
def test_announcement_on_entry(
    settings: dict[str, Any], staffed: int, place: int, effects: list[w.Effect]
) -> None:
    known = facts(queue(**settings), staffed=staffed, place=place)
    assert list(w.step(fresh(), known, w.Tick(), T0)[1]) == effects


def test_the_announcement_is_due_again_every_n_seconds_after_the_last() -> None:
    known = facts(queue(announce={"every_s": 60}), place=2)
    state, effects = run(fresh(), known, (0, w.Tick()), (5, w.PlaybackDone()), (59, w.Tick()))
    assert effects == [announcement(2, 2)]
    state, effects = run(state, known, (60, w.Tick()), (61, w.Tick()))
    assert effects == [announcement(2, 2)]
    assert state.last_announced == at(60)


@pytest.mark.parametrize(
    ("state", "known"),
    [
        pytest.param(fresh(playing=True), facts(queue()), id="a prompt is playing"),
        pytest.param(fresh(), facts(queue(), held=True), id="offers held after a restart"),
        pytest.param(fresh(dialogue="entering", entry_deadline=at(8)), facts(queue()),
                     id="the caller is keying a number"),
        pytest.param(fresh(dialogue="confirming"), facts(queue()),
                     id="the caller is confirming a number"),
    ],
)  # fmt: skip
def test_nothing_is_said_over_a_prompt_a_restart_or_the_dialogue(
    state: w.WaitState, known: w.Facts
) -> None:
    assert w.step(state, known, w.Tick(), T0)[1] == ()


def test_the_place_is_counted_only_when_something_is_said() -> None:
    def uncountable() -> int:
        raise AssertionError("the place was counted for nothing")

    known = replace(facts(queue(**QUIET)), place=uncountable)
    assert run(fresh(), known, (0, w.Tick()), (30, w.Tick()))[1] == []


# --- the callback offer --------------------------------------------------------------------------


UNKNOWN = -1.0
"""An offer made with no expected wait at all (nobody staffed)."""


def callback_queue(**callback: Any) -> QueueConfig:
    return queue(**QUIET, callback={"enabled": True, **callback})


@pytest.mark.parametrize(
    ("callback", "seconds", "staffed", "place", "offer"),
    [
        pytest.param({"after_s": 30}, 29, 1, 1, None, id="not before after_s"),
        pytest.param({"after_s": 30}, 30, 1, 1, 60.0, id="after after_s"),
        pytest.param({"expected_wait_over_s": 120}, 0, 1, 3, 180.0,
                     id="expected wait over the threshold: at once"),
        pytest.param({"expected_wait_over_s": 120}, 0, 1, 2, None,
                     id="expected wait at the threshold: no"),
        pytest.param({"expected_wait_over_s": 120}, 0, 0, 1, UNKNOWN,
                     id="nobody staffed: the wait counts as long"),
        pytest.param({"expected_wait_over_s": 120, "after_s": 300}, 300, 2, 1, 30.0,
                     id="a short wait, but not for ever"),
    ],
)  # fmt: skip
def test_callback_offer(
    callback: dict[str, Any], seconds: float, staffed: int, place: int, offer: float | None
) -> None:
    known = facts(callback_queue(**callback), staffed=staffed, place=place)
    state, effects = w.step(fresh(), known, w.Tick(), at(seconds))
    if offer is None:
        assert effects == ()
        assert not state.callback_offered
        return
    expected_wait = None if offer == UNKNOWN else offer
    assert effects == (w.OfferCallback(("queue-callback-offer",), expected_wait),)
    assert state.callback_offered
    assert state.playing


def test_the_callback_is_offered_once() -> None:
    known = facts(callback_queue(after_s=0))
    state, effects = run(fresh(), known, (0, w.Tick()), (3, w.PlaybackDone()), (600, w.Tick()))
    assert effects == [w.OfferCallback(("queue-callback-offer",), 60.0)]


def test_a_called_back_caller_is_greeted_and_offered_nothing() -> None:
    state = w.called_back("q", T0 - timedelta(minutes=20), T0, "ja", CALLER)
    known = facts(queue(callback={"enabled": True, "after_s": 0}))
    state, effects = run(state, known, (0, w.Tick()), (2, w.PlaybackDone()), (59, w.Tick()))
    assert effects == [w.Play(w.GREETING)]
    assert w.GREETING[0] in w.PROMPTS


def test_a_called_back_caller_keying_1_is_not_offered_a_second_callback() -> None:
    state = w.called_back("q", T0 - timedelta(minutes=20), T0, "ja", CALLER)
    known = facts(queue(**CALLBACK))
    state, effects = run(
        state, known, (0, w.Tick()), (2, w.PlaybackDone()), (3, w.Key("1")), (4, w.Key("1"))
    )
    # the greeting, and nothing for the keys: no confirmation, no number entry
    assert effects == [w.Play(w.GREETING)]
    assert state.dialogue == "none"


# --- the callback dialogue -----------------------------------------------------------------------

KEYS = facts(queue(**CALLBACK))


@pytest.mark.parametrize(
    ("state", "key", "effects", "dialogue"),
    [
        pytest.param(fresh(), "1", [w.OfferCallback(("queue-callback-offer",), 60.0)], "none",
                     id="before the offer 1 means nothing (the offer comes as on any tick)"),
        pytest.param(offered_callback(), "5", [], "none", id="offered: other keys mean nothing"),
        pytest.param(offered_callback(), "1",
                     [w.Play((*CONFIRM_NUMBER, "queue-callback-confirm-keys"))], "confirming",
                     id="1 accepts: the caller ID is read back"),
        pytest.param(offered_callback(caller=""), "1", [ENTER_NUMBER], "entering",
                     id="1 accepts, no caller ID: key a number"),
        pytest.param(replace(offered_callback(), playing=True), "1",
                     [w.Stop(), w.Play((*CONFIRM_NUMBER, "queue-callback-confirm-keys"))],
                     "confirming", id="1 over the offer prompt stops it"),
    ],
)  # fmt: skip
def test_accepting_the_callback_offer(
    state: w.WaitState, key: str, effects: list[w.Effect], dialogue: w.Dialogue
) -> None:
    state, done = w.step(state, KEYS, w.Key(key), T0)
    assert list(done) == effects
    assert state.dialogue == dialogue


def confirming(playing: bool = True) -> w.WaitState:
    state, _ = run(offered_callback(), KEYS, (2, w.Key("1")))
    return replace(state, playing=playing)


@pytest.mark.parametrize(
    ("key", "effects", "dialogue"),
    [
        pytest.param("1", [w.Stop(), w.ScheduleCallback(CALLER)], "none", id="1 confirms"),
        pytest.param("2", [w.Stop()], "none", id="2 declines: keep waiting"),
        pytest.param("3", [w.Stop(), ENTER_NUMBER], "entering", id="3 keys another number"),
        pytest.param("9", [], "confirming", id="other keys mean nothing"),
        pytest.param("#", [], "confirming", id="so does the hash key"),
    ],
)  # fmt: skip
def test_confirming_the_number(key: str, effects: list[w.Effect], dialogue: str) -> None:
    state, done = w.step(confirming(), KEYS, w.Key(key), at(5))
    assert list(done) == effects
    assert state.dialogue == dialogue


def test_confirming_ends_the_wait_with_the_goodbye() -> None:
    _, effects = w.step(confirming(), facts(queue(**CALLBACK), agent="a1"), w.Key("1"), at(5))
    # no offer after the caller accepted: the place is kept for the call back
    assert effects == (w.Stop(), w.ScheduleCallback(CALLER, ("queue-callback-scheduled",)))


def confirm(number: str) -> list[w.Effect]:
    digits = say_prompts("digits", number, "ja")
    return [w.Play(("queue-callback-confirm", *digits, "queue-callback-confirm-keys"))]


INVALID_AGAIN = w.Play(("queue-callback-number-invalid", "queue-callback-enter-number"))
INVALID_GIVE_UP = w.Play(("queue-callback-number-invalid", "queue-keep-waiting"))


def keyed(keys: str, start: float = 4) -> list[tuple[float, w.WaitEvent]]:
    """`keys` pressed half a second apart from `start`."""
    return [(start + i * 0.5, w.Key(k)) for i, k in enumerate(keys)]


@pytest.mark.parametrize(
    ("keys", "effects", "dialogue"),
    [
        pytest.param("09012345678#", confirm("09012345678"), "confirming",
                     id="a mobile number and #"),
        pytest.param("0312345678#", confirm("0312345678"), "confirming", id="a Tokyo number"),
        pytest.param("119#", [INVALID_AGAIN], "entering", id="not a number to call back"),
        pytest.param("#", [INVALID_AGAIN], "entering", id="# with nothing keyed"),
        pytest.param("0901234*", [], "none", id="* cancels: keep waiting"),
        pytest.param("09012345678" + "1234567" + "#", [INVALID_AGAIN], "entering",
                     id="more than 15 digits are not taken"),
        pytest.param("0901234A5678#", confirm("09012345678"), "confirming",
                     id="A-D keys are not digits"),
    ],
)  # fmt: skip
def test_keying_a_number(keys: str, effects: list[w.Effect], dialogue: str) -> None:
    state, done = run(entering(), KEYS, *keyed(keys))
    assert done == effects
    assert state.dialogue == dialogue


def test_the_first_key_stops_the_instruction() -> None:
    state, _ = run(offered_callback(""), KEYS, (2, w.Key("1")))  # the instruction plays
    state, effects = run(state, KEYS, (3, w.Key("0")), (3.5, w.Key("9")))
    assert effects == [w.Stop()]
    assert state.keyed == "09"


def test_two_unusable_numbers_and_the_caller_keeps_waiting() -> None:
    state, effects = run(entering(), KEYS, *keyed("119#"))
    state, more = run(state, KEYS, (10, w.PlaybackDone()), *keyed("110#", start=11))
    assert effects + more == [INVALID_AGAIN, INVALID_GIVE_UP]
    assert state.dialogue == "none"
    assert state.entry_failures == w.CALLBACK_ENTRY_TRIES


@pytest.mark.parametrize(
    ("events", "effects"),
    [
        pytest.param([(10.9, w.Tick())], [], id="within the pause after the instruction"),
        pytest.param([(11, w.Tick())], [INVALID_AGAIN],
                     id="a pause after the instruction: nothing keyed"),
        pytest.param([(5, w.Key("0")), (6, w.Key("3")), (13.9, w.Tick())], [],
                     id="within the pause after the last key"),
        pytest.param([*((5 + i, w.Key(k)) for i, k in enumerate("0312345678")), (22, w.Tick())],
                     confirm("0312345678"), id="a pause after the last key ends the number"),
    ],
)  # fmt: skip
def test_the_entry_ends_after_a_pause(
    events: list[tuple[float, w.WaitEvent]], effects: list[w.Effect]
) -> None:
    # the instruction ended at 3 s (`entering`): the pause is counted from there
    assert run(entering(), KEYS, *events)[1] == effects


def test_the_pause_does_not_count_while_the_instruction_plays() -> None:
    state, _ = run(offered_callback(""), KEYS, (2, w.Key("1")))
    assert run(state, KEYS, (30, w.Tick()))[1] == []
    state, effects = run(state, KEYS, (31, w.PlaybackDone()), (38.9, w.Tick()), (39, w.Tick()))
    assert effects == [INVALID_AGAIN]


def test_a_prompt_end_while_nothing_plays_changes_nothing() -> None:
    state = fresh(last_announced=T0)
    assert w.step(state, facts(queue()), w.PlaybackDone(), T0) == (state, ())


# --- after a take-over ---------------------------------------------------------------------------


def test_a_re_adopted_caller_hears_their_place_on_the_schedule_they_had() -> None:
    # heard at T0 (entry), every 60 s: the engine that takes over at 25 s says nothing then
    # (the old engine's prompt may still be playing) and the next one at 60 s
    cfg = queue(announce={"every_s": 60})
    state = w.resumed("q", T0, "ja", CALLER, announced_at=T0, callback_offered=False)
    state, effects = run(state, facts(cfg, place=2), (25, w.Tick()), (59.5, w.Tick()))
    assert effects == []
    _, effects = run(state, facts(cfg, place=2), (60, w.Tick()))
    assert [type(e) for e in effects] == [w.Announce]


def test_a_re_adopted_caller_who_never_heard_their_place_hears_it_at_once() -> None:
    cfg = queue(announce={"every_s": 60})
    state = w.resumed("q", T0, "ja", CALLER, announced_at=None, callback_offered=False)
    _, effects = run(state, facts(cfg), (3, w.Tick()))
    assert [type(e) for e in effects] == [w.Announce]


def test_a_re_adopted_caller_who_heard_the_callback_offer_is_not_offered_it_again() -> None:
    state = w.resumed("q", T0, "ja", CALLER, announced_at=None, callback_offered=True)
    _, effects = run(state, facts(queue(**CALLBACK)), (30, w.Tick()))
    assert effects == []
    # the offer still stands: key 1 asks for the call back
    state = w.resumed("q", T0, "ja", CALLER, announced_at=None, callback_offered=True)
    _, effects = run(state, facts(queue(**CALLBACK)), (31, w.Key("1")))
    assert effects == [w.Play((*CONFIRM_NUMBER, "queue-callback-confirm-keys"))]


def test_a_re_adopted_call_back_is_never_offered_another_callback() -> None:
    state = w.resumed(
        "q", T0, "ja", CALLER, announced_at=T0, callback_offered=False, called_back=True
    )
    _, effects = run(state, facts(queue(**CALLBACK)), (30, w.Tick()), (31, w.Key("1")))
    assert effects == []
