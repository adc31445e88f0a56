"""Wiring the engine to its data: the database, the billing gateway and outbox, and the real
services behind the flow's ports, opened together and closed together.

    async with open_services(config, flows) as wiring:
        engine = Engine(config, wiring.services, wiring.recorder)
        await engine.run_forever()

The database is migrated to head on entry, so `hotline run` works on a fresh checkout (an
empty SQLite file is created). The billing outbox is delivered by an APScheduler 3
`AsyncIOScheduler` job every `billing.outbox.interval_s`. On exit the job stops first: a delivery
in flight gets a few seconds to finish, then is cancelled (its lease makes that safe: the row is
delivered again later, with the same idempotency key); then the HTTP session and the database
engines are closed. Stop the
`Engine` inside the block: call sessions write their records on the way out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters import (
    DbCallRecorder,
    RoutingCalendar,
    ServiceIntake,
    StoreAccounts,
    StoreNotices,
)
from ivr.calls.flows import FlowRegistry
from ivr.calls.records import CallRecorder
from ivr.calls.services import CallServices, DialplanRouter, Router, prompt_media
from ivr.config import AppConfig
from ivr.domain import TOKYO
from ivr.intake.billing import BillingGateway, DatabaseBillingGateway, HttpBillingGateway
from ivr.intake.outbox import OutboxDispatcher, OutboxPolicy
from ivr.intake.service import IntakeService
from ivr.intake.validation import IntakeRules
from ivr.store.accounts import AccountStore
from ivr.store.call_memory import DbCallMemory
from ivr.store.calls import CallLog
from ivr.store.db import open_engine
from ivr.store.migrate import migrate
from routing.hours import calendars_of

log = logging.getLogger(__name__)

# beyond one billing request's timeout, for the delivery in flight to record its result
SHUTDOWN_GRACE_S = 5.0


@dataclass(frozen=True)
class Wiring:
    """What `open_services` opened; valid inside its `async with` block only."""

    services: CallServices
    recorder: CallRecorder
    db: AsyncEngine
    intake: IntakeService
    dispatcher: OutboxDispatcher
    scheduler: AsyncIOScheduler


def intake_rules(config: AppConfig) -> IntakeRules:
    return IntakeRules(
        lead_business_days=dict(config.intake.lead_business_days),
        horizon_days=config.intake.horizon_days,
    )


def outbox_policy(config: AppConfig) -> OutboxPolicy:
    outbox = config.billing.outbox
    return OutboxPolicy(
        max_attempts=outbox.max_attempts,
        backoff_base_s=outbox.backoff_base_s,
        backoff_max_s=outbox.backoff_max_s,
    )


async def open_billing(config: AppConfig, db: AsyncEngine, stack: AsyncExitStack) -> BillingGateway:
    """The configured billing gateway; what it opens is closed when `stack` closes."""
    billing = config.billing
    if billing.adapter == "http":
        session = aiohttp.ClientSession()
        stack.push_async_callback(session.close)
        return HttpBillingGateway(
            session,
            billing.http.url,
            token=config.billing_token or None,
            timeout_s=billing.http.timeout_s,
        )
    if billing.database_url == config.database.url:
        gateway = DatabaseBillingGateway(db)
    else:
        billing_db = open_engine(billing.database_url)
        stack.push_async_callback(billing_db.dispose)
        gateway = DatabaseBillingGateway(billing_db)
    await gateway.ensure_schema()
    return gateway


@asynccontextmanager
async def open_services(
    config: AppConfig,
    flows: FlowRegistry,
    *,
    call_log: CallRecorder | None = None,
    router: Router | None = None,
    migrate_db: bool = True,
) -> AsyncIterator[Wiring]:
    """Open the database (migrated to head unless `migrate_db` is False), billing and the
    outbox job, and build `CallServices` on them.

    `call_log` is where call records go (default: the database's contact trail); `router` the
    routing after the IVR (default: `DialplanRouter`).
    """
    calendars = calendars_of(config.routing)
    url = config.database.url
    if migrate_db:
        revision = await migrate(url)
        log.info("database at revision %s", revision)
    async with AsyncExitStack() as stack:
        db = open_engine(url)
        stack.push_async_callback(db.dispose)
        gateway = await open_billing(config, db, stack)

        dispatcher = OutboxDispatcher(db, gateway, outbox_policy(config))
        scheduler = AsyncIOScheduler(timezone=TOKYO)
        dispatcher.schedule(scheduler, config.billing.outbox.interval_s)
        scheduler.start()
        stack.push_async_callback(
            stop_outbox, scheduler, dispatcher, config.billing.http.timeout_s + SHUTDOWN_GRACE_S
        )

        store = AccountStore(db)
        stack.push_async_callback(store.aclose)
        intake = IntakeService(db, rules=intake_rules(config))
        memory = DbCallMemory(db, writes=store.path)
        memory.start()
        # closed before the database: what calls kept on the way out is written first
        stack.push_async_callback(memory.aclose)
        services = CallServices(
            flows=flows,
            accounts=StoreAccounts(store),
            calendar=RoutingCalendar(calendars),
            notices=StoreNotices(store, _catalog_has(flows)),
            intake=ServiceIntake(intake),
            router=router or DialplanRouter(),
            memory=memory,
            media=prompt_media(config.prompts.asterisk_dir),
        )
        if call_log is not None:
            recorder = call_log
        else:
            db_recorder = DbCallRecorder(CallLog(db, writes=store.path))
            db_recorder.start()
            # closed before the database (pushed after it): records of the last calls are written
            stack.push_async_callback(db_recorder.aclose)
            recorder = db_recorder
        yield Wiring(services, recorder, db, intake, dispatcher, scheduler)


async def stop_outbox(
    scheduler: AsyncIOScheduler, dispatcher: OutboxDispatcher, timeout_s: float
) -> None:
    """Stop the outbox job, letting a delivery in flight finish within `timeout_s`."""
    scheduler.pause()
    held = False
    try:
        async with asyncio.timeout(timeout_s):
            # deliveries run one at a time: this waits for the one in flight
            await dispatcher.hold()
            held = True
    except TimeoutError:
        log.warning("a billing delivery outlived shutdown; it is cancelled and sent again later")
    try:
        # jobs already queued are cancelled while they wait for the dispatcher, never in the
        # middle of a database transaction
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
    finally:
        if held:
            dispatcher.release()


def _catalog_has(flows: FlowRegistry) -> Callable[[str], bool]:
    def has(prompt_id: str) -> bool:
        # the live catalog: a reload that adds notice prompts is used by the next call
        return flows.catalog is not None and prompt_id in flows.catalog

    return has
