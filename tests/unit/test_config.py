"""config.yaml validation: a typo names its key path; secrets come from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.cli import main
from ivr.config import load_config, parse_config
from ivr.errors import ConfigError

pytestmark = pytest.mark.unit


def test_defaults_need_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no config.yaml here
    cfg = load_config(env={})
    assert cfg.ari.app == "hotline"
    assert cfg.flows.dir == "dialplans"


def test_a_named_file_that_is_missing_is_an_error_not_the_defaults(tmp_path: Path) -> None:
    # HOTLINE_CONFIG=/missing.yaml ran on the defaults without a word
    with pytest.raises(ConfigError) as err:
        load_config(env={"HOTLINE_CONFIG": str(tmp_path / "absent.yaml")})
    assert str(err.value) == f"{tmp_path / 'absent.yaml'}: no such file (named by HOTLINE_CONFIG)"
    with pytest.raises(ConfigError, match=r"no such file \(named by --config\)"):
        load_config(tmp_path / "absent.yaml", env={})
    with pytest.raises(ConfigError, match="is a directory, not a config file"):
        load_config(tmp_path, env={})


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
    with pytest.raises(ConfigError, match=r"hotline.yaml:3: YAML syntax error"):
        load_config(path, env={})
    path.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="hotline.yaml:1: the top level must be a mapping"):
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


def config_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "config.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# (config.yaml, the one error it must give, after "config.yaml:"): each used to be accepted
# or to end in a traceback
HOSTILE = [
    pytest.param(
        "billing:\n  adapter: http\nlog:\n  level: info\nbilling:\n  adapter: database\n",
        "5: duplicate key 'billing'",
        id="duplicate-section",
    ),
    pytest.param(
        "log:\n  level: verbose\n",
        "2: log.level: Input should be 'debug', 'info', 'warning' or 'error'",
        id="log-level",
    ),
    pytest.param(
        "database:\n  url: nonsense://x\n",
        "2: database.url: the engine opens sqlite+aiosqlite or postgresql+asyncpg databases, "
        "not 'nonsense' (use sqlite+aiosqlite:///var/hotline.sqlite3 or "
        "postgresql+asyncpg://user@host/db)",
        id="database-url",
    ),
    pytest.param(
        "billing:\n  database_url: 'not a url'\n",
        "2: billing.database_url: not a database URL (use sqlite+aiosqlite:///var/hotline.sqlite3 "
        "or postgresql+asyncpg://user@host/db)",
        id="billing-database-url",
    ),
    pytest.param(
        "database:\n  url: postgresql://hotline:secret@db/hotline\n",
        "2: database.url: the engine opens sqlite+aiosqlite or postgresql+asyncpg databases, "
        "not 'postgresql' (use sqlite+aiosqlite:///var/hotline.sqlite3 or "
        "postgresql+asyncpg://user@host/db)",
        id="sync-driver",
    ),
    pytest.param(
        b"log:\n  level: info # caf\xe9\n",
        "2: not UTF-8 at byte 24 (save the file as UTF-8)",
        id="latin-1",
    ),
    pytest.param(
        "ari:\n  reconnect_initial_s: 10\n  reconnect_max_s: 1\n",
        "1: ari: reconnect_max_s 1 is less than reconnect_initial_s 10",
        id="ari-backoff",
    ),
    pytest.param(
        "billing:\n  outbox:\n    backoff_base_s: 600\n    backoff_max_s: 60\n",
        "2: billing.outbox: backoff_max_s 60 is less than backoff_base_s 600",
        id="outbox-backoff",
    ),
    pytest.param(
        "calls:\n  emergency_department: emergncy\nrouting:\n  departments:\n"
        "    emergency_duty: {on_duty: [PJSIP/onduty]}\n",
        "2: calls.emergency_department: unknown department 'emergncy' (routing.departments: "
        "emergency_duty); every leak call would be dropped",
        id="emergency-department",
    ),
    pytest.param(
        "routing:\n  agents:\n    agent1: {endpoint: agent1}\n",
        "3: routing.agents.agent1.endpoint: not a phone the engine can ring (e.g. PJSIP/agent1, "
        "PJSIP/0312345678@trunk)",
        id="agent-endpoint",
    ),
    pytest.param(
        "routing:\n  departments:\n    leaks: {on_duty: [PJSIP/duty1, 0312345678]}\n",
        "3: routing.departments.leaks.on_duty.1: not a phone the engine can ring (e.g. "
        "PJSIP/agent1, PJSIP/0312345678@trunk)",
        id="on-duty-endpoint",
    ),
    pytest.param(
        "reports:\n  answer_s: 20\n  calendar: phnoe\n",
        "3: reports.calendar: unknown calendar 'phnoe' (routing.calendars: construction, "
        "emergency, phone); no report could be made",
        id="report-calendar",
    ),
    pytest.param(
        "ari: !!python/object/apply:os.system [echo]\n",
        "1: YAML tags such as '!!python/object/apply:os.system' are not allowed",
        id="tag",
    ),
]


@pytest.mark.parametrize(("text", "error"), HOSTILE)
def test_a_broken_config_gives_one_line_naming_the_key(
    tmp_path: Path, text: str | bytes, error: str
) -> None:
    path = config_file(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    assert str(err.value) == f"{path}:{error}"
    assert "secret" not in str(err.value)


def test_the_cli_says_it_in_one_line_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config_file(tmp_path, "log:\n  level: verbose\n")
    assert main(["--config", str(path), "check"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"hotline: {path}:2: log.level: ")


def test_clock_times_and_numbers_stay_as_written(tmp_path: Path) -> None:
    # YAML 1.1 would read 08:30 as 510 and a leading-zero number as another number
    path = config_file(
        tmp_path,
        "routing:\n  calendars:\n    phone:\n      weekly: {mon: [08:30-19:00]}\n"
        "  departments:\n    emergency_duty: {number: '0312345678'}\n"
        "    office: {number: 0312345678}\n",
    )
    cfg = load_config(path, env={})
    assert cfg.routing.departments["office"].number == "0312345678"
    assert str(cfg.routing.calendars["phone"].weekly["mon"][0].start) == "510"
