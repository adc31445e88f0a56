"""The agent's state on the console: ready, paused with a reason, logged out of the queue.

`GET /api/v1/agent/state` says where the signed-in agent is (with the time in that state and a
pause or log-out pending for the call they are on); `PUT /api/v1/agent/state` changes it
(`{"status": "ready" | "paused" | "logged_out", "reason": ...}`, the CSRF header required; bad
input is a 422 with the field errors). `POST /agent/state` is the same for the page's forms
without script. The agent page shows it server-rendered (templates/agent_state.html) and
static/agent-state.js keeps it current without a reload.

The state is the ACD's own: the desk moves the engine's `AgentPool` (the queues read it on every
offer) through its console verbs, and the change is answered once it is in the database (the
agent trail and presence, `ivr.adapters.agents`), so what the agent sees survives a restart.
Signing in to the console puts the agent into the pool with their staff endpoint and skills
(logged out or where they were: never ready by itself); signing out logs them out of the queue,
and so does their last session expiring (idle or absolute: nobody sits at the console), with
``SessionExpired`` on the agent trail.

Without an engine (`hotline console`, the browser tests) the console keeps a pool of its own on
the same tables: it restores from them at start and writes to them as the engine would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters.agents import DbAgentTrail, open_agent_pool, refresh_agent
from ivr.store.staff import Role, StaffMember
from ivr.web.access import BEARER, add_route
from ivr.web.context import CONSOLE, Clock
from ivr.web.forms import read_form, text_field
from ivr.web.i18n import language_of, translator
from ivr.web.sessions import DbSessionStorage, SignedIn, signed_in
from routing.agents import AgentPool, AgentView
from routing.config import PauseReason
from routing.policy import NO_ANSWER

log = logging.getLogger(__name__)

Chosen = Literal["ready", "paused", "logged_out"]

SESSION_EXPIRED = "SessionExpired"
SWEEP_EVERY_S = 60.0
"""How often sessions nobody uses are expired: idle time is written to the minute anyway
(`ivr.web.sessions.TOUCH_EVERY_S`), against a `console.session_idle_s` of half an hour."""


@dataclass
class Desk:
    """The console's hold on the agent pool: the engine's, or (standalone) its own."""

    reasons: Mapping[str, PauseReason]
    clock: Clock
    pool: AgentPool | None = None
    trail: DbAgentTrail | None = None
    own: bool = field(default=False)
    # whether a supervisor's listen holds this phone endpoint (`routing.listen`): its owner
    # may not go ready then, or the queues would offer a call to a phone that is in a listen
    listening: Callable[[str], bool] | None = None

    async def stored(self) -> None:
        if self.trail is not None and not await self.trail.flush():
            log.warning("agent state not yet in the database; it is written when it answers")


DESK = web.AppKey("desk", Desk)


def desk_of(request: web.Request) -> Desk:
    return request.app[DESK]


# ------------------------------------------------------------------------------ the API models

ReasonId = Annotated[str, Field(min_length=1, max_length=64)]


class StateChange(BaseModel):
    """What the agent asks for; `reason` (one of the configured pause reasons) only with
    `paused`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Chosen
    reason: ReasonId | None = None


