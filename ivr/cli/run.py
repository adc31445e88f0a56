"""`hotline run`: start the engine on config.yaml's services and take calls until stopped.

On PostgreSQL the engine first takes the leader lock (`ivr.leader`): `hotline run` fails when
another engine holds it, `hotline run --standby` waits for it and takes over the calls when the
active engine stops or dies. An engine that loses the lock exits at once (`EXIT_FENCED`),
leaving its calls to the one that has it. SQLite serves one engine and takes no lock."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Callable

from ivr.app import Engine, build, engine_console, flow_registry
from ivr.config import AppConfig, load_config
from ivr.errors import FlowError
from ivr.leader import AnotherEngineActive, Leader, PgLeaderLock
from ivr.logs import setup_logging
from ivr.store.db import is_sqlite

log = logging.getLogger(__name__)

EXIT_FENCED = 3
# the collector's thresholds once the engine serves (CPython's default: 700, 10, 10). A call's
# work allocates thousands of short-lived containers that reference counting frees anyway; at
# 700 the young generation was scanned a few times per call, ~6 % of the engine's CPU at 20
# calls/s (bench/load.py --profile). Scanned 70 times less often, the cyclic garbage that only
# the collector frees (a few MiB between passes) is freed a little later.
GC_THRESHOLDS = (50_000, 20, 20)
"""`hotline run`'s exit code when the engine lost the leader lock (another engine may act)."""


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser("run", help="start the engine: connect to Asterisk and take calls")
    run.add_argument(
        "--standby",
        action="store_true",
        help="PostgreSQL only: wait as a hot standby; take over the calls when the active "
        "engine stops or dies",
    )
    run.set_defaults(func=run_engine)


def run_engine(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    setup_logging(config.log.level, config.log.json_lines)
    if not config.ari_password:
        print(
            "hotline: no ARI password: set HOTLINE_ARI_PASSWORD or create "
            f"{config.ari.password_file} (scripts/asterisk-sandbox up does)",
            file=sys.stderr,
        )
        return 2

    if args.standby and is_sqlite(config.database.url):
        print(
            "hotline: --standby needs PostgreSQL (database.url): a SQLite database serves "
            "one engine only",
            file=sys.stderr,
        )
        return 2
    problems: list[str] = []
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        try:
            runner.run(_main(config, standby=args.standby, problems=problems))
        except asyncio.CancelledError:
            # stopped while starting (Asterisk may not answer yet), or stopped twice
            return 0
    if problems:
        print("hotline: " + "\n".join(problems), file=sys.stderr)
        return 1
    return 0


async def _main(config: AppConfig, *, standby: bool, problems: list[str]) -> None:
    signals = _Signals()
    leader = None
    if not is_sqlite(config.database.url):
        leader = Leader(PgLeaderLock(config.database.url), on_lost=_fenced)
    watch: asyncio.Task[None] | None = None
    try:
        if leader is not None:
            try:
                await leader.take(wait=standby)
            except AnotherEngineActive as exc:
                problems.append(f"{exc}; start this one with --standby to wait for it")
                return
            # settles the lock (the wait for a cut-off former leader) while the engine opens
            # its data side, then confirms it until the end
            watch = asyncio.get_running_loop().create_task(leader.watch(), name="leader-lock")
        engine = await _build(config, leader, problems)
        if engine is not None:
            async with engine:
                await engine.serve(until=signals.serving())
    finally:
        if watch is not None:
            watch.cancel()
            await asyncio.wait({watch})
        if leader is not None:
            await leader.release()


async def _build(config: AppConfig, leader: Leader | None, problems: list[str]) -> Engine | None:
    # the flows are loaded by the engine once its database is open: a broken file on disk
    # then serves the version accepted last time (and says so), rather than keeping the
    # hotline down
    flows = flow_registry(config, load=False)
    before_calls = None
    if leader is not None:
        # the collector's pass stops the loop for seconds on a loaded machine: done while a
        # new leader waits anyway, it cannot make a confirmation of the lock late
        async def before_calls() -> None:
            gc.collect()
            await leader.settled.wait()

    try:
        engine = await build(
            config,
            flows=flows,
            components=[engine_console],
            may_act=leader.holds if leader is not None else None,
            before_calls=before_calls,
        )
    except FlowError as exc:
        problems.append("the call flows are invalid:\n" + "\n".join(exc.errors))
        return None
    # what start-up built (flows, schemas, the ORM's metadata: ~100,000 objects) lives as
    # long as the engine: keep it out of the collector's full passes, which otherwise stop
    # every call for tens of milliseconds now and then
    if leader is None:
        gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    return engine


def _fenced(reason: str) -> None:
    """The leader lock is lost: another engine may be acting on the calls already. Stop at
    once, as if killed (no detach, no final writes): what the calls need is in Asterisk's
    channel variables and the database for the engine that has the lock."""
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_FENCED)


class _Signals:
    """SIGINT and SIGTERM: the first, once the engine serves, stops it (calls stay in
    Asterisk for the next start; the stop is bounded, see `ivr.app`). One while the engine
    starts (Asterisk may not answer yet), or a second one, cancels `hotline run`'s main task:
    for an operator who will not wait."""

    def __init__(self) -> None:
        self._main = asyncio.current_task()
        self._stop = asyncio.Event()
        self._serving = False
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)

    def serving(self) -> asyncio.Event:
        """The engine serves from now on; the returned event is set by the first signal."""
        self._serving = True
        return self._stop

    def _on_signal(self) -> None:
        log.info("stopping")
        if self._serving and not self._stop.is_set():
            self._stop.set()
        elif self._main is not None:
            self._main.cancel()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed, else asyncio's own (None).

    Under a call storm the loop itself (selector, transports, callbacks) is a good part of the
    engine's CPU; uvloop does the same work in C."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency, but not a required one
        return None
    return uvloop.new_event_loop
