"""The admin's flow tools behind both `hotline simulate | graph` and the console's flows page:
one simulation (the flow interpreter's `ivr.flow.simulator.simulate` on the engine's own account
and notice adapters over a throw-away demo database, the config's calendars) and one rendering
of a flow's DOT text through Graphviz `dot`.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters.accounts import StoreAccounts
from ivr.adapters.calendars import RoutingCalendar
from ivr.adapters.notices import StoreNotices
from ivr.callerid import normalise_caller_id
from ivr.calls.flows import load_flow_catalog, references_from
from ivr.config import AppConfig
from ivr.flow.catalog import Catalog
from ivr.flow.loader import load_flow, load_flows
from ivr.flow.model import Flow, Language
from ivr.flow.ports import FakeIntake, Fakes
from ivr.flow.simulator import simulate
from ivr.store.accounts import AccountStore
from ivr.store.db import open_engine
from ivr.store.demo import DEMO_CALLER, demo
from ivr.store.migrate import migrate
from routing.hours import calendars_of

# the demo database's first accounts (`hotline demo`, same seed): the README's test caller is the
# first; a few hundred hold a shut-off account, a shared phone and the notices' areas
DEMO_ACCOUNTS = 300
DEMO_SEED = 2004
# the README's test caller as a resident would type it
DEMO_CALLER_NATIONAL = "0" + DEMO_CALLER.removeprefix("+81")
# what Graphviz `dot` renders (.dot and .gv are the DOT text itself)
GRAPH_FORMATS = ("svg", "png", "pdf")
DOT_TIMEOUT_S = 60.0


class GraphUnavailable(Exception):
    """Graphviz `dot` is missing or failed; the message says which and why."""


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


async def simulate_file(
    config: AppConfig,
    path: Path,
    caller: str,
    keys: str,
    at: datetime,
    *,
    catalog_path: Path | None = None,
    language: Language | None = None,
    departments: Collection[str] | None = None,
) -> list[str]:
    """The transcript of a call into the flow file `path` (its sibling *.yaml are the flows it
    may go to) from `caller` as typed ('withheld' or any format), pressing `keys` at `at`;
    `departments`: the engine's (None: config.yaml's). `FlowError` (with every `file:line`
    error) when the files do not load."""
    siblings = sorted(path.parent.glob("*.yaml"))
    catalog = load_flow_catalog(catalog_path or config.flows.catalog)
    refs = references_from(config, catalog, departments)
    flows = load_flows(sorted({path, *siblings}), refs)
    main = load_flow(path, replace(refs, flows=frozenset(flows)))
    return await simulate_flow(config, main, flows, catalog, caller, keys, at, language=language)


async def simulate_flow(
    config: AppConfig,
    flow: Flow,
    library: Mapping[str, Flow],
    catalog: Catalog,
    caller: str,
    keys: str,
    at: datetime,
    *,
    language: Language | None = None,
) -> list[str]:
    """The transcript of a call into `flow` (loaded, with the `library` it may go to)."""
    # the engine's own decision: a withheld, payphone or unusable number is no number
    e164 = normalise_caller_id(caller).e164
    async with demo_services(config, catalog, at.date()) as services:
        return await simulate(
            flow, e164, keys, at, services, catalog, language=language, library=library
        )


def render_dot(dot_text: str, fmt: str) -> bytes:
    """`dot_text` drawn by Graphviz as `fmt` (one of `GRAPH_FORMATS`); `GraphUnavailable`."""
    if fmt not in GRAPH_FORMATS:
        raise ValueError(f"unknown graph format {fmt!r}")
    dot = shutil.which("dot")
    if dot is None:
        raise GraphUnavailable(
            "Graphviz `dot` is not installed (apt-get install graphviz); write a .dot file instead"
        )
    try:
        # Arguments are ours: the resolved dot binary and a known format; no shell.
        done = subprocess.run(  # noqa: S603
            [dot, f"-T{fmt}"],
            input=dot_text.encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GraphUnavailable(f"Graphviz `dot` failed: {exc}") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()
        raise GraphUnavailable(f"Graphviz `dot` failed (exit {done.returncode}): {detail}")
    return done.stdout
