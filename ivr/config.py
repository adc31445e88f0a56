"""`AppConfig`: config.yaml validated whole, plus secrets from the environment.

Unknown keys are rejected with their path (`ari.usr: unknown key`), so a typo never silently
falls back to a default. The ARI password is never in config.yaml: it comes from
`HOTLINE_ARI_PASSWORD`, or from the file named by `HOTLINE_ARI_PASSWORD_FILE` / `ari.password_file`
(git-ignored; `scripts/asterisk-sandbox` writes `.sandbox/ari-password`). Likewise the billing
API token comes only from `HOTLINE_BILLING_TOKEN`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ivr.domain import RequestKind
from ivr.errors import ConfigError
from ivr.yamltext import Source, read_yaml
from routing.config import RoutingConfig


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AriConfig(_Section):
    url: str = "http://127.0.0.1:8089/ari"
    user: str = "hotline"
    app: str = "hotline"
    # a path, not a secret: the file is git-ignored and written by scripts/asterisk-sandbox
    password_file: str = ".sandbox/ari-password"  # noqa: S105
    # a REST request that takes longer than this is treated as Asterisk being unavailable
    request_timeout_s: float = Field(5.0, gt=0)
    # WebSocket ping interval; a dead connection is noticed within about twice this
    heartbeat_s: float = Field(10.0, gt=0)
    reconnect_initial_s: float = Field(0.25, gt=0)
    reconnect_max_s: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _backoff_grows(self) -> AriConfig:
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError(
                f"reconnect_max_s {self.reconnect_max_s:g} is less than reconnect_initial_s "
                f"{self.reconnect_initial_s:g}"
            )
        return self


class CallsConfig(_Section):
    # the call record is written even when a session is cancelled; bounded so shutdown ends
    record_write_timeout_s: float = Field(5.0, gt=0)
    # the routing.departments entry whose on-duty list the flow's `emergency` node rings
    emergency_department: str = "emergency_duty"


class FlowsConfig(_Section):
    # admin-edited call flows, checked as a whole before they go live
    dir: str = "dialplans"
    catalog: str = "prompts/catalog.yaml"
    # how often dialplans/ is checked for edits (a valid edit goes live for new calls)
    reload_poll_s: float = Field(2.0, gt=0)


class PromptsConfig(_Section):
    # where Asterisk reads our prompt audio (a path as Asterisk sees it: inside its chroot)
    asterisk_dir: str = "/var/lib/hotline/prompts"


class RecordsConfig(_Section):
    path: str = "var/calls.jsonl"


class LogConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    json_lines: bool = False

    @field_validator("level", mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


def _database_url(value: str) -> str:
    """A URL the engine can open: SQLite through aiosqlite or PostgreSQL through asyncpg. The
    message never repeats the URL (it may carry a password)."""
    try:
        drivername = make_url(value).drivername
    except ArgumentError:
        raise ValueError(f"not a database URL (use {_SQLITE_URL} or {_POSTGRES_URL})") from None
    if drivername not in DATABASE_DRIVERS:
        raise ValueError(
            f"the engine opens {' or '.join(DATABASE_DRIVERS)} databases, not {drivername!r} "
            f"(use {_SQLITE_URL} or {_POSTGRES_URL})"
        )
    return value


#: The async drivers the engine runs on (the store is SQLAlchemy's async API).
DATABASE_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")
_SQLITE_URL = "sqlite+aiosqlite:///var/hotline.sqlite3"
_POSTGRES_URL = "postgresql+asyncpg://user@host/db"
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]


class DatabaseConfig(_Section):
    # SQLite is the embedded default; production uses postgresql+asyncpg://user@host/db
    url: DatabaseUrl = _SQLITE_URL


class BillingHttpConfig(_Section):
    url: str = "http://127.0.0.1:8090/requests"
    # longer than billing's slowest answer, shorter than the outbox lease (120 s)
    timeout_s: float = Field(10.0, gt=0, lt=120)


def tries_to_span(horizon_s: float, backoff_base_s: float, backoff_max_s: float) -> int:
    """How many tries the backoff (base · 2^(n-1), capped at max) needs before its waits add up
    to `horizon_s`: a request failing that often has been retried for the whole horizon."""
    tries, waited, delay = 1, 0.0, backoff_base_s
    # the doubling phase is a few dozen steps at most; the capped rest is counted, not walked
    while waited < horizon_s and delay < backoff_max_s:
        waited += delay
        delay *= 2
        tries += 1
    if waited < horizon_s:
        tries += math.ceil((horizon_s - waited) / backoff_max_s)
    return tries


class OutboxConfig(_Section):
    interval_s: float = Field(5.0, gt=0)
    # how long billing may stay unreachable before a request is dead-lettered (`hotline billing
    # retry` revives it): 3 days, past an overnight maintenance window and a long weekend
    retry_horizon_s: float = Field(259200.0, gt=0, le=30 * 86400)
    backoff_base_s: float = Field(30.0, gt=0)
    backoff_max_s: float = Field(3600.0, gt=0)
    # tries before a request is dead-lettered; by default as many as the backoff needs to span
    # retry_horizon_s (79 with the defaults); fewer would give up before the horizon
    max_attempts: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _attempts_span_the_horizon(self) -> OutboxConfig:
        if self.backoff_max_s < self.backoff_base_s:
            raise ValueError(
                f"backoff_max_s {self.backoff_max_s:g} is less than backoff_base_s "
                f"{self.backoff_base_s:g}"
            )
        needed = tries_to_span(self.retry_horizon_s, self.backoff_base_s, self.backoff_max_s)
        if self.max_attempts is not None and self.max_attempts < needed:
            raise ValueError(
                f"max_attempts {self.max_attempts} gives up before retry_horizon_s "
                f"({self.retry_horizon_s:g} s takes {needed} tries with this backoff): "
                "raise it or leave it out"
            )
        return self


class BillingConfig(_Section):
    adapter: Literal["database", "http"] = "database"
    # billing's own tables (adapter: database); may be the engine's database
    database_url: DatabaseUrl = "sqlite+aiosqlite:///var/billing.sqlite3"
    http: BillingHttpConfig = BillingHttpConfig()
    outbox: OutboxConfig = OutboxConfig()


def _default_leads() -> dict[RequestKind, int]:
    return {
        RequestKind.START: 2,
        RequestKind.STOP: 2,
        RequestKind.TRANSFER: 2,
        RequestKind.NAME_CHANGE: 0,
    }


class IntakeConfig(_Section):
    # business days between today and the requested date, per request kind (others: none)
    lead_business_days: dict[RequestKind, Annotated[int, Field(ge=0)]] = Field(
        default_factory=_default_leads
    )
    # how far ahead a start / stop / transfer date may be booked
    horizon_days: int = Field(90, gt=0)


class ConsoleConfig(_Section):
    """The agent console (`ivr.web`): where it listens, how long a sign-in lasts, how many
    failed log-ins are allowed."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    # a session unused this long ends (the agent signs in again)
    session_idle_s: float = Field(1800.0, gt=0)
    # and every session ends this long after sign-in, however busy (one working day)
    session_absolute_s: float = Field(43200.0, gt=0)
    # failed log-ins counted per log-in id and per client address within `login_window_s`;
    # past the limit the answer is 429 until the oldest failure leaves the window. A whole
    # call-centre floor may share one address, so its limit is higher than one id's
    login_window_s: float = Field(300.0, gt=0)
    login_max_failures: int = Field(5, ge=1)
    address_max_failures: int = Field(20, ge=1)
    # the Secure flag on the session cookie: on when the console is reached over HTTPS
    secure_cookie: bool = False
    # largest request body accepted (forms and API calls are small); larger ones get 413
    max_body_bytes: int = Field(65536, ge=1024)
    # how long a stop waits for open requests to finish
    shutdown_timeout_s: float = Field(5.0, gt=0)


