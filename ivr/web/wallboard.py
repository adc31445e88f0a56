"""The supervisor's wallboard: `/supervisor/wallboard` (the page), its live channel
`/supervisor/wallboard/ws`, `GET /api/v1/wallboard` (the same numbers as JSON), and the
supervisor's actions on it: log an agent out or pause them with a reason, move a waiting caller
to another queue (`routing.commands.CallDesk.move`), open a waiting caller (their number and
account, audited), and listen to an agent's call from the supervisor's phone (`routing.listen`,
audited).

`Wallboard` computes the `Board` (`ivr.web.wallboard_model`) from the database's call trail
(today's figures, `ivr.reports.today`) and the engine's live queues and agent pool. It is told of
every queue event and agent change (`poke`); its task then flushes the trail the engine still
batches, computes the board once and hands it to every open page, which swaps in the board
rendered for its language. Nothing waits on a browser: each page keeps only the newest board
(a slow page skips boards, it never holds the others up). Without events the board is still
recomputed every `TICK_S`, which rolls today over at midnight Tokyo time.

Without an engine (`hotline console`) there are no live queues: today's figures from the
database and the console's own agent pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
import sqlalchemy as sa
from aiohttp import WSCloseCode, web
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig
from ivr.reports.today import TodayTrail
from ivr.store.accounts import AuditContext, write_audit
from ivr.store.staff import Role
from ivr.store.tables import accounts, calls
from ivr.web import admin_duty
from ivr.web.access import add_route
from ivr.web.context import Clock, console_of
from ivr.web.csrf import form_token
from ivr.web.desk import DESK, Desk, FieldErrors, StateChange, change, field_errors, reason_label
from ivr.web.hub import same_origin
from ivr.web.i18n import language_of, translator
from ivr.web.openapi import ApiError, Operation, api_route, read_json
from ivr.web.pages import me
from ivr.web.render import render
from ivr.web.sessions import signed_in
from ivr.web.targets import TARGETS
from ivr.web.wallboard_duty import duty_rows
from ivr.web.wallboard_model import (
    NO_QUEUES,
    Board,
    LiveState,
    board_of,
    formula_of,
)
from ivr.web.wallboard_texts import TEXTS as WALL_TEXTS
from routing.agents import UnknownAgent
from routing.commands import CallDesk
from routing.listen import Listening
from routing.queues import QueueService

log = logging.getLogger(__name__)

TICK_S = 5.0
"""The board is recomputed at least this often (waits grow, the Tokyo day turns)."""
FLUSH_TIMEOUT_S = 1.0
"""How long the trail's flush may take before the board is computed from what is stored."""
SEND_TIMEOUT_S = 5.0
CLOSE_TIMEOUT_S = 2.0
MAX_INCOMING_BYTES = 1024
AUDIT_REASON = "wallboard: supervisor opened a waiting caller"
LISTEN_AUDIT_REASON = "wallboard: supervisor listened to a call"


@dataclass(frozen=True)
class LiveQueues:
    """The engine's side the board reads: its queues, the language a live caller chose, and
    the flush of the trail the recorder batches (so the database has every event told)."""

    queues: QueueService
    language_of: Callable[[str], str | None]
    flush_trail: Callable[[], Awaitable[object]] | None = None
    desk: CallDesk | None = None
    """Where a move to another queue is posted (the caller's session carries it out)."""
    held: Callable[[], frozenset[str]] | None = None
    """The calls whose caller is on hold now."""
    listening: Listening | None = None
    """Where a supervisor's listen to a call is started."""

    def state(self) -> LiveState:
        return LiveState(
            waiting={name: self.queues.waiting(name) for name in self.queues.config.queues},
            callbacks=self.queues.pending_callbacks(),
            language_of=self.language_of,
            held=self.held() if self.held is not None else frozenset(),
        )


@dataclass(eq=False)
class _Page:
    ws: web.WebSocketResponse
    lang: str
    token: str
    board: asyncio.Queue[Board] = field(default_factory=lambda: asyncio.Queue(1))

    def give(self, board: Board) -> None:
        with contextlib.suppress(asyncio.QueueEmpty):
            self.board.get_nowait()
        self.board.put_nowait(board)


