"""ARI events become typed models; anything we do not model is kept raw, never lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ivr.ari.models import (
    ChannelDtmfReceived,
    PlaybackFinished,
    StasisStart,
    UnknownEvent,
    event_channel_id,
    parse_event,
    parse_event_json,
)

pytestmark = pytest.mark.unit

CHANNEL = {
    "id": "1795666025.12",
    "name": "PJSIP/caller-00000001",
    "state": "Ring",
    "caller": {"name": "", "number": "0935821234"},
    "dialplan": {
        "context": "hotline",
        "exten": "1000",
        "priority": 1,
        "app_name": "Stasis",
        "app_data": "hotline,main",
    },
    "language": "en",
    "some_field_from_a_newer_asterisk": True,
}


def test_stasis_start_carries_caller_id_and_entry() -> None:
    event = parse_event(
        {"type": "StasisStart", "application": "hotline", "args": ["main"], "channel": CHANNEL}
    )
    assert isinstance(event, StasisStart)
    assert event.channel.caller.number == "0935821234"
    assert event.args == ["main"]
    assert event.channel.stasis_app == "hotline"
    assert event_channel_id(event) == "1795666025.12"


def test_dtmf_digit_is_typed() -> None:
    event = parse_event(
        {"type": "ChannelDtmfReceived", "digit": "#", "duration_ms": 100, "channel": CHANNEL}
    )
    assert isinstance(event, ChannelDtmfReceived)
    assert event.digit == "#"


def test_playback_events_route_to_their_channel() -> None:
    event = parse_event(
        {
            "type": "PlaybackFinished",
            "playback": {
                "id": "c-pb-1",
                "media_uri": "sound:hello-world",
                "target_uri": "channel:c1",
                "state": "done",
            },
        }
    )
    assert isinstance(event, PlaybackFinished)
    assert event_channel_id(event) == "c1"


def test_unknown_event_type_is_kept_whole() -> None:
    raw = {"type": "CallBroadcast", "channel": CHANNEL, "called": "1000"}
    event = parse_event(raw)
    assert isinstance(event, UnknownEvent)
    assert event.type == "CallBroadcast"
    assert event.raw == raw


def test_known_type_with_an_unreadable_shape_is_kept_raw_not_raised() -> None:
    event = parse_event({"type": "ChannelDtmfReceived", "channel": "not an object"})
    assert isinstance(event, UnknownEvent)
    assert event.raw["channel"] == "not an object"


@pytest.mark.parametrize(
    "raw",
    [
        {"type": "StasisStart", "application": "hotline", "args": ["main"], "channel": CHANNEL},
        {"type": "ChannelDtmfReceived", "digit": "#", "duration_ms": 100, "channel": CHANNEL},
        {"type": "StasisEnd", "channel": CHANNEL, "timestamp": "2026-12-01T23:11:45.612+0000"},
        {
            "type": "PlaybackFinished",
            "playback": {"id": "c-pb-1", "target_uri": "channel:c1", "state": "done"},
        },
        {"type": "ChannelVarset", "variable": "X", "value": "1"},
        {"type": "PlaybackContinuing", "playback": {"id": "c-pb-1"}},
        {"type": "ChannelDtmfReceived", "channel": "not an object"},
        {"no": "type"},
    ],
)
def test_the_readers_one_pass_parse_is_parse_event_of_the_decoded_json(
    raw: dict[str, object],
) -> None:
    text = json.dumps(raw)
    event = parse_event_json(text)
    assert event == parse_event(raw)
    assert event_channel_id(event) == event_channel_id(parse_event(raw))
    assert parse_event_json(text.encode()) == event


def test_the_one_pass_parse_refuses_what_is_not_json_and_skips_what_is_not_an_object() -> None:
    with pytest.raises(ValueError, match="."):
        parse_event_json("{not json")
    assert parse_event_json("[1, 2]") is None


RECORDED = Path(__file__).parent / "data" / "ari_events_call.json"


def test_every_event_of_a_recorded_sandbox_call_is_typed() -> None:
    """One real call on Asterisk 22 (answer, prompt, key press, hang-up), as Asterisk sent it:
    each event becomes its own model, none is kept raw as unknown."""
    events = json.loads(RECORDED.read_text())
    parsed = [parse_event_json(json.dumps(event)) for event in events]
    assert [type(p).__name__ for p in parsed] == [event["type"] for event in events]
    start = parsed[0]
    assert isinstance(start, StasisStart)
    assert (start.args, start.channel.stasis_app) == (["main"], "hotline")
    [key] = [p for p in parsed if isinstance(p, ChannelDtmfReceived)]
    assert (key.digit, event_channel_id(key)) == ("1", start.channel.id)
    finished = [p for p in parsed if isinstance(p, PlaybackFinished)]
    assert {event_channel_id(p) for p in finished} == {start.channel.id}