class ReasonOption(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    label: str


class AgentStateView(BaseModel):
    """Where the signed-in agent is: `status` is the live one (offered, on_call, wrap_up
    included), `seconds` the time in it; `pending_*` a pause or log-out that waits for the call."""

    model_config = ConfigDict(frozen=True)

    agent: str
    endpoint: str
    status: str
    status_label: str
    reason: str | None
    reason_label: str | None
    since: str
    seconds: int
    pending_status: str | None
    pending_label: str | None
    reasons: list[ReasonOption]


class FieldErrors(BaseModel):
    error: str
    fields: dict[str, str]


# ------------------------------------------------------------------------------ reading


def reason_label(reason: str | None, reasons: Mapping[str, PauseReason], lang: str) -> str | None:
    if reason is None:
        return None
    if reason == NO_ANSWER:
        return translator(lang)("reason_no_answer")
    known = reasons.get(reason)
    if known is None:
        return reason
    return known.en if lang == "en" else known.ja


def format_elapsed(seconds: int) -> str:
    """Time in state as the page shows it: M:SS, or H:MM:SS from an hour on."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def state_view(desk: Desk, view: AgentView, lang: str) -> AgentStateView:
    t = translator(lang)
    pending = view.pending
    pending_label = None
    if pending is not None:
        what = t("state_" + pending.status)
        why = reason_label(pending.reason, desk.reasons, lang)
        pending_label = t("pending_after_call").format(state=f"{what} ({why})" if why else what)
    return AgentStateView(
        agent=view.id,
        endpoint=view.endpoint,
        status=view.status,
        status_label=t("state_" + view.status),
        reason=view.reason,
        reason_label=reason_label(view.reason, desk.reasons, lang),
        since=view.since.isoformat(),
        seconds=int((desk.clock() - view.since).total_seconds()),
        pending_status=pending.status if pending is not None else None,
        pending_label=pending_label,
        reasons=[
            ReasonOption(id=rid, label=r.en if lang == "en" else r.ja)
            for rid, r in desk.reasons.items()
        ],
    )


def my_view(request: web.Request) -> AgentView | None:
    """The signed-in member's pool entry, None when they take no calls (or no engine)."""
    who = signed_in(request)
    pool = desk_of(request).pool
    if who is None or pool is None:
        return None
    if request.get(BEARER) and who.member.login not in pool:
        # an API token does not sign in: its first call puts its member in the pool as a
        # sign-in does (logged out, or where they were)
        refresh_agent(pool, who.member)
    if who.member.login not in pool:
        return None
    return pool.view(who.member.login)


def page_context(request: web.Request) -> dict[str, Any]:
    """What templates/agent_state.html needs: the state, or why there is none."""
    view = my_view(request)
    if view is None:
        return {"agent_state": None}
    state = state_view(desk_of(request), view, language_of(request))
    return {"agent_state": state, "elapsed": format_elapsed(state.seconds)}


# ------------------------------------------------------------------------------ changing


def change(desk: Desk, login: str, wanted: StateChange) -> None:
    """Ask the pool for `wanted` (the agent's own page, or a supervisor's board). Ready is
    refused (409 `listening`) while a listen holds the agent's phone."""
    pool = desk.pool
    assert pool is not None  # noqa: S101 — my_view checked it
    if wanted.status == "ready":
        if desk.listening is not None and desk.listening(pool.view(login).endpoint):
            raise listening()
        pool.request_ready(login)
    elif wanted.status == "paused":
        pool.request_pause(login, wanted.reason or "")
    else:
        pool.request_log_out(login)


def field_errors(desk: Desk, body: Any) -> tuple[StateChange | None, dict[str, str]]:
    try:
        wanted = StateChange.model_validate(body)
    except ValidationError as exc:
        return None, {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in exc.errors()}
    if wanted.status == "paused" and wanted.reason not in desk.reasons:
        known = ", ".join(desk.reasons)
        return None, {"reason": f"a pause needs one of the reasons: {known}"}
    if wanted.status != "paused" and wanted.reason is not None:
        return None, {"reason": "a reason goes only with paused"}
    return wanted, {}


def json_answer(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=model.model_dump_json(), content_type="application/json"
    )


def no_agent() -> web.HTTPException:
    return web.HTTPConflict(
        text='{"error": "you take no calls: no phone endpoint, or no engine"}',
        content_type="application/json",
    )


def listening() -> web.HTTPException:
    return web.HTTPConflict(text='{"error": "listening"}', content_type="application/json")


async def get_state(request: web.Request) -> web.StreamResponse:
    view = my_view(request)
    if view is None:
        raise no_agent()
    return json_answer(state_view(desk_of(request), view, language_of(request)))


async def put_state(request: web.Request) -> web.StreamResponse:
    view = my_view(request)
    if view is None:
        raise no_agent()
    desk = desk_of(request)
    try:
        body = json.loads(await request.text())
    except (ValueError, RecursionError):
        # bad UTF-8, not JSON, or nested past the parser's depth: the body's fault, not ours
        return json_answer(FieldErrors(error="invalid", fields={"body": "not JSON"}), 422)
    wanted, errors = field_errors(desk, body)
    if wanted is None:
        return json_answer(FieldErrors(error="invalid", fields=errors), 422)
    change(desk, view.id, wanted)
    await desk.stored()
    return await get_state(request)


async def post_state(request: web.Request) -> web.StreamResponse:
    """The forms' way (no script): change, then back to the agent page."""
    view = my_view(request)
    if view is None:
        raise web.HTTPConflict(reason="you take no calls")
    desk = desk_of(request)
    form = await read_form(request)
    body = {"status": text_field(form, "status", 16)}
    reason = text_field(form, "reason", 64)
    if body["status"] == "paused":
        body["reason"] = reason
    wanted, errors = field_errors(desk, body)
    if wanted is None:
        raise web.HTTPBadRequest(reason="; ".join(errors.values()))
    change(desk, view.id, wanted)
    await desk.stored()
    raise web.HTTPSeeOther("/agent")


# ------------------------------------------------------------------------------ sign-in, sign-out


async def signed_in_hook(request: web.Request, member: StaffMember) -> None:
    """A member signed in: into the pool with their endpoint and skills (the state is kept:
    logged out, or where they were before; never ready by itself)."""
    pool = desk_of(request).pool
    if pool is not None:
        refresh_agent(pool, member)


async def signing_out_hook(request: web.Request) -> None:
    """Signing out of the console logs the agent out of the queue (after the call, if on one)."""
    who: SignedIn | None = signed_in(request)
    desk = desk_of(request)
    if who is not None and desk.pool is not None and who.member.login in desk.pool:
        desk.pool.request_log_out(who.member.login)
        await desk.stored()


async def session_expired(desk: Desk, login: str) -> None:
    """The member's last console session expired (idle or past its absolute limit): nobody
    sits at it, so no call may be offered to them; out of the queue (after the call, if on
    one), the agent trail saying why (``SessionExpired``)."""
    if desk.pool is None or login not in desk.pool:
        return
    if desk.pool.state(login).status == "logged_out" and desk.pool.pending(login) is None:
        return
    desk.pool.request_log_out(login, cause=SESSION_EXPIRED)
    log.info("a console session expired: its agent is logged out of the queue")
    await desk.stored()


async def sweep_sessions(storage: DbSessionStorage, every_s: float) -> None:
    """Expire the sessions nobody uses any more, every `every_s`, until cancelled (a closed
    browser sends no request that would expire its session)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            await storage.purge_expired()
        except Exception:
            log.exception("expiring the console sessions failed; the next round tries again")


# ------------------------------------------------------------------------------ setting up


def setup(
    app: web.Application,
    reasons: Mapping[str, PauseReason],
    db: AsyncEngine,
    clock: Clock,
    *,
    pool: AgentPool | None = None,
    trail: DbAgentTrail | None = None,
    listening: Callable[[str], bool] | None = None,
) -> None:
    """The desk on `pool` (the engine's, whose changes `trail` writes) or, without one, on a
    pool of its own built from the database when the app starts and flushed when it stops."""
    desk = Desk(reasons, clock, pool, trail, own=pool is None, listening=listening)
    app[DESK] = desk
    storage = app[CONSOLE].storage

    async def expired(login: str) -> None:
        await session_expired(desk, login)

    storage.on_expired.append(expired)
    sweeper: list[asyncio.Task[None]] = []

    async def start_sweeping(_app: web.Application) -> None:
        sweep = sweep_sessions(storage, SWEEP_EVERY_S)
        sweeper.append(asyncio.get_running_loop().create_task(sweep, name="console-sessions"))

    async def stop_sweeping(_app: web.Application) -> None:
        for task in sweeper:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.on_startup.append(start_sweeping)
    app.on_cleanup.append(stop_sweeping)
    if desk.own:

        async def start(_app: web.Application) -> None:
            desk.pool, desk.trail = await open_agent_pool(db, clock=clock)

        async def stop(_app: web.Application) -> None:
            if desk.trail is not None:
                await desk.trail.aclose()

        app.on_startup.append(start)
        app.on_cleanup.append(stop)
    add_route(app, "GET", "/api/v1/agent/state", get_state, Role.AGENT, name="api-agent-state")
    add_route(app, "PUT", "/api/v1/agent/state", put_state, Role.AGENT)
    add_route(app, "POST", "/agent/state", post_state, Role.AGENT, name="agent-state")
