"""config.yaml validation: a typo names its key path; secrets come from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.config import load_config, parse_config
from ivr.errors import ConfigError

pytestmark = pytest.mark.unit


def test_defaults_need_no_file(tmp_path: Path) -> None:
    cfg = load_config(env={"HOTLINE_CONFIG": str(tmp_path / "absent.yaml")})
    assert cfg.ari.app == "hotline"
    assert cfg.flows.dir == "dialplans"


def test_unknown_key_is_named_with_its_path() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({"ari": {"usr": "x"}, "flows": {"reload_poll": 3}}, {})
    assert "config.yaml: ari.usr: unknown key" in str(err.value)
    assert "config.yaml: flows.reload_poll: unknown key" in str(err.value)


def test_bad_value_names_its_path() -> None:
    with pytest.raises(ConfigError, match=r"flows\.reload_poll_s: .*greater than 0"):
        parse_config({"flows": {"reload_poll_s": 0}}, {})


def test_password_never_comes_from_the_yaml() -> None:
    with pytest.raises(ConfigError, match="secrets do not belong"):
        parse_config({"ari_password": "hunter2"}, {})


def test_password_from_environment_wins_over_the_file(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("from-file\n")
    env = {"HOTLINE_ARI_PASSWORD_FILE": str(pw)}
    assert parse_config({}, env).ari_password == "from-file"
    assert parse_config({}, {**env, "HOTLINE_ARI_PASSWORD": "from-env"}).ari_password == "from-env"


def test_environment_points_at_another_asterisk() -> None:
    cfg = parse_config({}, {"HOTLINE_ARI_URL": "http://10.0.0.5:8088/ari"})
    assert cfg.ari.url == "http://10.0.0.5:8088/ari"


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "hotline.yaml"
    path.write_text("ari:\n  url: [unclosed\n")
    with pytest.raises(ConfigError, match="hotline.yaml: not valid YAML"):
        load_config(path, env={})
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(path, env={})


def test_the_shipped_config_is_valid() -> None:
    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / "config.yaml", env={})
    assert cfg.ari.user == "hotline"
    # the shipped routing section spells out the sample calendars
    assert cfg.routing.calendars == parse_config({}, {}).routing.calendars
    # every queue the shipped flows name exists, and agents are there to answer
    assert {"general", "moving", "billing", "reconnection"} <= set(cfg.routing.queues)
    assert cfg.routing.agents
    assert cfg.calls.emergency_department in cfg.routing.departments


def test_data_sections_have_working_defaults() -> None:
    cfg = parse_config({}, {})
    assert cfg.database.url == "sqlite+aiosqlite:///var/hotline.sqlite3"
    assert cfg.billing.adapter == "database"
    assert cfg.billing.outbox.retry_horizon_s == 3 * 86400
    assert cfg.intake.horizon_days == 90
    assert set(cfg.routing.calendars) >= {"phone", "emergency"}


def test_billing_token_only_from_the_environment() -> None:
    assert parse_config({}, {"HOTLINE_BILLING_TOKEN": "t0k"}).billing_token == "t0k"
    assert "t0k" not in parse_config({}, {"HOTLINE_BILLING_TOKEN": "t0k"}).model_dump_json()
    with pytest.raises(ConfigError, match="billing.token: secrets do not belong"):
        parse_config({"billing": {"adapter": "http", "token": "t0k"}}, {})


def test_data_section_errors_name_their_path() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(
            {
                "billing": {"adapter": "ftp", "outbox": {"max_attempts": 0}},
                "intake": {"lead_business_days": {"moving": 2}},
                "routing": {"calendars": {"phone": {"weekly": {"mon": ["19:00-08:30"]}}}},
            },
            {},
        )
    text = str(err.value)
    assert "config.yaml: billing.adapter:" in text
    assert "config.yaml: billing.outbox.max_attempts:" in text
    assert "config.yaml: intake.lead_business_days.moving" in text
    assert "config.yaml: routing.calendars.phone.weekly.mon.0" in text
