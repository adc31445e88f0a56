"""The composition root: `build(config)` opens everything the hotline runs on and returns the
running `Engine`; leaving its block (or `stop`) takes it down again, within a bounded time.

    async with await build(config) as engine:
        await engine.serve(until=stop_requested)

One `AsyncExitStack` owns every resource, opened in order and closed in reverse: the database
(migrated to head, so `hotline run` works on a fresh checkout), the billing gateway, the account
store, the call memory and call trail writers, the ARI client, and whatever component is added
next (`build(config, components=[...])`: the agent console enters its web server on the same
stack, reading `engine.db` and `engine.acd`). The long-running tasks (ari-events, flow-reload,
status, queue-callbacks, duty-fallback, outbox) run in one `asyncio.TaskGroup`: a task that
fails ends the engine (`serve` raises).

The router is built before the call services that carry it: the ACD on `routing:` when it
defines queues or departments, else the dialplan router. Tests build an engine on fakes by
passing their own `Backends` (the data side) instead of the database's.

Stopping, in this order, every step bounded by its named timeout:
1. the supervisor detaches from every call (`DETACH_S`): calls stay in Asterisk for the next
   engine, each session writing its record on the way out;
2. the call memory is flushed (`FLUSH_S`, shielded): what the calls kept is stored before the
   next engine looks for it;
3. the billing outbox is held (`billing.http.timeout_s` + `OUTBOX_GRACE_S`): a delivery in
   flight finishes (or is cut off; its lease makes that safe, it is sent again later with the
   same idempotency key);
4. the task group is cancelled (`TASKS_S`);
5. the exit stack closes: the ARI client, the trail and memory writers (what is pending is
   written, `FLUSH_S` each, shielded), the account store, billing, and the database last.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters import (
    DbCallbackStore,
    DbCallRecorder,
    RoutingCalendar,
    ServiceIntake,
    StoreAccounts,
    StoreNotices,
)
from ivr.adapters.agents import DbAgentTrail, open_agent_pool
from ivr.adapters.notices import NoticeDesk
from ivr.adapters.wrapups import resume_wrap_ups
from ivr.ari.client import AriClient, Backoff, StreamItem
from ivr.calls.flows import FlowKeeper, FlowRegistry
from ivr.calls.memory import CallMemory
from ivr.calls.records import CallRecorder
from ivr.calls.services import CallServices, DialplanRouter, Router, prompt_media
from ivr.calls.supervisor import UNREAD_EVENTS, Supervisor
from ivr.config import AppConfig
from ivr.domain import tokyo_now, utc_now
from ivr.flow.ports import AccountDirectory, Calendar, IntakeSink, NoticeBoard
from ivr.intake.billing import BillingGateway, DatabaseBillingGateway, HttpBillingGateway
from ivr.intake.outbox import OutboxDispatcher, OutboxPolicy
from ivr.intake.service import IntakeService
from ivr.intake.validation import IntakeRules, prepare_business_days
from ivr.prompts import NoticeVoices, default_output_dir, default_tts
from ivr.reports.contacts import OpeningHours
from ivr.reports.daily import daily_reports
from ivr.status import publish_status
from ivr.store.accounts import AccountStore
from ivr.store.call_memory import DbCallMemory
from ivr.store.calls import CallLog
from ivr.store.db import open_engine
from ivr.store.departments import DepartmentBook, config_departments
from ivr.store.duty import DutyRoster, DutyStep
from ivr.store.flowfiles import AcceptedFlowFiles
from ivr.store.migrate import migrate
from ivr.store.notices import NoticeStore
from ivr.web.calls import CallControls
from ivr.web.feed import ConsoleFeed
from ivr.web.hub import Hub
from ivr.web.server import ConsoleSite, serve_console
from ivr.web.wallboard import LiveQueues, Wallboard
from routing.acd import AcdRouter, QueueEvents
from routing.agents import AgentPool, unserved_queues
from routing.fallback import FallbackDuty
from routing.hours import calendars_of, call_hours
from routing.listen import Listening
from routing.ports import CallbackStore
from routing.queues import QueueService
from routing.transfer import TransferService

log = logging.getLogger(__name__)

DETACH_S = 10.0
"""How long the calls get to detach on stop (each session writes its record, bounded by
`calls.record_write_timeout_s`); sessions still running then are cancelled."""
FLUSH_S = 5.0
"""How long one must-do write on stop (call memory, call trail) may take."""
OUTBOX_GRACE_S = 5.0
"""Beyond one billing request's timeout, for the delivery in flight to record its result."""
TASKS_S = 5.0
"""How long the long-running tasks get to end once cancelled (the status file is removed)."""
STATUS_EVERY_S = 5.0


