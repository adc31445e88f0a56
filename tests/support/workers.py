"""Each pytest-xdist worker's own sandboxed Asterisk: the real-call tests set dialplan globals,
listen on the sandbox's trunk and on-duty ports and count its channels, so two workers sharing
one Asterisk would see each other's calls. Worker 0 uses the sandbox the environment names
(default `.sandbox/`); worker n uses `<that dir>-w<n>`, seeded from it (a copy, not a second
Debian build), with every port moved by n × PORT_STEP and its own RTP range.

One definition for both sides: `scripts/test` starts the workers' sandboxes from
`python -m tests.support.workers N` (shell exports), and tests/conftest.py points worker N at
its own with `worker_env(N)`.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PORT_STEP = 100
# the sandbox's RTP range is 1,000 ports (scripts/asterisk-sandbox); each worker gets the next
RTP_STEP = 1000
# the sandbox script's defaults, moved per worker
_PORTS = {
    "HOTLINE_ARI_PORT": 8089,
    "HOTLINE_SIP_PORT": 5070,
    "HOTLINE_ONDUTY_PORT": 5079,
    "HOTLINE_TRUNK_PORT": 5080,
}


def worker_env(n: int, environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """What worker `n` (0, 1, ...) sets in its environment: nothing for worker 0."""
    if n == 0:
        return {}
    base = Path(environ.get("HOTLINE_SANDBOX_DIR", str(ROOT / ".sandbox")))
    env = {
        "HOTLINE_SANDBOX_DIR": f"{base}-w{n}",
        "HOTLINE_SANDBOX_SEED": str(base),
    }
    for name, default in _PORTS.items():
        env[name] = str(int(environ.get(name, default)) + n * PORT_STEP)
    start = int(environ.get("HOTLINE_RTP_START", 20000)) + n * RTP_STEP
    env["HOTLINE_RTP_START"] = str(start)
    env["HOTLINE_RTP_END"] = str(start + RTP_STEP - 1)
    return env


def worker_number(name: str) -> int:
    """pytest-xdist's worker name (`gw0`, `gw1`, ...) as a number."""
    return int(name.removeprefix("gw"))


if __name__ == "__main__":
    for key, value in worker_env(int(sys.argv[1])).items():
        print(f"export {key}={shlex.quote(value)}")
