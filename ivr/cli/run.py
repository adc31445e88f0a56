"""`hotline run`: start the engine on config.yaml's services and take calls until stopped."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable

from ivr.app import build, engine_console, flow_registry
from ivr.config import load_config
from ivr.errors import FlowError
from ivr.logs import setup_logging

log = logging.getLogger(__name__)


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = subparsers.add_parser("run", help="start the engine: connect to Asterisk and take calls")
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

    # loaded by the engine once its database is open: a broken file on disk then serves the
    # version accepted last time (and says so), rather than keeping the hotline down
    flows = flow_registry(config, load=False)
    invalid: list[str] = []

    async def main() -> None:
        signals = _Signals()
        try:
            engine = await build(config, flows=flows, components=[engine_console])
        except FlowError as exc:
            invalid.extend(exc.errors)
            return
        # what start-up built (flows, schemas, the ORM's metadata: ~100,000 objects) lives as
        # long as the engine: keep it out of the collector's full passes, which otherwise stop
        # every call for tens of milliseconds now and then
        gc.collect()
        gc.freeze()
        async with engine:
            await engine.serve(until=signals.serving())

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        try:
            runner.run(main())
        except asyncio.CancelledError:
            # stopped while starting (Asterisk may not answer yet), or stopped twice
            return 0
    if invalid:
        print("hotline: the call flows are invalid:\n" + "\n".join(invalid), file=sys.stderr)
        return 1
    return 0


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