# ---------------------------------------------------------------------------- the data side


@dataclass(frozen=True)
class Backends:
    """The engine's data side: the flows, the flow's ports, where calls keep their restart
    state (`memory`) and their trail (`recorder`), where callback places survive a restart;
    in `hotline run` the database behind them (`db`) and its billing outbox. Tests pass fakes."""

    flows: FlowRegistry
    accounts: AccountDirectory
    calendar: Calendar
    notices: NoticeBoard
    intake: IntakeSink
    memory: CallMemory
    recorder: CallRecorder
    callback_store: CallbackStore | None = None
    db: AsyncEngine | None = None
    outbox: OutboxDispatcher | None = None
    # where the last accepted flow files are kept (the database's): what a start with a broken
    # file on disk serves
    flow_keeper: FlowKeeper | None = None
    # the staff who take calls, in the presence stored for them, and what writes their changes
    # (None: the agents of config.yaml's `routing.agents`, for engines on fakes)
    agents: AgentPool | None = None
    agent_trail: DbAgentTrail | None = None
    # admins' notices: saved, rendered to audio, and told to the board callers hear them from
    notice_desk: NoticeDesk | None = None
    # the leak line's on-duty lists, read at each escalation (None: config.yaml's lists)
    duty: DutyRoster | None = None
    # the departments transfers ring, read at each transfer (None: config.yaml's)
    departments: DepartmentBook | None = None


def flow_registry(
    config: AppConfig, base: Path | None = None, *, load: bool = True
) -> FlowRegistry:
    """The flows, checked against `config`: loaded now (`FlowError`: the engine must not start),
    or with `load=False` when the engine starts them on its database (`FlowRegistry.start`)."""
    base = base or Path.cwd()
    registry = FlowRegistry(base / config.flows.dir, base / config.flows.catalog, config)
    if load:
        registry.load()
    return registry


def intake_rules(config: AppConfig) -> IntakeRules:
    return IntakeRules(
        lead_business_days=dict(config.intake.lead_business_days),
        horizon_days=config.intake.horizon_days,
    )


def outbox_policy(config: AppConfig) -> OutboxPolicy:
    return OutboxPolicy.from_config(config.billing.outbox)


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


async def open_backends(
    config: AppConfig, flows: FlowRegistry, stack: AsyncExitStack, *, migrate_db: bool = True
) -> Backends:
    """The database (migrated to head unless `migrate_db` is False), billing, and the real
    services on them; each is closed when `stack` closes, the database last."""
    url = config.database.url
    if migrate_db:
        revision = await migrate(url)
        log.info("database at revision %s", revision)
    db = open_engine(url)
    stack.push_async_callback(db.dispose)
    keeper = AcceptedFlowFiles(db)
    # seeded before the flows load: they are checked against the departments the engine has
    departments = DepartmentBook(db)
    await departments.seed(config_departments(config), utc_now())
    flows.departments = partial(departments.codes, config_departments(config))
    if flows.accepted:
        # loaded already, against config.yaml's departments: checked again against the rows
        await flows.refresh_departments()
        await asyncio.to_thread(flows.reload_if_changed)
        await flows.keep(keeper)
    else:
        # not loaded yet: a broken file on disk then serves the version kept last time
        await flows.start(keeper)
    dispatcher = OutboxDispatcher(db, await open_billing(config, db, stack), outbox_policy(config))
    store = AccountStore(db)
    stack.push_async_callback(store.aclose)
    memory = DbCallMemory(db, writes=store.path)
    memory.start()
    # closed before the database: what calls kept on the way out is written first
    stack.push_async_callback(must, memory.aclose, FLUSH_S, "writing the call memory")
    recorder = DbCallRecorder(CallLog(db, writes=store.path))
    recorder.start()
    stack.push_async_callback(must, recorder.aclose, FLUSH_S, "writing the call trail")
    agents, agent_trail = await open_agent_pool(db, seed=config.routing.agents)
    skills = {name: queue.skills for name, queue in config.routing.queues.items()}
    for queue, needed in unserved_queues(skills, agents).items():
        # not a load error of config.yaml: the skills of console-made agents live in the database
        log.error(
            "queue %s needs skills no agent has (%s): its callers can only wait or overflow",
            queue,
            ", ".join(needed),
        )
    board = StoreNotices(store)
    root = Path.cwd()
    notice_desk = NoticeDesk(
        NoticeStore(db),
        NoticeVoices(default_output_dir(root), default_tts(root), config.prompts.asterisk_dir),
        on_change=board.invalidate,
    )
    stack.push_async_callback(must, agent_trail.aclose, FLUSH_S, "writing the agent trail")
    duty = DutyRoster(db)
    await duty.seed(config_duty_lists(config), utc_now())
    return Backends(
        flows=flows,
        accounts=StoreAccounts(store),
        calendar=RoutingCalendar(calendars_of(config.routing)),
        notices=board,
        intake=ServiceIntake(IntakeService(db, rules=intake_rules(config))),
        memory=memory,
        recorder=recorder,
        callback_store=DbCallbackStore(db),
        db=db,
        outbox=dispatcher,
        flow_keeper=keeper,
        agents=agents,
        agent_trail=agent_trail,
        notice_desk=notice_desk,
        duty=duty,
        departments=departments,
    )


