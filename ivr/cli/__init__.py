"""The `hotline` command: run the engine, and the admin tools around it. One module per command
group; each has `add_commands(subparsers)` and handlers that return the exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ivr.cli import (
    agents,
    billing,
    console,
    db,
    flows,
    notices,
    prompts,
    report,
    run,
    staffing,
    status,
)
from ivr.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline", description="Suido Hotline: IVR and call routing on Asterisk ARI."
    )
    parser.add_argument("--config", help="config file (default: config.yaml or $HOTLINE_CONFIG)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (
        run,
        flows,
        prompts,
        db,
        billing,
        agents,
        console,
        status,
        report,
        staffing,
        notices,
    ):
        group.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 2
    return code