ServiceLevelName = Literal[
    "answered_only", "abandons_ignored", "abandons_against", "abandons_in_favour", "of_offered"
]


class DailyReportConfig(_Section):
    """The report file written every day after closing time (`ivr.reports.daily`)."""

    enabled: bool = True
    dir: str = "var/reports"
    # Tokyo wall-clock time of the run; from 12:00 on it reports that day, before 12:00 the
    # day before (a run at 01:00 reports the evening that just ended)
    at: str = Field("19:30", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    format: Literal["html", "csv", "json"] = "html"
    # report files older than this many days are deleted
    keep_days: int = Field(90, ge=1)
    # days before today whose missing file is written at the next run (an engine that was down)
    catch_up_days: int = Field(3, ge=0, le=31)


class ReportsConfig(_Section):
    """Statistics and staffing (`hotline report`, `hotline staffing`, the daily report)."""

    # the service level's answer threshold T, and which definition is the headline figure
    answer_s: float = Field(20.0, gt=0)
    headline: ServiceLevelName = "abandons_against"
    # callers who hang up within this long are short abandons, reported apart
    short_abandon_s: float = Field(6.0, ge=0)
    # a call of an account that called within this many days before is a repeat contact
    repeat_days: int = Field(7, ge=1)
    # the list of abandoned calls (for calling back) shows the newest this many of a period
    abandoned_list_max: int = Field(500, ge=0)
    # within / outside opening hours: a queued call is counted by its queue's own calendar
    # (routing.queues.<q>.calendar); this calendar (routing.calendars) counts the calls that
    # reached no queue, and is the peak plan's over all queues
    calendar: str = "phone"
    # a call not ended and silent this long (an engine killed, never re-adopted) is counted
    stale_after_s: float = Field(21600.0, gt=0)
    # staffing: the target share answered within answer_s, and the share of paid time off-phone
    target_service_level: float = Field(0.8, gt=0, lt=1)
    shrinkage: float = Field(0.3, ge=0, lt=1)
    daily: DailyReportConfig = DailyReportConfig()


class AppConfig(_Section):
    ari: AriConfig = AriConfig()
    calls: CallsConfig = CallsConfig()
    flows: FlowsConfig = FlowsConfig()
    prompts: PromptsConfig = PromptsConfig()
    records: RecordsConfig = RecordsConfig()
    log: LogConfig = LogConfig()
    # what `hotline status` reads: live flows, a rejected edit's errors, calls, ARI link
    status_path: str = "var/status.json"
    database: DatabaseConfig = DatabaseConfig()
    billing: BillingConfig = BillingConfig()
    intake: IntakeConfig = IntakeConfig()
    routing: RoutingConfig = RoutingConfig()
    console: ConsoleConfig = ConsoleConfig()
    reports: ReportsConfig = ReportsConfig()
    # filled from the environment / password file, never from config.yaml
    ari_password: str = Field("", exclude=True)
    billing_token: str = Field("", exclude=True)

    @model_validator(mode="after")
    def _emergency_department_exists(self) -> AppConfig:
        # with queues or departments the engine routes calls itself: the leak line's on-duty
        # list must be one it has, or every leak call would end in an apology
        routing = self.routing
        name = self.calls.emergency_department
        if (routing.queues or routing.departments) and name not in routing.departments:
            known = ", ".join(sorted(routing.departments)) or "none configured"
            raise ValueError(
                f"calls.emergency_department: unknown department {name!r} (routing.departments: "
                f"{known}); every leak call would be dropped"
            )
        return self

    @model_validator(mode="after")
    def _report_calendar_exists(self) -> AppConfig:
        calendars = self.routing.calendars
        if self.reports.calendar not in calendars:
            known = ", ".join(sorted(calendars)) or "none configured"
            raise ValueError(
                f"reports.calendar: unknown calendar {self.reports.calendar!r} "
                f"(routing.calendars: {known}); no report could be made"
            )
        return self


def _describe(errors: list[Any], source: str, src: Source | None = None) -> str:
    """Pydantic's errors as `file:line: key.path: message` lines (`file: ...` without `src`)."""
    lines = []
    for err in errors:
        loc = tuple(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        named, _, rest = message.partition(": ")
        if not loc and rest and "." in named and " " not in named:
            # a check across sections names its key itself
            loc, message = tuple(named.split(".")), rest
        path = ".".join(loc) or "(top level)"
        where = f"{source}:{src.line(loc)}" if src is not None else source
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: {path}: unknown key")
        else:
            lines.append(f"{where}: {path}: {message}")
    return "\n".join(lines)


def parse_config(
    data: Mapping[str, Any],
    env: Mapping[str, str],
    source: str = "config.yaml",
    base_dir: Path | None = None,
    src: Source | None = None,
) -> AppConfig:
    """Validate config data and merge in environment overrides and the ARI password."""
    if "ari_password" in data:
        raise ConfigError(
            f"{source}: ari_password: secrets do not belong in {source}; "
            "set HOTLINE_ARI_PASSWORD or ari.password_file"
        )
    billing = data.get("billing")
    if "billing_token" in data or (isinstance(billing, Mapping) and "token" in billing):
        raise ConfigError(
            f"{source}: billing.token: secrets do not belong in {source}; set HOTLINE_BILLING_TOKEN"
        )
    try:
        cfg = AppConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors(), source, src)) from None
    ari = cfg.ari.model_copy(
        update={
            k: v
            for k, v in {
                "url": env.get("HOTLINE_ARI_URL"),
                "user": env.get("HOTLINE_ARI_USER"),
                "app": env.get("HOTLINE_ARI_APP"),
                "password_file": env.get("HOTLINE_ARI_PASSWORD_FILE"),
            }.items()
            if v
        }
    )
    password = env.get("HOTLINE_ARI_PASSWORD", "")
    if not password:
        pw_path = Path(ari.password_file)
        if not pw_path.is_absolute() and base_dir is not None:
            pw_path = base_dir / pw_path
        if pw_path.is_file():
            password = pw_path.read_text().strip()
    return cfg.model_copy(
        update={
            "ari": ari,
            "ari_password": password,
            "billing_token": env.get("HOTLINE_BILLING_TOKEN", ""),
        }
    )


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> AppConfig:
    """Read config.yaml and the environment. Only the default file may be missing (all
    defaults); a file named by `--config` or `HOTLINE_CONFIG` must exist.

    The file is read as the flows are (`ivr.yamltext`): UTF-8, no duplicate keys (a second
    `billing:` silently replaced the first), no tags or alias bombs, every value kept as the
    text written (YAML 1.1 reads `08:30` as 510 and `0312345678` as a number); pydantic then
    types each value, and every error names its `file:line` and key.
    """
    env = os.environ if env is None else env
    named = path or env.get("HOTLINE_CONFIG")
    cfg_path = Path(named) if named else Path("config.yaml")
    if cfg_path.is_dir():
        raise ConfigError(f"{cfg_path}: is a directory, not a config file")
    if not cfg_path.exists():
        if named:
            via = "--config" if path else "HOTLINE_CONFIG"
            raise ConfigError(f"{cfg_path}: no such file (named by {via})")
        return parse_config({}, env, str(cfg_path), base_dir=Path.cwd())
    src = read_yaml(cfg_path)
    if src.errors:
        raise ConfigError("\n".join(src.errors))
    data = src.data
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{cfg_path}:1: the top level must be a mapping of sections")
    return parse_config(data, env, str(cfg_path), base_dir=cfg_path.resolve().parent, src=src)
