"""`AppConfig`: config.yaml validated whole, plus secrets from the environment.

Unknown keys are rejected with their path (`ari.usr: unknown key`), so a typo never silently
falls back to a default. The ARI password is never in config.yaml: it comes from
`HOTLINE_ARI_PASSWORD`, or from the file named by `HOTLINE_ARI_PASSWORD_FILE` / `ari.password_file`
(git-ignored; `scripts/asterisk-sandbox` writes `.sandbox/ari-password`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ivr.errors import ConfigError


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


class CallsConfig(_Section):
    # how long a caller has to press a key after a prompt before it is repeated
    digit_timeout_s: float = Field(8.0, gt=0)
    # prompt repeats before the call is closed politely
    digit_retries: int = Field(2, ge=0)
    # the greeting/prompt media the engine plays before a flow is configured
    greeting_media: str = "sound:hello-world"
    thanks_media: str = "sound:auth-thankyou"
    goodbye_media: str = "sound:vm-goodbye"
    apology_media: str = "sound:an-error-has-occurred"
    # the call record is written even when a session is cancelled; bounded so shutdown ends
    record_write_timeout_s: float = Field(5.0, gt=0)


class RecordsConfig(_Section):
    path: str = "var/calls.jsonl"


class LogConfig(_Section):
    level: str = "info"
    json_lines: bool = False


class AppConfig(_Section):
    ari: AriConfig = AriConfig()
    calls: CallsConfig = CallsConfig()
    records: RecordsConfig = RecordsConfig()
    log: LogConfig = LogConfig()
    # filled from the environment / password file, never from config.yaml
    ari_password: str = Field("", exclude=True)


def _describe(errors: list[Any], source: str) -> str:
    lines = []
    for err in errors:
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"{source}: {path}: unknown key")
        else:
            lines.append(f"{source}: {path}: {err['msg']}")
    return "\n".join(lines)


def parse_config(
    data: Mapping[str, Any],
    env: Mapping[str, str],
    source: str = "config.yaml",
    base_dir: Path | None = None,
) -> AppConfig:
    """Validate config data and merge in environment overrides and the ARI password."""
    if "ari_password" in data:
        raise ConfigError(
            f"{source}: ari_password: secrets do not belong in {source}; "
            "set HOTLINE_ARI_PASSWORD or ari.password_file"
        )
    try:
        cfg = AppConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors(), source)) from None
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
    return cfg.model_copy(update={"ari": ari, "ari_password": password})


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> AppConfig:
    """Read config.yaml (a missing default file means all defaults) and the environment."""
    env = os.environ if env is None else env
    cfg_path = Path(path) if path else Path(env.get("HOTLINE_CONFIG", "config.yaml"))
    data: Any = {}
    if cfg_path.exists():
        try:
            data = yaml.safe_load(cfg_path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{cfg_path}: not valid YAML: {exc}") from None
    elif path:
        raise ConfigError(f"{cfg_path}: no such file")
    if not isinstance(data, dict):
        raise ConfigError(f"{cfg_path}: the top level must be a mapping of sections")
    return parse_config(data, env, str(cfg_path), base_dir=cfg_path.resolve().parent)
