"""`hotline console`: serve the agent console alone on `console.host:port` (the database
migrated first), until Ctrl-C. For trying the console and the browser tests' manual twin;
`hotline run` serves the same console next to the engine."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from ivr.cli.db import database_url
from ivr.config import load_config
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from ivr.web.server import serve_console


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    console = subparsers.add_parser("console", help="serve the agent console alone")
    console.add_argument("--port", type=int, help="listen here instead of console.port")
    console.set_defaults(func=run_console)


def run_console(args: argparse.Namespace) -> int:
    config = load_config(getattr(args, "config", None))
    if args.port is not None:
        config = config.model_copy(
            update={"console": config.console.model_copy(update={"port": args.port})}
        )
    url = database_url(args)
    asyncio.run(migrate(url))

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        engine = open_engine(url)
        try:
            async with serve_console(config, engine) as site:
                print(f"console at {site.url}/login (Ctrl-C stops)", flush=True)
                await stop.wait()
        finally:
            await engine.dispose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())
    return 0
