"""Wiring only: build the ARI client, the flows, the services and the supervisor from an
`AppConfig` and run them until cancelled. `Engine` is what `hotline run` and the integration
tests start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from ivr.ari.client import AriClient, Backoff
from ivr.calls.flows import FlowRegistry
from ivr.calls.records import CallRecorder, JsonlCallRecorder
from ivr.calls.services import CallServices
from ivr.calls.supervisor import Supervisor
from ivr.config import AppConfig

log = logging.getLogger(__name__)


def flow_registry(config: AppConfig, base: Path | None = None) -> FlowRegistry:
    base = base or Path.cwd()
    registry = FlowRegistry(base / config.flows.dir, base / config.flows.catalog)
    registry.load()
    return registry


class Engine:
    def __init__(
        self,
        config: AppConfig,
        services: CallServices,
        recorder: CallRecorder | None = None,
    ) -> None:
        self.config = config
        self.ari = AriClient(
            config.ari.url,
            config.ari.user,
            config.ari_password,
            config.ari.app,
            request_timeout_s=config.ari.request_timeout_s,
            heartbeat_s=config.ari.heartbeat_s,
            backoff=Backoff(config.ari.reconnect_initial_s, config.ari.reconnect_max_s),
        )
        self.services = services
        self.recorder = recorder or JsonlCallRecorder(Path(config.records.path))
        self.supervisor = Supervisor(self.ari, self.recorder, config.calls, services)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Connect to ARI and start taking calls; returns once the events socket is up."""
        loop = asyncio.get_running_loop()
        self._tasks.append(
            loop.create_task(self.ari.run(self.supervisor.on_event), name="ari-events")
        )
        self._tasks.append(
            loop.create_task(
                self.services.flows.watch(self.config.flows.reload_poll_s), name="flow-reload"
            )
        )
        await self.ari.connected.wait()

    async def stop(self) -> None:
        """Detach from calls (they stay in Asterisk for the next engine) and disconnect."""
        await self.supervisor.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.ari.close()

    async def run_forever(self) -> None:
        await self.start()
        log.info("engine running (ARI app %s)", self.config.ari.app)
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()
