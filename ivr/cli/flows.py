"""`hotline check | schema | simulate | graph`: the admin's tools for dialplan files.

`add_commands(subparsers)` registers the subcommands; each handler takes the parsed namespace
and returns the process exit code. What a flow may name (queues, calendars, prompts, intake
fields) comes from config.yaml (or `--config`), as for the engine: a queue an admin adds there is
known to `check` and `simulate` at once. `check` takes the departments from the configured
database, as the engine does (a department added on `/admin/departments` is known, one removed
there is not); with no database yet, config.yaml's, which the engine's first start writes.
`simulate` checks the same way, and answers with the calendars of the config and the demo
generator's accounts and notices (`hotline demo`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ivr.adapters.flowtools import (
    DEMO_CALLER_NATIONAL,
    GRAPH_FORMATS,
    GraphUnavailable,
    render_dot,
    simulate_file,
)
from ivr.calls.flows import load_flow_catalog, references_from
from ivr.cli.db import with_engine
from ivr.cli.output import write_document
from ivr.config import AppConfig, load_config
from ivr.errors import ConfigError, FlowError
from ivr.flow.graph import to_dot
from ivr.flow.loader import References, check_files, load_flow
from ivr.flow.schema import flow_schema_json
from ivr.store.db import is_sqlite
from ivr.store.departments import DepartmentBook, config_departments

TOKYO = ZoneInfo("Asia/Tokyo")


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = subparsers.add_parser("check", help="validate dialplan files; print every error")
    check.add_argument(
        "files",
        nargs="*",
        help="files or directories (their *.yaml); default: flows.dir in the config",
    )
    _add_references(check)
    check.set_defaults(func=run_check)

    schema = subparsers.add_parser("schema", help="print the dialplan JSON Schema")
    schema.add_argument("-o", "--output", help="write to this file instead of stdout")
    schema.set_defaults(func=run_schema)

    sim = subparsers.add_parser("simulate", help="walk a call through a flow with demo data")
    sim.add_argument("file")
    sim.add_argument(
        "--caller",
        default=DEMO_CALLER_NATIONAL,
        help="caller number (default: the demo account's), or 'withheld'",
    )
    sim.add_argument("--keys", default="", help='key groups, e.g. "1 2 20270331# 1"; . = wait')
    sim.add_argument("--at", help="ISO date-time (Asia/Tokyo if no offset); default now")
    sim.add_argument("--lang", choices=["ja", "en"], help="language before the greeting")
    _add_references(sim)
    sim.set_defaults(func=run_simulate)

    graph = subparsers.add_parser("graph", help="draw a flow (Graphviz DOT, or SVG/PNG via dot)")
    graph.add_argument("file")
    graph.add_argument(
        "-o", "--output", help="out.dot, out.svg, out.png, out.pdf; default: DOT on stdout"
    )
    graph.set_defaults(func=run_graph)


def _add_references(parser: argparse.ArgumentParser) -> None:
    # also accepted before the command (`hotline --config FILE check`); SUPPRESS keeps that one
    parser.add_argument(
        "--config",
        default=argparse.SUPPRESS,
        help="config file whose routing the flows may name (default: config.yaml)",
    )
    parser.add_argument("--catalog", help="prompt catalog YAML (default: flows.catalog)")


def _config(args: argparse.Namespace) -> AppConfig:
    """The application config (`ConfigError` when invalid: `hotline` prints it, exit 2)."""
    return load_config(getattr(args, "config", None))


def run_check(args: argparse.Namespace) -> int:
    config = _config(args)
    files = _flow_files([Path(f) for f in args.files] or [Path(config.flows.dir)])
    if not files:
        named = " ".join(args.files) or f"{config.flows.dir}/"
        print(f"no dialplan files (*.yaml) to check in {named}", file=sys.stderr)
        return 1
    departments = engine_departments(config)
    try:
        catalog = load_flow_catalog(args.catalog or config.flows.catalog)
        refs = references_from(config, catalog, departments)
    except FlowError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    errors = check_files(files, refs)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print(f"{len(errors)} error(s)", file=sys.stderr)
        return 1
    print(f"ok: {len(files)} file(s)")
    return 0


def engine_departments(config: AppConfig) -> frozenset[str] | None:
    """The codes of the departments in the configured database (with config.yaml's it has no
    row for yet); None, config.yaml's, when there is no database yet or it cannot be read (said
    on stderr: the check is then config's, not the engine's)."""
    url = config.database.url
    parsed = make_url(url)
    if is_sqlite(url) and parsed.database and not Path(parsed.database).is_file():
        return None  # a fresh checkout: the engine's first start writes config's departments
    seeds = config_departments(config)
    try:
        return with_engine(url, lambda engine: DepartmentBook(engine).codes(seeds))
    except (ConfigError, SQLAlchemyError) as exc:
        # never the URL (it may carry a password)
        reason = str(exc) if isinstance(exc, ConfigError) else type(exc).__name__
        print(
            f"note: departments checked against config.yaml's: {reason}",
            file=sys.stderr,
        )
        return None


def _flow_files(paths: list[Path]) -> list[Path]:
    """The files named, with a directory standing for the *.yaml in it (as the engine reads it)."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return files


def run_schema(args: argparse.Namespace) -> int:
    return write_document(flow_schema_json(), args.output)


def _parse_at(text: str | None) -> datetime:
    if not text:
        return datetime.now(TOKYO)
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=TOKYO)


def run_simulate(args: argparse.Namespace) -> int:
    config = _config(args)
    try:
        at = _parse_at(args.at)
    except ValueError as exc:
        print(f"--at: {exc}", file=sys.stderr)
        return 2
    catalog = Path(args.catalog) if args.catalog else None
    departments = engine_departments(config)
    try:
        lines = asyncio.run(
            simulate_file(
                config,
                Path(args.file),
                args.caller,
                args.keys,
                at,
                catalog_path=catalog,
                language=args.lang,
                departments=departments,
            )
        )
    except FlowError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


def run_graph(args: argparse.Namespace) -> int:
    try:
        unchecked = References(queues=None, departments=None, calendars=None, flows=None)
        flow = load_flow(args.file, unchecked)
    except FlowError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    dot_text = to_dot(flow)
    out = args.output
    if not out:
        sys.stdout.write(dot_text)
        return 0
    if out.lower().endswith((".dot", ".gv")):
        Path(out).write_text(dot_text, encoding="utf-8")
        return 0
    fmt = (Path(out).suffix.lstrip(".") or "svg").lower()
    if fmt not in GRAPH_FORMATS:
        known = ", ".join(f".{f}" for f in ("dot", "gv", *GRAPH_FORMATS))
        print(f"{out}: unknown output format {fmt!r} (use {known})", file=sys.stderr)
        return 2
    try:
        Path(out).write_bytes(render_dot(dot_text, fmt))
    except GraphUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0