def config_duty_lists(config: AppConfig) -> dict[str, list[DutyStep]]:
    """config.yaml's on-duty lists, as they seed the database (each step named by its phone,
    rung the department's `ring_timeout_s`)."""
    return {
        name: [DutyStep(phone, phone, dept.ring_timeout_s) for phone in dept.on_duty]
        for name, dept in config.routing.departments.items()
        if dept.on_duty
    }


# ---------------------------------------------------------------------------- routing


def build_acd(
    config: AppConfig,
    ari: AriClient,
    callback_store: CallbackStore | None,
    recorder: CallRecorder,
    agents: AgentPool | None = None,
    duty: DutyRoster | None = None,
    departments: DepartmentBook | None = None,
) -> AcdRouter:
    """Queues, agents and transfers from `routing:` in config.yaml; `agents` the pool of the
    staff who take calls (None: config's `routing.agents`). The router dials the queues'
    callbacks (it binds itself to them)."""
    routing = config.routing
    calendars = calendars_of(routing)
    trail = QueueEvents(recorder=recorder)
    queues = QueueService(
        routing,
        agents if agents is not None else AgentPool(routing.agents),
        ari,
        calendars,
        on_event=trail.add,
        callback_store=callback_store,
    )
    transfers = TransferService(
        routing, ari, calendars, on_event=trail.add, duty=duty, departments=departments
    )
    return AcdRouter(
        queues,
        transfers,
        ari,
        emergency_department=config.calls.emergency_department,
        events=trail,
    )


# ---------------------------------------------------------------------------- the engine


Component = Callable[["Engine"], AbstractAsyncContextManager[object]]
"""Something started with the engine and stopped with it (the agent console): entered on the
engine's exit stack once the engine takes calls, with the engine to read `db` and `acd` from."""


async def build(
    config: AppConfig,
    *,
    flows: FlowRegistry | None = None,
    backends: Backends | None = None,
    components: Sequence[Component] = (),
    may_act: Callable[[], bool] | None = None,
    before_calls: Callable[[], Awaitable[object]] | None = None,
) -> Engine:
    """Open everything on one exit stack, start taking calls, then enter `components`; returns
    once the events socket is up. `backends` None: the database's, serving `flows` (default:
    `flow_registry(config)`). `may_act`: the leader lock's fence, asked before every ARI event
    and every REST request; `before_calls`: awaited once the data side is open, before any
    call is touched (a new leader's wait, `ivr.leader`). If anything fails on the way, what
    was opened is closed again."""
    stack = AsyncExitStack()
    try:
        if backends is None:
            flows = flows or flow_registry(config, load=False)
            backends = await open_backends(config, flows, stack)
        engine = Engine(config, backends, stack)
        if may_act is not None:
            engine.supervisor.may_act = may_act
            engine.ari.may_act = may_act
        engine.before_calls = before_calls
    except BaseException:
        await stack.aclose()
        raise
    try:
        await engine.start()
        for component in components:
            engine.components.append(await stack.enter_async_context(component(engine)))
    except BaseException:
        await engine.stop()
        raise
    return engine


def _ari_client(config: AppConfig) -> AriClient:
    return AriClient(
        config.ari.url,
        config.ari.user,
        config.ari_password,
        config.ari.app,
        request_timeout_s=config.ari.request_timeout_s,
        heartbeat_s=config.ari.heartbeat_s,
        backoff=Backoff(config.ari.reconnect_initial_s, config.ari.reconnect_max_s),
        disallowed_events=UNREAD_EVENTS,
    )


