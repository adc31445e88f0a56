"""`hotline status`: what the running engine reports about itself, for the admin.

`add_commands(subparsers)` registers the command; the handler takes the parsed namespace and
returns the process exit code: 0 when a fresh status file was read, 1 when there is none (the
engine is not running), it cannot be read, or it is stale (the engine stopped without removing
it). The path is relative to the working directory (the project root), like the other tools.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from ivr.config import load_config
from ivr.errors import ConfigError
from ivr.status import STATUS_PATH, leader_lines, read_status
from ivr.store.db import is_sqlite


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = subparsers.add_parser(
        "status", help="the running engine: live flows, rejected edits, calls, ARI"
    )
    status.add_argument(
        "--path",
        default=None,
        help=f"status file the engine writes (default: config status_path, {STATUS_PATH})",
    )
    status.set_defaults(func=run_status)


def run_status(args: argparse.Namespace) -> int:
    _print_leader(getattr(args, "config", None))
    path = args.path or _configured_path(getattr(args, "config", None))
    try:
        data = read_status(path)
    except FileNotFoundError:
        print(f"engine not running: no status file at {path}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"cannot read the status file {path}: {exc}", file=sys.stderr)
        return 1
    lines, fresh = summary(data, datetime.now(UTC))
    print("\n".join(lines))
    return 0 if fresh else 1


def _configured_path(config_file: str | None) -> str:
    # the same file the engine writes: config.yaml's status_path (a broken config falls back)
    try:
        return load_config(config_file).status_path
    except ConfigError:
        return STATUS_PATH


def _print_leader(config_file: str | None) -> None:
    # engines on PostgreSQL: the active one may be on another machine than this status file
    try:
        url = load_config(config_file).database.url
    except ConfigError:
        return
    if is_sqlite(url):
        return  # one engine, no lock: the status file says it all
    for line in asyncio.run(leader_lines(url)):
        print(line)


def summary(data: dict[str, Any], now: datetime) -> tuple[list[str], bool]:
    """The status as lines for a person, and whether it is recent enough to trust."""
    lines: list[str] = []
    written = str(data.get("written_at", "?"))
    age = _age_s(written, now)
    stale_after = data.get("stale_after_s")
    fresh = not (
        isinstance(stale_after, int | float) and age is not None and age > float(stale_after)
    )
    ago = f" ({age:.0f} s ago)" if age is not None else ""
    lines.append(f"status written {written}{ago} by engine pid {data.get('pid', '?')}")
    if not fresh:
        lines.append(
            "WARNING: the status is stale: the engine is probably not running "
            "(it stopped without removing the file)"
        )

    flows = data.get("flows") or {}
    live = flows.get("live") or {}
    lines.append(
        f"flows live: {len(live)} (loaded {flows.get('loaded_at') or '?'} "
        f"from {flows.get('files', '?')} file(s))"
    )
    width = max((len(flow_id) for flow_id in live), default=0)
    for flow_id, info in sorted(live.items()):
        version = info.get("version") or "-"
        lines.append(f"  {flow_id:<{width}}  version {version}  digest {info.get('digest', '?')}")

    rejected = data.get("rejected")
    if rejected:
        lines.append(f"last edit REJECTED at {rejected.get('at') or '?'}:")
        lines.extend(f"  {error}" for error in rejected.get("errors") or [])
        lines.append("  (the flows above keep serving until the files are fixed)")
    else:
        lines.append("rejected edits: none")

    lines.append(f"calls in progress: {data.get('calls', '?')}")
    connected = data.get("ari_connected")
    lines.append(f"ARI connected: {'yes' if connected else 'no'}")
    requests = data.get("ari_requests")
    if isinstance(requests, dict):
        lines.append(
            f"ARI requests: {requests.get('count', '?')}, Asterisk answered in "
            f"{requests.get('asterisk_avg_ms', '?')} ms on average "
            f"(at worst {requests.get('asterisk_max_ms', '?')} ms); "
            f"{requests.get('in_flight_max', '?')} at most at once"
        )
        lines.append(
            f"  waited for a free connection of the engine's pool: "
            f"{requests.get('pool_waits', '?')} (at worst {requests.get('pool_wait_max_ms', '?')}"
            " ms)"
        )
    lines.extend(_billing_lines(data.get("billing_outbox")))
    return lines, fresh


def _billing_lines(outbox: object) -> list[str]:
    """The billing outbox: requests waiting for billing and dead-lettered ones."""
    if not isinstance(outbox, dict):
        return []
    line = f"billing outbox: {outbox.get('pending', '?')} pending"
    if outbox.get("oldest_pending_at"):
        line += f" (oldest written {outbox['oldest_pending_at']})"
    line += f", {outbox.get('dead', '?')} dead"
    if outbox.get("billing_reachable") is False:
        line += "; billing is NOT answering (requests wait, nothing is lost)"
    lines = [line]
    if outbox.get("dead"):
        lines.append("  dead requests: hotline billing pending; revive: hotline billing retry")
    return lines


def _age_s(written: str, now: datetime) -> float | None:
    try:
        at = datetime.fromisoformat(written)
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return (now - at).total_seconds()
