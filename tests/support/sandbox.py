"""The real Asterisk for integration tests, provisioned by scripts/asterisk-sandbox.

A missing or broken Asterisk is a test failure, never a skip: CI must prove real calls work."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Sandbox:
    ari_url: str
    ari_user: str
    ari_password: str
    sip_host: str
    sip_port: int
    # where the `trunk` endpoint's calls land (asterisk/pjsip.conf): a phone the test runs there
    trunk_port: int
    chroot: Path


def sandbox_dir() -> Path:
    return Path(os.environ.get("HOTLINE_SANDBOX_DIR", ROOT / ".sandbox"))


def provision() -> Sandbox:
    proc = subprocess.run(
        [str(ROOT / "scripts" / "asterisk-sandbox"), "up"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            "the sandboxed Asterisk did not come up (scripts/asterisk-sandbox up):\n"
            + proc.stdout
            + proc.stderr
        )
    # our prompt audio, where Asterisk plays it from (renders only what is missing)
    build = subprocess.run(
        [sys.executable, "-m", "ivr", "prompts", "build"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=ROOT,
        env={**os.environ, "HOTLINE_SANDBOX_DIR": str(sandbox_dir())},
    )
    if build.returncode != 0:
        raise RuntimeError("hotline prompts build failed:\n" + build.stdout + build.stderr)
    env: dict[str, str] = {}
    for line in (sandbox_dir() / "ari.env").read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    password = (
        os.environ.get("HOTLINE_ARI_PASSWORD")
        or Path(env["HOTLINE_ARI_PASSWORD_FILE"]).read_text().strip()
    )
    return Sandbox(
        ari_url=env["HOTLINE_ARI_URL"],
        ari_user=env["HOTLINE_ARI_USER"],
        ari_password=password,
        sip_host=env["HOTLINE_SIP_HOST"],
        sip_port=int(env["HOTLINE_SIP_PORT"]),
        trunk_port=int(env["HOTLINE_TRUNK_PORT"]),
        chroot=Path(env["HOTLINE_SANDBOX_ROOT"]),
    )