class Engine:
    """The running hotline (made by `build`): the ARI client, the supervisor and its call
    sessions, the ACD (`acd`, None without queues and departments), and the data side
    (`backends`; `db` is the database in `hotline run`)."""

    def __init__(self, config: AppConfig, backends: Backends, stack: AsyncExitStack) -> None:
        self.config = config
        self.backends = backends
        self._stack = stack
        self.ari = _ari_client(config)
        stack.push_async_callback(self.ari.close)
        self.acd: AcdRouter | None = None
        router: Router = DialplanRouter()
        if config.routing.queues or config.routing.departments:
            router = self.acd = build_acd(
                config,
                self.ari,
                backends.callback_store,
                backends.recorder,
                backends.agents,
                backends.duty,
                backends.departments,
            )
        self.services = CallServices(
            flows=backends.flows,
            accounts=backends.accounts,
            calendar=backends.calendar,
            notices=backends.notices,
            intake=backends.intake,
            router=router,
            memory=backends.memory,
            media=prompt_media(config.prompts.asterisk_dir),
        )
        self.supervisor = Supervisor(self.ari, backends.recorder, config.calls, self.services)
        #: keeps the dialplan fallback's on-duty list what this engine would ring
        self.duty_fallback: FallbackDuty | None = None
        #: a supervisor's listens to calls (routing.listen); with agents to listen to only
        self.listening: Listening | None = None
        if self.acd is not None:
            self.acd.bind(self.supervisor.watch)
            self.acd.bind_commands(self.supervisor.post)
            self.listening = Listening(self.ari, self.acd.queues.agents)
            self.listening.bind(self.supervisor.watch)
            leak = config.calls.emergency_department
            self.duty_fallback = FallbackDuty(
                self.ari,
                self.acd.transfers,
                leak,
                config.routing.departments[leak].accept_timeout_s,
            )
        self._tasks = _Tasks()
        self._stopped: asyncio.Future[None] | None = None
        self.before_calls: Callable[[], Awaitable[object]] | None = None
        #: what each of `build`'s components gave when entered (the console's site), in order
        self.components: list[object] = []

    @property
    def db(self) -> AsyncEngine | None:
        return self.backends.db

    async def start(self) -> None:
        """Start the tasks and take calls; returns once the events socket is up."""
        if self.before_calls is not None:
            await self.before_calls()
        await self._restore_callbacks()
        self._tasks.start(self._long_running())
        # Asterisk may be down at start: the client keeps reconnecting, and a task that fails
        # meanwhile ends the wait
        await self._tasks.until(self.ari.connected.wait())
        if self.acd is not None:
            # asks Asterisk which of them still ring: once connected
            ringing = await self.acd.recover_callbacks()
            if ringing:
                log.info("%d callback call(s) still ringing from before the restart", ringing)

    def _wrap_up_s(self, queue: str) -> float:
        known = self.config.routing.queues.get(queue)
        return 0.0 if known is None else float(known.wrap_up_s)

    async def _restore_callbacks(self) -> None:
        if self.acd is None:
            return
        restored = await self.acd.queues.restore_callbacks()
        if restored:
            log.info("%d callback place(s) restored", restored)
        if self.backends.agents is not None:
            if self.backends.db is not None:
                # after the presences: an agent in wrap-up at the stop is in it again
                await resume_wrap_ups(
                    self.backends.db,
                    self.backends.agents,
                    self.acd.wrap_ups,
                    utc_now(),
                    self._wrap_up_s,
                )
            return  # the staff's own choices, restored by `open_agent_pool`
        # an engine on fakes: config.yaml's agents, the ones marked so ready at once
        for agent_id, agent in self.config.routing.agents.items():
            if agent.ready_at_start:
                self.acd.queues.agents.log_in(agent_id)

    def _long_running(self) -> dict[str, Coroutine[Any, Any, None]]:
        flows = self.services.flows
        tasks: dict[str, Coroutine[Any, Any, None]] = {
            "ari-events": self.ari.run(self._on_ari),
            "flow-reload": flows.watch(self.config.flows.reload_poll_s, self.backends.flow_keeper),
            "status": publish_status(
                self.config.status_path,
                flows,
                self.supervisor,
                self.ari,
                STATUS_EVERY_S,
                outbox=self.backends.outbox,
            ),
        }
        # the intake's business-day calendar, worked out before the first caller needs it
        tasks["business-days"] = prepare_business_days(tokyo_now().date())
        if self.acd is not None:
            # hands due callbacks to the router, once each, within the queue's hours
            tasks["queue-callbacks"] = self.acd.queues.run()
        if self.duty_fallback is not None:
            # tonight's on-duty list, in Asterisk for when this engine is gone
            tasks["duty-fallback"] = self.duty_fallback.run()
        if self.backends.notice_desk is not None:
            # notices saved while no engine ran (and the demo's) get their audio
            tasks["notice-audio"] = render_pending_notices(self.backends.notice_desk)
        if self.backends.db is not None:
            tasks["daily-reports"] = daily_reports(
                self.config, self.backends.db, utc_now, report_hours(self.config)
            )
        if self.backends.outbox is not None:
            tasks["outbox"] = deliver_outbox(
                self.backends.outbox, self.config.billing.outbox.interval_s
            )
        return tasks

    def _on_ari(self, item: StreamItem) -> None:
        self.supervisor.on_event(item)
        if self.duty_fallback is not None:
            self.duty_fallback.on_event(item)

    async def serve(self, until: asyncio.Event | None = None) -> None:
        """Take calls until `until` is set (None: until cancelled); raises if a task fails."""
        log.info("engine running (ARI app %s)", self.config.ari.app)
        await self._tasks.until((until or asyncio.Event()).wait())

    async def stop(self) -> None:
        """Stop within a bounded time (see the module docstring); again: waits for the first."""
        if self._stopped is None:
            self._stopped = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopped)

    async def _stop(self) -> None:
        if self.listening is not None:
            # a listen is the supervisor's alone: it ends, the calls it listened to go on
            await self.listening.stop()
        try:
            async with asyncio.timeout(DETACH_S + TASKS_S):
                await self.supervisor.stop(grace_s=DETACH_S)
        except TimeoutError:
            log.error("calls did not detach within %.0f s", DETACH_S + TASKS_S)
        await must(self.backends.memory.flush, FLUSH_S, "flushing the call memory")
        held = await self._hold_outbox()
        try:
            await self._tasks.aclose(TASKS_S)
        finally:
            if held and self.backends.outbox is not None:
                self.backends.outbox.release()
        await self._stack.aclose()
        log.info("engine stopped")

    async def _hold_outbox(self) -> bool:
        """Wait for the billing delivery in flight (if any) and start no other."""
        if self.backends.outbox is None:
            return False
        grace_s = self.config.billing.http.timeout_s + OUTBOX_GRACE_S
        try:
            async with asyncio.timeout(grace_s):
                await self.backends.outbox.hold()
        except TimeoutError:
            log.warning(
                "a billing delivery outlived shutdown; it is cancelled and sent again later"
            )
            return False
        return True

    async def __aenter__(self) -> Engine:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


