"""Wiring only: build the ARI client, the flows, the services and the supervisor from an
`AppConfig` and run them until cancelled. `Engine` is what `hotline run` and the integration
tests start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from pathlib import Path

from ivr.ari.client import AriClient, Backoff
from ivr.calls.flows import FlowRegistry
from ivr.calls.records import CallRecorder, JsonlCallRecorder
from ivr.calls.services import CallServices
from ivr.calls.supervisor import UNREAD_EVENTS, Supervisor
from ivr.config import AppConfig
from ivr.status import publish_status
from routing.acd import AcdRouter, QueueEvents
from routing.agents import AgentPool
from routing.hours import calendars_of
from routing.ports import CallbackStore
from routing.queues import CallbackRequest, QueueService
from routing.transfer import TransferService

log = logging.getLogger(__name__)


def build_acd(
    config: AppConfig,
    ari: AriClient,
    callback_store: CallbackStore | None = None,
    recorder: CallRecorder | None = None,
) -> AcdRouter:
    """Queues, agents and transfers from `routing:` in config.yaml."""
    routing = config.routing
    calendars = calendars_of(routing)
    pool = AgentPool(routing.agents)
    router: AcdRouter | None = None

    async def dial_back(request: CallbackRequest) -> None:
        if router is not None:
            await router.dial_back(request)

    queue_events = QueueEvents(recorder=recorder)
    queues = QueueService(
        routing,
        pool,
        ari,
        calendars,
        dial_back=dial_back,
        on_event=queue_events.add,
        callback_store=callback_store,
    )
    transfers = TransferService(routing, ari, calendars, on_event=queue_events.add)
    router = AcdRouter(
        queues,
        transfers,
        ari,
        emergency_department=config.calls.emergency_department,
        events=queue_events,
    )
    return router


def flow_registry(config: AppConfig, base: Path | None = None) -> FlowRegistry:
    """The flows, loaded and checked against `config` (`FlowError`: the engine must not start)."""
    base = base or Path.cwd()
    registry = FlowRegistry(base / config.flows.dir, base / config.flows.catalog, config)
    registry.load()
    return registry


class Engine:
    def __init__(
        self,
        config: AppConfig,
        services: CallServices,
        recorder: CallRecorder | None = None,
        callback_store: CallbackStore | None = None,
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
            disallowed_events=UNREAD_EVENTS,
        )
        self.recorder = recorder or JsonlCallRecorder(Path(config.records.path))
        self.acd: AcdRouter | None = None
        if config.routing.queues or config.routing.departments:
            self.acd = build_acd(config, self.ari, callback_store, self.recorder)
            services = replace(services, router=self.acd)
        self.services = services
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
        self._tasks.append(
            loop.create_task(
                publish_status(
                    self.config.status_path, self.services.flows, self.supervisor, self.ari, 5.0
                ),
                name="status",
            )
        )
        if self.acd is not None:
            self.acd.bind(self.supervisor.watch)
            restored = await self.acd.queues.restore_callbacks()
            if restored:
                log.info("%d callback place(s) restored", restored)
            for agent_id, agent in self.config.routing.agents.items():
                if agent.ready_at_start:
                    self.acd.queues.agents.log_in(agent_id)
            # hands due callbacks to the router, once each, within the queue's hours
            self._tasks.append(loop.create_task(self.acd.queues.run(), name="queue-callbacks"))
        await self.ari.connected.wait()
        if self.acd is not None:
            # asks Asterisk which of them still ring: once connected
            ringing = await self.acd.recover_callbacks()
            if ringing:
                log.info("%d callback call(s) still ringing from before the restart", ringing)

    async def stop(self) -> None:
        """Detach from calls (they stay in Asterisk for the next engine) and disconnect."""
        await self.supervisor.stop()
        # what the calls kept on the way out is stored before the next engine looks for it
        await self.services.memory.flush()
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