class Wallboard:
    def __init__(
        self, config: AppConfig, db: AsyncEngine, clock: Clock, live: LiveQueues | None = None
    ) -> None:
        reports = config.reports
        self.config = config
        self.db = db
        self.clock = clock
        self.live = live
        self.today = TodayTrail(
            db, answer_s=reports.answer_s, short_abandon_s=reports.short_abandon_s
        )
        self.formula = formula_of(reports.headline, reports.answer_s, reports.short_abandon_s)
        self.queue_skills = {name: frozenset(q.skills) for name, q in config.routing.queues.items()}
        self.desk: Desk | None = None
        self.pages: set[_Page] = set()
        self.closed = False
        """The console is stopping: a page that connects now is closed at once."""
        self._poked = asyncio.Event()
        self._lock = asyncio.Lock()
        self.last: Board | None = None

    def poke(self, _event: object = None) -> None:
        """Something changed (a queue event, an agent's state): recompute soon."""
        self._poked.set()

    async def board(self) -> Board:
        async with self._lock:  # one reader of the trail's cache at a time
            if self.live is not None and self.live.flush_trail is not None:
                try:
                    async with asyncio.timeout(FLUSH_TIMEOUT_S):
                        await self.live.flush_trail()
                except TimeoutError:
                    log.warning("the trail was not flushed in time; the board shows what is stored")
            now = self.clock()
            today = await self.today.figures(now)
            live = self.live.state() if self.live is not None else NO_QUEUES
            pool = self.desk.pool if self.desk is not None else None
            agents = pool.snapshot() if pool is not None else []
            self.last = board_of(today, live, agents, self.queue_skills, self.formula, now)
            return self.last

    async def run(self) -> None:
        """Recompute on every poke (and every `TICK_S`) while pages are open."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):
                    await self._poked.wait()
            self._poked.clear()
            if not self.pages:
                continue
            try:
                board = await self.board()
            except Exception:
                log.exception("the wallboard could not be computed; tried again at the next event")
                continue
            for page in list(self.pages):
                page.give(board)


WALLBOARD = web.AppKey("wallboard", Wallboard)


# ------------------------------------------------------------------------------ rendering


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    minutes, secs = divmod(max(0, round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def fmt_share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def board_context(app: web.Application, board: Board, lang: str, token: str) -> dict[str, Any]:
    desk = app[DESK]
    return {
        "board": board,
        "w": translator(lang, WALL_TEXTS),
        "lang": lang,
        "csrf_token": token,
        "reasons": [(rid, r.en if lang == "en" else r.ja) for rid, r in desk.reasons.items()],
        "reason_label": lambda reason: reason_label(reason, desk.reasons, lang),
        "duration": fmt_duration,
        "share": fmt_share,
        "queues": list(app[WALLBOARD].queue_skills),
    }


def render_board(app: web.Application, board: Board, lang: str, token: str) -> str:
    template = aiohttp_jinja2.get_env(app).get_template("wallboard_board.html")
    return template.render(board_context(app, board, lang, token))


# ------------------------------------------------------------------------------ the routes


async def wallboard_page(request: web.Request) -> web.StreamResponse:
    board = await request.app[WALLBOARD].board()
    lang = language_of(request)
    steps, kept = await admin_duty.tonight(request.app[admin_duty.DESK])
    leak = request.app[admin_duty.DESK].config.calls.emergency_department
    department = next(
        (d.label(lang) for d in await request.app[TARGETS].departments() if d.code == leak), leak
    )
    staff = await console_of(request).staff.all()
    return render(
        request,
        "wallboard.html",
        {
            "member": me(request).member,
            "w": translator(lang, WALL_TEXTS),
            "board_html": render_board(request.app, board, lang, form_token(request)),
            "duty": duty_rows(steps, staff),
            "duty_department": department,
            "duty_changed": None
            if kept is None
            else f"{admin_duty.tokyo_time(kept.updated_at)} ({kept.updated_by})",
        },
    )


async def get_board(request: web.Request) -> web.StreamResponse:
    board = await request.app[WALLBOARD].board()
    return web.Response(text=board.model_dump_json(), content_type="application/json")


async def live(request: web.Request) -> web.StreamResponse:
    who = signed_in(request)
    if who is None:
        raise web.HTTPUnauthorized()
    if not same_origin(request):
        raise web.HTTPForbidden(reason="cross-origin WebSocket")
    wallboard = request.app[WALLBOARD]
    ws = web.WebSocketResponse(heartbeat=15.0, max_msg_size=MAX_INCOMING_BYTES)
    if not ws.can_prepare(request).ok:
        raise web.HTTPBadRequest(reason="WebSocket upgrade expected")
    await ws.prepare(request)
    page = _Page(ws, language_of(request), who.csrf_token)
    page.give(await wallboard.board())
    if wallboard.closed:
        # connected while the console stopped, after its pages were closed: it would hold
        # the shutdown until its timeout
        await ws.close(code=WSCloseCode.GOING_AWAY)
        return ws
    wallboard.pages.add(page)
    sender = asyncio.create_task(_send(request.app, page), name="wallboard-ws")
    try:
        async for _ in ws:
            pass
    finally:
        wallboard.pages.discard(page)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
    return ws


async def _send(app: web.Application, page: _Page) -> None:
    while True:
        board = await page.board.get()
        text = render_board(app, board, page.lang, page.token)
        try:
            async with asyncio.timeout(SEND_TIMEOUT_S):
                await page.ws.send_json({"type": "board", "html": text, "at": board.at.isoformat()})
        except (TimeoutError, ConnectionError):
            # a page that does not read: cut it, it reconnects and gets the newest board
            await page.ws.close()
            return


def _agent_of(request: web.Request) -> str:
    agent = request.match_info["agent"]
    pool = request.app[DESK].pool
    if pool is None or agent not in pool:
        raise web.HTTPNotFound(reason="no such agent")
    return agent


async def _apply(request: web.Request, agent: str, wanted: StateChange) -> None:
    desk = request.app[DESK]
    try:
        change(desk, agent, wanted)
    except UnknownAgent:
        raise web.HTTPNotFound(reason="no such agent") from None
    log.info("a supervisor set an agent's state to %s", wanted.status)
    await desk.stored()
    request.app[WALLBOARD].poke()


async def post_agent_state(request: web.Request) -> web.StreamResponse:
    """The board's forms: log out, pause with a reason, ready (no script needed)."""
    agent = _agent_of(request)
    form = await request.post()
    body = {"status": form.get("status")}
    if form.get("reason"):
        body["reason"] = form.get("reason")
    wanted, errors = field_errors(request.app[DESK], body)
    if wanted is None:
        raise web.HTTPUnprocessableEntity(text="; ".join(f"{k}: {v}" for k, v in errors.items()))
    await _apply(request, agent, wanted)
    raise web.HTTPSeeOther("/supervisor/wallboard")


