"""The channel-variable codec: each kept value comes back as it was kept; a damaged one, or one
of another format version, is refused with a reason that names the problem but never the
kept data (callers' entries)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import pytest

from ivr.calls.codec import (
    OFFER,
    QUEUE,
    STATE,
    TALK,
    VERSION,
    Kept,
    Key,
    Membership,
    RecordSoFar,
    Ringing,
    SavedFlow,
    Talk,
    state_dict,
)
from ivr.flow import interpreter as i

pytestmark = pytest.mark.unit

T0 = datetime(2027, 3, 1, 9, 5, tzinfo=UTC)
STATE_AT_MENU = i.CallState(
    flow_id="hotline",
    flow_version=None,
    node="main_menu",
    call_id="c1",
    phase="input",
    variables={"caller_id": "0935821234", "customer_number": "1000000018"},
    counter=3,
    playback="c1-pb-2",
    stack=(i.Frame("hotline", "7", "after"),),
)
SAVED = SavedFlow("hotline", "d1g3st", STATE_AT_MENU, RecordSoFar(T0.isoformat(), ("1", "2")))


def test_each_key_names_its_channel_variable() -> None:
    assert (STATE.name, QUEUE.name, TALK.name) == ("HOTLINE_STATE", "HOTLINE_QUEUE", "HOTLINE_TALK")
    assert OFFER.name == "HOTLINE_OFFER"


def test_a_place_kept_by_an_engine_of_before_the_schedule_reads_as_never_announced() -> None:
    text = '{"v":1,"queue":"general","priority":0,"enqueued_at":"2027-03-01T09:05:00+00:00"}'
    assert QUEUE.decode(text).value == Membership("general", 0, T0)
    assert QUEUE.encode(Membership("general", 0, T0)) == text


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (QUEUE, Membership("general", 2, T0)),
        (QUEUE, Membership("general", 2, T0, announced_at=T0, callback_offered=True)),
        (QUEUE, Membership("general", 2, T0, announced_at=T0, called_back=True)),
        (OFFER, Ringing("agent1", "c1-agent-1")),
        (TALK, Talk("general", "agent1", "c1-agent-1", "c1-talk")),
        (TALK, Talk("", "", "c1-dept-1", "c1-talk")),  # a department: no queue, no agent
        (TALK, Talk("general", "agent1", "c1-agent-1", "c1-talk", T0)),  # the caller on hold
        (STATE, SAVED),
    ],
)
def test_a_kept_value_comes_back_as_it_was(key: Key[Any], value: object) -> None:
    text = key.encode(value)
    assert json.loads(text)["v"] == VERSION
    assert key.decode(text) == Kept(value)


def test_nothing_kept_is_no_value_and_no_problem() -> None:
    assert QUEUE.decode("") == Kept(None)
    assert STATE.decode("") == Kept(None)


def test_the_kept_state_is_the_states_asdict() -> None:
    # `state_dict` is a cheaper `asdict` for the state kept after every step
    kept = state_dict(STATE_AT_MENU)
    assert kept == asdict(STATE_AT_MENU)
    assert list(kept) == list(asdict(STATE_AT_MENU))
    wire = json.loads(STATE.encode(SAVED))
    assert wire["state"] == json.loads(json.dumps(asdict(STATE_AT_MENU)))
    assert wire["record"] == {"started_at": T0.isoformat(), "digits": ["1", "2"]}


def test_values_kept_before_the_codec_are_read_as_version_1() -> None:
    # as engines of before the codec wrote them, still in the call memory at an upgrade
    queue = '{"queue":"general","priority":0,"enqueued_at":"2027-03-01T09:05:00+00:00"}'
    assert QUEUE.decode(queue).value == Membership("general", 0, T0)
    talk = json.dumps({"queue": "", "agent": "", "leg": "L", "bridge": "B"})
    assert TALK.decode(talk).value == Talk("", "", "L", "B")
    old_state = json.dumps(
        {
            "flow": "hotline",
            "digest": "d1g3st",
            "state": asdict(STATE_AT_MENU),
            "record": {"started_at": T0.isoformat(), "digits": ["1", "2"]},
        }
    )
    assert STATE.decode(old_state).value == SAVED


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "HOTLINE_QUEUE: not JSON"),
        ("[1, 2]", "HOTLINE_QUEUE: not a JSON object"),
        ('{"queue": "general"}', "HOTLINE_QUEUE: priority: Field required; enqueued_at: Field"),
        (
            '{"queue": "general", "priority": "high", "enqueued_at": "2027-03-01T09:05:00Z"}',
            "HOTLINE_QUEUE: priority: Input should be a valid integer",
        ),
        (
            '{"queue": "general", "priority": 0, "enqueued_at": "at nine"}',
            "HOTLINE_QUEUE: enqueued_at: Input should be a valid datetime",
        ),
    ],
)
def test_a_damaged_value_is_refused_with_its_reason(text: str, problem: str) -> None:
    kept = QUEUE.decode(text)
    assert kept.value is None
    assert kept.problem.startswith(problem)


def test_a_talk_without_its_leg_or_bridge_is_refused() -> None:
    kept = TALK.decode('{"queue": "", "agent": "", "leg": "", "bridge": "B"}')
    assert kept.value is None
    assert kept.problem.startswith("HOTLINE_TALK: leg:")


def test_a_talk_without_a_hold_is_written_as_before_holds_and_a_hold_needs_its_zone() -> None:
    # an engine from before holds reads a talk not on hold exactly as it always did
    assert "held_since" not in json.loads(TALK.encode(Talk("q", "a", "L", "B")))
    talk = {"queue": "q", "agent": "a", "leg": "L", "bridge": "B"}
    kept = TALK.decode(json.dumps({**talk, "held_since": "2027-03-01T09:05:00"}))
    assert kept.value is None
    assert kept.problem == "HOTLINE_TALK: held_since: Input should have timezone info"


def test_a_value_of_another_format_version_is_not_guessed_at() -> None:
    newer = json.loads(QUEUE.encode(Membership("general", 0, T0))) | {"v": 2}
    kept = QUEUE.decode(json.dumps(newer))
    assert kept == Kept(None, "HOTLINE_QUEUE: format version 2 (this engine reads 1)")


def test_a_damaged_state_names_the_field_never_the_callers_entries() -> None:
    wire = json.loads(STATE.encode(SAVED))
    wire["state"]["phase"] = "dancing"
    wire["state"]["counter"] = "many"
    kept = STATE.decode(json.dumps(wire))
    assert kept.value is None
    assert "state.phase" in kept.problem
    assert "state.counter" in kept.problem
    for entry in ("0935821234", "1000000018", "dancing", "many"):
        assert entry not in kept.problem
