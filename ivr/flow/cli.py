"""`hotline check | schema | simulate | graph`: the admin's tools for dialplan files.

`add_commands(subparsers)` registers the subcommands; each handler takes the parsed namespace
and returns the process exit code. Known queues, departments and calendars default to the
hotline's until the application config supplies them.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ivr.errors import FlowError
from ivr.flow.catalog import Catalog, load_catalog
from ivr.flow.graph import to_dot
from ivr.flow.loader import (
    BUILTIN_PROMPTS,
    DEFAULT_CALENDARS,
    DEFAULT_DEPARTMENTS,
    DEFAULT_QUEUES,
    References,
    check_files,
    load_flow,
    load_flows,
)
from ivr.flow.ports import AccountSummary, FakeAccounts, FakeIntake, FakeNotices, Fakes
from ivr.flow.schema import flow_schema_json
from ivr.flow.simulator import simulate
from ivr.store.numbers import customer_number

TOKYO = ZoneInfo("Asia/Tokyo")
DEFAULT_CATALOG = "prompts/catalog.yaml"
DEFAULT_DIALPLANS = "dialplans"
# what `graph -o` renders through Graphviz `dot` (.dot and .gv are written as DOT text)
GRAPH_FORMATS = ("svg", "png", "pdf")
DOT_TIMEOUT_S = 60.0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = subparsers.add_parser("check", help="validate dialplan files; print every error")
    check.add_argument("files", nargs="*", help=f"default: {DEFAULT_DIALPLANS}/*.yaml")
    _add_references(check)
    check.set_defaults(func=run_check)

    schema = subparsers.add_parser("schema", help="print the dialplan JSON Schema")
    schema.add_argument("-o", "--output", help="write to this file instead of stdout")
    schema.set_defaults(func=run_schema)

    sim = subparsers.add_parser("simulate", help="walk a call through a flow with demo data")
    sim.add_argument("file")
    sim.add_argument("--caller", default="0312345678", help="caller number, or 'withheld'")
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
    parser.add_argument("--catalog", default=DEFAULT_CATALOG, help="prompt catalog YAML")
    parser.add_argument("--queue", action="append", dest="queues", help="known queue (repeat)")
    parser.add_argument("--department", action="append", dest="departments")
    parser.add_argument("--calendar", action="append", dest="calendars")


def _references(args: argparse.Namespace, catalog: Catalog) -> References:
    return References(
        catalog=catalog,
        queues=frozenset(args.queues or DEFAULT_QUEUES),
        departments=frozenset(args.departments or DEFAULT_DEPARTMENTS),
        calendars=frozenset(args.calendars or DEFAULT_CALENDARS),
    )


def _load_catalog(path: str) -> Catalog:
    catalog = load_catalog(path)
    missing = [p for p in BUILTIN_PROMPTS if p not in catalog]
    if missing:
        raise FlowError([f"{path}:1: missing built-in prompt {p!r}" for p in missing])
    return catalog


def run_check(args: argparse.Namespace) -> int:
    files = [Path(f) for f in args.files] or sorted(Path(DEFAULT_DIALPLANS).glob("*.yaml"))
    if not files:
        print("no dialplan files to check", file=sys.stderr)
        return 1
    try:
        catalog = _load_catalog(args.catalog)
    except FlowError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    errors = check_files(files, _references(args, catalog))
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print(f"{len(errors)} error(s)", file=sys.stderr)
        return 1
    print(f"ok: {len(files)} file(s)")
    return 0


def run_schema(args: argparse.Namespace) -> int:
    text = flow_schema_json()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def demo_fakes() -> Fakes:
    """A few demo accounts: one per phone, a shut-off one, and a phone with two accounts."""

    def number(body: str) -> str:
        return customer_number(int(body))

    a, b, c, d = (number(x) for x in ("100000001", "100000002", "100000003", "100000004"))
    accounts = [
        AccountSummary(a, "north-3", "active", 3240, "slip"),
        AccountSummary(b, "south-1", "shut_off", 0, "slip"),
        AccountSummary(c, "east-2", "active", 5810, "bank_debit"),
        AccountSummary(d, "east-2", "active", 0, "bank_debit"),
    ]
    phones = {"0312345678": [a], "0398765432": [b], "0311112222": [c, d]}
    phones |= {"+81" + k[1:]: v for k, v in list(phones.items())}
    notices = {"north-3": ["notice-planned-outage-sample"]}
    return Fakes(
        accounts=FakeAccounts(accounts, phones),
        notices=FakeNotices(notices),
        intake=FakeIntake(),
    )


def _parse_at(text: str | None) -> datetime:
    if not text:
        return datetime.now(TOKYO)
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=TOKYO)


def run_simulate(args: argparse.Namespace) -> int:
    try:
        catalog = _load_catalog(args.catalog)
        path = Path(args.file)
        siblings = sorted(path.parent.glob("*.yaml"))
        refs = _references(args, catalog)
        flows = load_flows(sorted({path, *siblings}), refs)
        main = load_flow(path, replace(refs, flows=frozenset(flows)))
        at = _parse_at(args.at)
    except FlowError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"--at: {exc}", file=sys.stderr)
        return 2
    caller = None if args.caller in ("", "withheld", "anonymous") else args.caller
    lines = asyncio.run(
        simulate(
            main, caller, args.keys, at, demo_fakes(), catalog, language=args.lang, library=flows
        )
    )
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
    dot = shutil.which("dot")
    if dot is None:
        print(
            "Graphviz `dot` is not installed (apt-get install graphviz); write a .dot file instead",
            file=sys.stderr,
        )
        return 1
    try:
        # Arguments are ours: the resolved dot binary, a known format, the output path; no shell.
        done = subprocess.run(  # noqa: S603
            [dot, f"-T{fmt}", "-o", out],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"Graphviz `dot` failed: {exc}", file=sys.stderr)
        return 1
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()
        print(f"Graphviz `dot` failed (exit {done.returncode}): {detail}", file=sys.stderr)
        return 1
    return 0