@asynccontextmanager
async def engine_console(engine: Engine) -> AsyncIterator[ConsoleSite | None]:
    """The agent console on the engine: its database, its agent pool, and a live feed of what
    the queues and agents do to every agent's page (the screen-pop at the offer). A `Component`
    of `build` (`hotline run` starts it)."""
    db, pool = engine.db, engine.backends.agents
    if db is None or pool is None:
        raise ValueError("the console needs the engine's database and its agent pool")
    config = engine.config
    hub = Hub(utc_now)
    recorder = engine.backends.recorder
    sessions = engine.supervisor.sessions

    def context_of(call_id: str) -> Mapping[str, str] | None:
        session = sessions.get(call_id)
        return None if session is None else session.context

    def wrap_up_s(queue: str) -> float:
        known = config.routing.queues.get(queue)
        return 0.0 if known is None else float(known.wrap_up_s)

    def language_of(call_id: str) -> str | None:
        session = sessions.get(call_id)
        return None if session is None else session.language

    feed_flush = recorder.flush if isinstance(recorder, DbCallRecorder) else None
    feed = ConsoleFeed(
        hub,
        db,
        flush_trail=feed_flush,
        context_of=context_of,
        wrap_up_s=wrap_up_s,
    )
    controls = CallControls()
    board = Wallboard(config, db, utc_now)
    if engine.acd is not None:
        engine.acd.events.subscribe(feed.queue_event)
        controls = CallControls(
            engine.acd.desk, engine.acd.wrap_ups, context_of, engine.services.flows.library
        )
        board.live = LiveQueues(
            engine.acd.queues,
            language_of,
            feed_flush,
            engine.acd.desk,
            held=engine.acd.held_calls,
            listening=engine.listening,
        )
        engine.acd.events.subscribe(board.poke)
    pool.listen(feed.agent_change)
    if engine.acd is not None:
        feed.wrap_ups_resumed(pool, engine.acd.wrap_ups)
    cfg = config.console
    async with AsyncExitStack() as stack:
        stack.push_async_callback(feed.aclose)
        site: ConsoleSite | None = None
        try:
            site = await stack.enter_async_context(
                serve_console(
                    config,
                    db,
                    agents=pool,
                    agent_trail=engine.backends.agent_trail,
                    hub=hub,
                    controls=controls,
                    flow_registry=engine.backends.flows,
                    board=board,
                    listening=engine.listening.listens_on if engine.listening else None,
                    # a notice saved in the console goes on the board callers hear at once
                    notice_desk=engine.backends.notice_desk,
                )
            )
        except OSError as exc:
            # the hotline takes calls all the same: the console is not what callers need
            log.error(
                "the agent console cannot listen on %s:%d (%s); calls are taken without it",
                cfg.host,
                cfg.port,
                exc.strerror or exc,
            )
        yield site


