"""The `routing:` section of config.yaml: calendars and queues, typed and checked whole."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from pydantic import ValidationError

from ivr.errors import ConfigError
from routing.config import RoutingConfig
from routing.hours import DEFAULT_CALENDARS, Calendar, calendars_from_config, calendars_of

pytestmark = pytest.mark.unit

EXAMPLE = """
calendars:
  phone:
    weekly:
      mon: "08:30-19:00"
      tue: "08:30-19:00"
      wed: "08:30-19:00"
      thu: "08:30-19:00"
      fri: "08:30-19:00"
      sat: "08:30-19:00"
    national_holidays: closed
    closures:
      - {name: year-end, start: "12-29", end: "01-03"}
    peak:
      - name: moving-season
        start: "03-01"
        end: "04-30"
        weekly: {sun: "08:30-19:00"}
        holidays: "08:30-19:00"
  emergency:
    always_open: true
queues:
  start_stop:
    calendar: phone
    skills: [start_stop, ja]
    max_length: 30
    max_wait_s: 900
    max_expected_wait_s: 1200
    when_full: overflow
    when_no_agents: overflow
    average_handle_s: 300
    ring_timeout_s: 20
    wrap_up_s: 60
    announce: {on_entry: true, every_s: 60, position: true, expected_wait: true}
    callback: {enabled: true, after_s: 120, expected_wait_over_s: 300}
"""


def test_yaml_example_loads() -> None:
    config = RoutingConfig.model_validate(yaml.safe_load(EXAMPLE))
    assert (
        config.calendars["phone"]
        == RoutingConfig.model_validate({"calendars": DEFAULT_CALENDARS}).calendars["phone"]
    )
    queue = config.queues["start_stop"]
    assert queue.skills == ("start_stop", "ja")
    assert queue.callback.after_s == 120
    assert Calendar("phone", config.calendars["phone"]).is_business_day(date(2025, 4, 13))


def test_unquoted_yaml_time_is_refused() -> None:
    # YAML 1.1 reads 19:00 as 1140 and 08:30-19:00 stays a string; a bare time must not slip in
    with pytest.raises(ValidationError, match="weekly.mon"):
        RoutingConfig.model_validate(yaml.safe_load("calendars: {x: {weekly: {mon: [19:00]}}}"))


@pytest.mark.parametrize(
    ("queue", "message"),
    [
        ({"calendar": "nowhere"}, "unknown calendar 'nowhere'"),
        ({"calendar": "emergency", "max_length": 0}, "max_length"),
        ({"calendar": "emergency", "when_no_agents": "wait"}, "when_no_agents"),
        ({"calendar": "emergency", "callback": {"enabled": True}}, "after_s"),
        ({"calendar": "emergency", "priority": 3}, "Extra inputs"),
    ],
)
def test_bad_queue(queue: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        RoutingConfig.model_validate({"calendars": DEFAULT_CALENDARS, "queues": {"q": queue}})


def test_calendar_names_are_snake_case() -> None:
    with pytest.raises(ValidationError, match="pattern"):
        RoutingConfig.model_validate({"calendars": {"Phone Line": {"always_open": True}}})


def test_defaults_are_the_sample_calendars() -> None:
    config = RoutingConfig()
    assert sorted(config.calendars) == ["construction", "emergency", "phone"]
    assert config.queues == {}


def test_unquoted_yaml_dates_are_accepted_for_one_off_closures() -> None:
    data = yaml.safe_load(
        "calendars: {x: {weekly: {mon: '09:00-17:00'},"
        " closures: [{name: move, start: 2025-06-09, end: 2025-06-09}]}}"
    )
    cal = calendars_of(RoutingConfig.model_validate(data))["x"]
    assert not cal.is_business_day(date(2025, 6, 9))
    assert cal.is_business_day(date(2025, 6, 16))


def test_config_error_reads_source_and_path() -> None:
    with pytest.raises(ConfigError) as info:
        calendars_from_config({"phone": {"weekly": {"mon": "8:30"}, "typo": 1}})
    lines = str(info.value).splitlines()
    assert lines[0].startswith("config.yaml: routing.calendars.phone.weekly.mon.0: ")
    assert lines[1] == "config.yaml: routing.calendars.phone.typo: unknown key"
