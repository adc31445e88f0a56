"""`hotline run`: start the engine on config.yaml's services and take calls until stopped."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
from collections.abc import Callable

from ivr.adapters import DbCallbackStore
from ivr.app import Engine, flow_registry
from ivr.config import load_config
from ivr.errors import FlowError
from ivr.logs import setup_logging
from ivr.wiring import open_services


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

    try:
        flows = flow_registry(config)
    except FlowError as exc:
        print("hotline: the call flows are invalid:\n" + "\n".join(exc.errors), file=sys.stderr)
        return 1

    async def main() -> None:
        task = asyncio.current_task()
        if task is None:  # pragma: no cover - asyncio.run always has a current task
            raise RuntimeError("no current task")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        async with open_services(config, flows) as wiring:
            engine = Engine(config, wiring.services, wiring.recorder, DbCallbackStore(wiring.db))
            # what start-up built (flows, schemas, the ORM's metadata: ~100,000 objects) lives as
            # long as the engine: keep it out of the collector's full passes, which otherwise stop
            # every call for tens of milliseconds now and then
            gc.collect()
            gc.freeze()
            with contextlib.suppress(asyncio.CancelledError):
                # the engine stops inside the block: sessions write their records on the way out
                await engine.run_forever()

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(main())
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed, else asyncio's own (None).

    Under a call storm the loop itself (selector, transports, callbacks) is a good part of the
    engine's CPU; uvloop does the same work in C."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency, but not a required one
        return None
    return uvloop.new_event_loop