async def render_pending_notices(desk: NoticeDesk) -> None:
    """Render the audio of notices still pending, once, then wait until cancelled (a task of
    the engine's group that ends would stop the engine)."""
    try:
        made = await desk.render_pending()
        if made:
            log.info("%d pending notice(s) rendered", len(made))
    except Exception:
        log.exception("rendering the pending notices failed; `hotline notices render` retries")
    await asyncio.Event().wait()


def report_hours(config: AppConfig) -> OpeningHours:
    """The opening hours the reports divide calls by: each queue's calendar, else
    `reports.calendar` (`routing.hours.call_hours`)."""
    return call_hours(config.routing, config.reports.calendar)


async def deliver_outbox(dispatcher: OutboxDispatcher, interval_s: float) -> None:
    """Deliver the billing outbox every `interval_s` until cancelled. A failed round (the
    database or billing away) is logged and the next one tries again; the rows wait."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await dispatcher.deliver_due()
        except Exception:
            log.exception("billing outbox round failed; the rows wait for the next round")


async def must(work: Callable[[], Awaitable[Any]], timeout_s: float, what: str) -> None:
    """Cleanup that must happen: `work()` runs to its end or `timeout_s`, even if the stopping
    task is cancelled meanwhile (the cancel is passed on once it has ended). A failure is
    logged: the rest of the stop goes on."""
    task = asyncio.ensure_future(asyncio.wait_for(work(), timeout_s))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait({task})
        raise
    except TimeoutError:
        log.error("%s did not finish within %.0f s", what, timeout_s)
    except Exception:
        log.exception("%s failed", what)


class _Tasks:
    """The engine's long-running tasks, in one `asyncio.TaskGroup` run by one owner task: a
    task that fails cancels the others and ends the owner, which `until` reports."""

    def __init__(self) -> None:
        self._owner: asyncio.Task[None] | None = None

    def start(self, tasks: dict[str, Coroutine[Any, Any, None]]) -> None:
        async def run() -> None:
            async with asyncio.TaskGroup() as group:
                for name, work in tasks.items():
                    group.create_task(work, name=name)

        self._owner = asyncio.get_running_loop().create_task(run(), name="engine-tasks")

    async def until(self, waiting: Awaitable[Any]) -> None:
        """Wait for `waiting`; if the tasks end first (one failed), raise what they raised."""
        if self._owner is None:
            raise RuntimeError("the engine's tasks are not started")
        wait = asyncio.ensure_future(waiting)
        try:
            await asyncio.wait({wait, self._owner}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            wait.cancel()
        if self._owner.done():
            # the tasks run until cancelled: ending on their own means one of them failed
            await self._owner
            raise RuntimeError("the engine's tasks ended")
        await wait

    async def aclose(self, timeout_s: float) -> None:
        owner, self._owner = self._owner, None
        if owner is None:
            return
        owner.cancel()
        done, _ = await asyncio.wait({owner}, timeout=timeout_s)
        if not done:
            log.error("engine tasks still running %.0f s after they were cancelled", timeout_s)
        elif not owner.cancelled() and owner.exception() is not None:
            log.error("an engine task had failed", exc_info=owner.exception())
