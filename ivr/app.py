"""Wiring only: build the ARI client, the call recorder and the supervisor from an `AppConfig`
and run them until cancelled. `Engine` is what `hotline run` and the integration tests start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from ivr.ari.client import AriClient, Backoff
from ivr.calls.records import CallRecorder, JsonlCallRecorder
from ivr.calls.supervisor import Supervisor
from ivr.config import AppConfig

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, config: AppConfig, recorder: CallRecorder | None = None) -> None:
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
        self.recorder = recorder or JsonlCallRecorder(Path(config.records.path))
        self.supervisor = Supervisor(self.ari, self.recorder, config.calls)
        self._events: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect to ARI and start taking calls; returns once the events socket is up."""
        self._events = asyncio.get_running_loop().create_task(
            self.ari.run(self.supervisor.on_event), name="ari-events"
        )
        await self.ari.connected.wait()

    async def stop(self) -> None:
        """Detach from calls (they stay in Asterisk for the next engine) and disconnect."""
        await self.supervisor.stop()
        if self._events is not None:
            self._events.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._events
        await self.ari.close()

    async def run_forever(self) -> None:
        await self.start()
        log.info("engine running (ARI app %s)", self.config.ari.app)
        try:
            await asyncio.Event().wait()
        finally:
            await self.stop()
