from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from ivr.flow import interpreter as i
from ivr.flow.loader import References, parse_flow
from ivr.flow.model import Flow

pytestmark = pytest.mark.unit

T0 = datetime(2027, 2, 10, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))

FLOW = parse_flow(
    """
flow: {id: t, start: menu, fallback: operator}
nodes:
  menu:
    kind: menu
    prompts: [main-menu]
    options: {1: info, 2: date}
    timeout_s: 5
    retries: 1
  info:
    kind: play
    prompts: [outage-info-general]
    next: bye
  date:
    kind: collect
    into: when
    prompts: [enter-stop-date]
    min_len: 8
    max_len: 8
    validator: date
    confirm: true
    retries: 1
    next: bye
  operator:
    kind: queue
    queue: general
  bye:
    kind: hangup
""",
    "t.yaml",
    References(),
)


def at(node: str, flow: Flow = FLOW, **kw: object) -> i.CallState:
    """A call waiting at `node`'s prompt, playing `pb-1` guarded by timer `playback-2`."""
    base = i.CallState(
        flow.id, None, node, phase="prompt", playback="pb-1", timer="playback-2", counter=2
    )
    return i.CallState(**{**base.__dict__, **kw})


def run(state: i.CallState, *events: i.FlowEvent) -> tuple[i.CallState, list[i.Command]]:
    commands: list[i.Command] = []
    for event in events:
        result = i.step(FLOW, state, event, T0)
        state = result.state
        commands.extend(result.commands)
    return state, commands


def plays(commands: list[i.Command]) -> list[tuple[str, ...]]:
    return [c.prompt_ids for c in commands if isinstance(c, i.Play)]


def test_start_plays_menu_with_guard_timer() -> None:
    state, commands = run(i.initial_state(FLOW), i.Started("0312345678"))
    assert commands[0] == i.SetLanguage("ja")
    assert i.Play(("main-menu",), "pb-1") in commands
    assert i.StartTimer("playback-2", 120) in commands
    assert state.phase == "prompt"


def test_prompt_done_starts_input_timer() -> None:
    state, commands = run(at("menu"), i.PlaybackDone("pb-1"))
    assert commands == [i.CancelTimer("playback-2"), i.StartTimer("input-3", 5)]
    assert state.phase == "input"


def test_menu_choice_after_prompt() -> None:
    state, _ = run(at("menu"), i.PlaybackDone("pb-1"))
    state, commands = run(state, i.Digit("1"))
    assert commands[:2] == [
        i.CancelTimer("input-3"),
        i.Trail("menu_choice", "menu", {"key": "1", "to": "info"}),
    ]
    assert plays(commands) == [("outage-info-general",)]
    assert state.node == "info"


def test_barge_in_stops_prompt_and_is_handled() -> None:
    state, commands = run(at("menu"), i.Digit("1"))
    assert commands[:2] == [i.StopPlayback("pb-1"), i.CancelTimer("playback-2")]
    assert state.node == "info"


def test_stale_playback_done_is_ignored() -> None:
    state = at("menu")
    assert i.step(FLOW, state, i.PlaybackDone("pb-0"), T0) == i.Step(state, ())


@pytest.mark.parametrize(
    ("event", "prefix"),
    [(i.Digit("7"), "invalid-choice"), (i.Timeout("input-3"), "no-input")],
)
def test_invalid_or_no_key_replays_with_prefix(event: i.FlowEvent, prefix: str) -> None:
    state, _ = run(at("menu"), i.PlaybackDone("pb-1"))
    state, commands = run(state, event)
    assert plays(commands) == [(prefix, "main-menu")]
    assert state.retries == 1
    assert state.node == "menu"


def test_retries_exhausted_goes_to_fallback_queue() -> None:
    state, _ = run(at("menu"), i.PlaybackDone("pb-1"), i.Digit("7"))
    state, commands = run(state, i.Digit("8"))
    assert i.Trail("retries_exhausted", "menu", {"reason": "invalid"}) in commands
    assert state.node == "operator"
    assert state.in_fallback
    enqueue = [c for c in commands if isinstance(c, i.Enqueue)]
    assert enqueue
    assert enqueue[0].queue == "general"


def test_stale_timer_is_ignored() -> None:
    state = at("menu", phase="input", playback=None, timer="input-3")
    assert i.step(FLOW, state, i.Timeout("input-1"), T0).commands == ()


def collect_ready() -> i.CallState:
    state, _ = run(at("menu"), i.Digit("2"))
    assert state.node == "date"
    state, _ = run(state, i.PlaybackDone(state.playback or ""))
    return state


def test_collect_validates_confirms_and_moves_on() -> None:
    state = collect_ready()
    state, commands = run(state, *(i.Digit(k) for k in "20270331"))
    assert state.variables["when"] == "2027-03-31"
    readback = [c for c in commands if isinstance(c, i.Play)][-1]
    said = [x for x in readback.items if isinstance(x, i.Said)]
    assert said[0].kind == "date"
    assert said[0].value == "2027-03-31"
    assert readback.prompt_ids[0] == "you-entered"
    assert readback.prompt_ids[-1] == "confirm-entry"
    state, commands = run(state, i.Digit("#"), i.Digit("1"))
    assert state.node == "bye"


def test_collect_invalid_date_reprompts() -> None:
    state = collect_ready()
    state, commands = run(state, *(i.Digit(k) for k in "20271399"))
    assert plays(commands)[-1] == ("invalid-entry", "enter-stop-date")
    assert "when" not in state.variables


def test_collect_reenter_with_2() -> None:
    state = collect_ready()
    state, _ = run(state, *(i.Digit(k) for k in "20270331"))
    state, commands = run(state, i.Digit("2"))
    assert plays(commands) == [("enter-stop-date",)]
    assert "when" not in state.variables
    assert state.phase == "prompt"


def test_collect_terminator_ends_short_entry() -> None:
    state = collect_ready()
    state, commands = run(state, *(i.Digit(k) for k in "2027#"))
    assert plays(commands)[-1] == ("invalid-entry", "enter-stop-date")


def test_hangup_ends_call_and_cancels_timer() -> None:
    state, commands = run(at("menu"), i.HungUp())
    assert i.CancelTimer("playback-2") in commands
    assert state.done
    assert i.step(FLOW, state, i.Digit("1"), T0).commands == ()


def test_failed_command_apologises_via_fallback() -> None:
    state, commands = run(at("menu"), i.Failed("boom"))
    assert state.node == "operator"