async def put_agent_state(request: web.Request) -> web.StreamResponse:
    agent = _agent_of(request)
    wanted = await read_json(request, StateChange)
    checked, errors = field_errors(request.app[DESK], wanted.model_dump(exclude_none=True))
    if checked is None:
        answer = FieldErrors(error="invalid", fields=errors)
        return web.Response(
            status=422, text=answer.model_dump_json(), content_type="application/json"
        )
    await _apply(request, agent, checked)
    return await get_board(request)


async def open_caller(request: web.Request) -> web.StreamResponse:
    """A waiting caller's number and account, for the supervisor who asks (audited)."""
    call_id = request.match_info["call_id"][:64]
    wallboard = request.app[WALLBOARD]
    who = me(request)
    now = wallboard.clock()
    async with wallboard.db.begin() as conn:
        row = (
            await conn.execute(
                sa.select(calls.c.caller_e164, calls.c.account_id, calls.c.ended_at).where(
                    calls.c.id == call_id
                )
            )
        ).first()
        if row is None:
            raise web.HTTPNotFound(reason="no such call")
        number = None
        if row.account_id is not None:
            number = (
                await conn.execute(
                    sa.select(accounts.c.customer_number).where(accounts.c.id == row.account_id)
                )
            ).scalar()
        ctx = AuditContext(f"supervisor:{who.member.login}", AUDIT_REASON, call_id)
        await conn.run_sync(write_audit, ctx, "wallboard_open", [row.account_id], now)
    lang = language_of(request)
    caller = row.caller_e164
    return render(
        request,
        "wallboard_caller.html",
        {
            "member": who.member,
            "w": translator(lang, WALL_TEXTS),
            "call_id": call_id,
            "caller": caller,
            "customer_number": number,
            "ended": row.ended_at is not None,
        },
    )


async def move_caller(request: web.Request) -> web.StreamResponse:
    """Move a waiting caller to another queue (form field `queue`): posted into the call's
    session, which leaves the holding bridge for the other queue's and keeps its place by the
    time it first joined; the trail says `moved` then `enqueued`. 409 with the reason when the
    call is not waiting any more or the queue does not take it now."""
    call_id = request.match_info["call_id"][:64]
    form = await request.post()
    queue = form.get("queue")
    wallboard = request.app[WALLBOARD]
    if not isinstance(queue, str) or queue not in wallboard.queue_skills:
        raise web.HTTPUnprocessableEntity(text="queue: one of the configured queues")
    live = wallboard.live
    if live is None or live.desk is None:
        raise web.HTTPConflict(text="no_engine")
    waiting = live.state().waiting
    if not any(c.call_id == call_id for calls in waiting.values() for c in calls):
        raise web.HTTPConflict(text="not_waiting")
    reply = await live.desk.move(f"supervisor:{me(request).member.login}", call_id, queue)
    if reply != "ok":
        raise web.HTTPConflict(text=reply)
    log.info("a supervisor moved a waiting caller to another queue")
    wallboard.poke()
    raise web.HTTPSeeOther("/supervisor/wallboard")


