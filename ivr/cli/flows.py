"""`hotline check | schema | simulate | graph`: the admin's tools for dialplan files.

`add_commands(subparsers)` registers the subcommands; each handler takes the parsed namespace
and returns the process exit code. What a flow may name (queues, departments, calendars, prompts,
intake fields) comes from config.yaml (or `--config`), as for the engine: a queue an admin adds
there is known to `check` and `simulate` at once. `simulate` answers with the calendars of the
config and the demo generator's accounts and notices (`hotline demo`).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters import RoutingCalendar, StoreAccounts, StoreNotices
from ivr.callerid import normalise_caller_id
from ivr.calls.flows import load_flow_catalog, references_from
from ivr.cli.output import write_document
from ivr.config import AppConfig, load_config
from ivr.errors import FlowError
from ivr.flow.catalog import Catalog
from ivr.flow.graph import to_dot
from ivr.flow.loader import References, check_files, load_flow, load_flows
from ivr.flow.ports import FakeIntake, Fakes
from ivr.flow.schema import flow_schema_json
from ivr.flow.simulator import simulate
from ivr.store.accounts import AccountStore
from ivr.store.db import open_engine
from ivr.store.demo import DEMO_CALLER, demo
from ivr.store.migrate import migrate
from routing.hours import calendars_of

TOKYO = ZoneInfo("Asia/Tokyo")
# the demo database's first accounts (`hotline demo`, same seed): the README's test caller is the
# first; a few hundred hold a shut-off account, a shared phone and the notices' areas
DEMO_ACCOUNTS = 300
DEMO_SEED = 2004
# the README's test caller as a resident would type it
DEMO_CALLER_NATIONAL = "0" + DEMO_CALLER.removeprefix("+81")
# what `graph -o` renders through Graphviz `dot` (.dot and .gv are written as DOT text)
GRAPH_FORMATS = ("svg", "png", "pdf")
DOT_TIMEOUT_S = 60.0


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
    try:
        refs = references_from(config, load_flow_catalog(args.catalog or config.flows.catalog))
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


def _flow_files(paths: list[Path]) -> list[Path]:
    """The files named, with a directory standing for the *.yaml in it (as the engine reads it)."""
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    return files


def run_schema(args: argparse.Namespace) -> int:
    return write_document(flow_schema_json(), args.output)


@asynccontextmanager
async def demo_database(today: date) -> AsyncIterator[AsyncEngine]:
    """A throw-away SQLite database holding what `hotline demo` writes first (its first
    `DEMO_ACCOUNTS` accounts, same seed, and its notices), migrated like the engine's."""
    with tempfile.TemporaryDirectory(prefix="hotline-simulate-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'demo.sqlite3'}"
        await migrate(url)
        db = open_engine(url)
        try:
            await demo(db, DEMO_ACCOUNTS, seed=DEMO_SEED, today=today)
            yield db
        finally:
            await db.dispose()


def simulator_services(store: AccountStore, config: AppConfig, catalog: Catalog) -> Fakes:
    """The engine's own account and notice adapters on `store`, the calendars of `config`;
    intake requests are only shown."""
    return Fakes(
        accounts=StoreAccounts(store),
        calendar=RoutingCalendar(calendars_of(config.routing)),
        notices=StoreNotices(store, catalog.__contains__),
        intake=FakeIntake(),
    )


@asynccontextmanager
async def demo_services(config: AppConfig, catalog: Catalog, today: date) -> AsyncIterator[Fakes]:
    """`simulator_services` on a fresh `demo_database`."""
    async with demo_database(today) as db, AccountStore(db) as store:
        yield simulator_services(store, config, catalog)


def _parse_at(text: str | None) -> datetime:
    if not text:
        return datetime.now(TOKYO)
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=TOKYO)


def run_simulate(args: argparse.Namespace) -> int:
    config = _config(args)
    try:
        path = Path(args.file)
        siblings = sorted(path.parent.glob("*.yaml"))
        catalog = load_flow_catalog(args.catalog or config.flows.catalog)
        refs = references_from(config, catalog)
        flows = load_flows(sorted({path, *siblings}), refs)
        main = load_flow(path, replace(refs, flows=frozenset(flows)))
        at = _parse_at(args.at)
    except FlowError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"--at: {exc}", file=sys.stderr)
        return 2
    # the engine's own decision: a withheld, payphone or unusable number is no number
    caller = normalise_caller_id(args.caller).e164

    async def walk() -> list[str]:
        async with demo_services(config, catalog, at.date()) as services:
            return await simulate(
                main, caller, args.keys, at, services, catalog, language=args.lang, library=flows
            )

    print("\n".join(asyncio.run(walk())))
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
