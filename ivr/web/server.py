"""Serving the console: `serve_console(config, db)` is an async context manager that listens on
`console.host:port` while it is open and stops within `console.shutdown_timeout_s` when it
closes (open requests are given that long, then cut). Port 0 takes a free port; the site's
`url` says which.

The composition root enters it on its exit stack:
``site = await stack.enter_async_context(serve_console(config, db_engine))``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters.agents import DbAgentTrail
from ivr.adapters.notices import NoticeDesk
from ivr.calls.flows import FlowRegistry
from ivr.config import AppConfig
from ivr.domain import utc_now
from ivr.store.passwords import Passwords
from ivr.web.app import create_app
from ivr.web.calls import CallControls
from ivr.web.context import Clock
from ivr.web.hub import Hub
from ivr.web.wallboard import Wallboard
from routing.agents import AgentPool

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConsoleSite:
    host: str
    port: int
    app: web.Application

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@asynccontextmanager
async def serve_console(
    config: AppConfig,
    db: AsyncEngine,
    *,
    clock: Clock = utc_now,
    passwords: Passwords | None = None,
    agents: AgentPool | None = None,
    agent_trail: DbAgentTrail | None = None,
    hub: Hub | None = None,
    controls: CallControls | None = None,
    notice_desk: NoticeDesk | None = None,
    flow_registry: FlowRegistry | None = None,
    board: Wallboard | None = None,
    listening: Callable[[str], bool] | None = None,
) -> AsyncIterator[ConsoleSite]:
    cfg = config.console
    app = create_app(
        config,
        db,
        clock,
        passwords=passwords,
        agents=agents,
        agent_trail=agent_trail,
        hub=hub,
        controls=controls,
        notice_desk=notice_desk,
        flow_registry=flow_registry,
        board=board,
        listening=listening,
    )
    # no access log: a request line may carry a search (a customer number, a name) in its query
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=cfg.shutdown_timeout_s)
    await runner.setup()
    try:
        site = web.TCPSite(runner, cfg.host, cfg.port)
        await site.start()
        port = _bound_port(runner, cfg.port)
        log.info("console listening on http://%s:%d", cfg.host, port)
        yield ConsoleSite(cfg.host, port, app)
    finally:
        # aiohttp waits up to shutdown_timeout for open requests; the extra second bounds the
        # rest of its cleanup (closing idle keep-alive connections, the app's cleanup hooks)
        await asyncio.wait_for(runner.cleanup(), cfg.shutdown_timeout_s + 1.0)
        log.info("console stopped")


def _bound_port(runner: web.AppRunner, configured: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return configured