async def listen_call(request: web.Request) -> web.StreamResponse:
    """Listen to the call an agent is talking on, from the supervisor's own phone (spy only:
    `routing.listen`). Audited: who listened to which call, when. 409 with the reason when the
    agent is on no call, the supervisor has no phone or the engine does not run."""
    agent = _agent_of(request)
    wallboard = request.app[WALLBOARD]
    live = wallboard.live
    if live is None or live.listening is None:
        return _refused(request, "no_engine")
    who = me(request).member
    call_id = live.listening.call_of(agent)
    reply = await live.listening.start(agent, who.endpoint, who.login)
    if reply != "ok" or call_id is None:
        return _refused(request, reply)
    log.info("a supervisor listens to an agent's call")
    async with wallboard.db.begin() as conn:
        ctx = AuditContext(f"supervisor:{who.login}", LISTEN_AUDIT_REASON, call_id)
        await conn.run_sync(write_audit, ctx, "wallboard_listen", [None], wallboard.clock())
    raise web.HTTPSeeOther("/supervisor/wallboard")


def _refused(request: web.Request, reason: str) -> web.Response:
    lang = language_of(request)
    return render(
        request,
        "wallboard_listen.html",
        {"member": me(request).member, "w": translator(lang, WALL_TEXTS), "reason": reason},
        status=409,
    )


async def _start(app: web.Application) -> None:
    wallboard = app[WALLBOARD]
    pool = app[DESK].pool
    wallboard.desk = app[DESK]
    if pool is not None:
        pool.listen(wallboard.poke)
    task = asyncio.create_task(wallboard.run(), name="wallboard")
    app[_TASK] = task


async def _close_pages(app: web.Application) -> None:
    """At shutdown: the pages' connections end (their handlers return), as the hub's do."""
    app[WALLBOARD].closed = True
    for page in list(app[WALLBOARD].pages):
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await page.ws.close(code=WSCloseCode.GOING_AWAY)


async def _stop(app: web.Application) -> None:
    task = app[_TASK]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


_TASK = web.AppKey("wallboard_task", asyncio.Task[None])


def add_wallboard(
    app: web.Application,
    config: AppConfig,
    db: AsyncEngine,
    clock: Clock,
    wallboard: Wallboard | None = None,
) -> None:
    """The wallboard's routes on `wallboard` (the engine's, told of its queue events; without
    one, a board of today's figures and the console's pool). After `desk.setup`."""
    board = wallboard or Wallboard(config, db, clock)
    board.desk = app[DESK]
    app[WALLBOARD] = board
    add_route(
        app, "GET", "/supervisor/wallboard", wallboard_page, Role.SUPERVISOR, name="wallboard"
    )
    add_route(app, "GET", "/supervisor/wallboard/ws", live, Role.SUPERVISOR, name="wallboard_ws")
    add_route(
        app,
        "POST",
        "/supervisor/wallboard/agents/{agent}/state",
        post_agent_state,
        Role.SUPERVISOR,
    )
    add_route(
        app, "POST", "/supervisor/wallboard/callers/{call_id}/open", open_caller, Role.SUPERVISOR
    )
    add_route(
        app, "POST", "/supervisor/wallboard/callers/{call_id}/move", move_caller, Role.SUPERVISOR
    )
    add_route(
        app, "POST", "/supervisor/wallboard/agents/{agent}/listen", listen_call, Role.SUPERVISOR
    )
    api_route(
        app,
        Operation(
            "GET",
            "/api/v1/wallboard",
            Role.SUPERVISOR,
            "getWallboard",
            "The wallboard: per queue and in total, now and today",
            {200: Board},
            description=(
                "Callers waiting, longest wait, callbacks waiting, agents by state, and today's "
                "(since midnight Asia/Tokyo) offered / answered / abandoned / service level / "
                "ASA from the call trail. `service_level` states the formula."
            ),
            tags=("wallboard",),
        ),
        get_board,
    )
    api_route(
        app,
        Operation(
            "PUT",
            "/api/v1/wallboard/agents/{agent}/state",
            Role.SUPERVISOR,
            "setAgentState",
            "A supervisor logs an agent out, pauses them with a reason or makes them ready",
            # 409 `listening`: a listen holds the agent's phone, ready is refused
            {200: Board, 409: ApiError},
            body=StateChange,
            tags=("wallboard",),
        ),
        put_agent_state,
    )
    app.on_startup.append(_start)
    app.on_shutdown.append(_close_pages)
    app.on_cleanup.append(_stop)
