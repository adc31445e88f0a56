"""`create_app`: the console's aiohttp application on the engine's database and a clock.

Middlewares, outermost first: error pages, aiohttp-session on our database storage, access
(every route's declared role), CSRF. Security headers are added to every answer as it is sent.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiohttp_session import session_middleware
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters.agents import DbAgentTrail
from ivr.adapters.notices import NoticeDesk
from ivr.calls.flows import FlowRegistry
from ivr.config import AppConfig
from ivr.domain import utc_now
from ivr.intake.service import IntakeService
from ivr.store.passwords import Passwords
from ivr.store.staff import LoginFailures, StaffStore, WebSessions
from ivr.store.staff_admin import StaffAdmin
from ivr.store.tokens import ApiTokens
from ivr.web import (
    admin_departments,
    admin_duty,
    admin_staff,
    api,
    calls,
    cases,
    desk,
    flows,
    intake_forms,
    knowledge,
    login,
    notices,
    openapi,
    pages,
    report,
    search,
    targets,
)
from ivr.web.access import ACCESS, TOKENS, access_middleware, add_static
from ivr.web.calls import refusal_texts
from ivr.web.context import CONSOLE, Clock, Console
from ivr.web.csrf import csrf_middleware
from ivr.web.errors import errors_middleware
from ivr.web.headers import STATIC_PREFIX, add_security_headers
from ivr.web.hub import Hub, add_pop_routes
from ivr.web.ratelimit import LoginThrottle
from ivr.web.sessions import DbSessionStorage
from ivr.web.wallboard import Wallboard, add_wallboard
from routing.agents import AgentPool

HERE = Path(__file__).parent

# aiohttp-session 2.12 keeps its session on the request under a str key, which aiohttp warns
# about on every request; the library's own business (pyproject's pytest filter says the same)
warnings.filterwarnings("ignore", category=web.NotAppKeyWarning, module="aiohttp_session")


def create_app(
    config: AppConfig,
    db: AsyncEngine,
    clock: Clock = utc_now,
    *,
    passwords: Passwords | None = None,
    agents: AgentPool | None = None,
    agent_trail: DbAgentTrail | None = None,
    intake: IntakeService | None = None,
    hub: Hub | None = None,
    controls: calls.CallControls | None = None,
    notice_desk: NoticeDesk | None = None,
    flow_registry: FlowRegistry | None = None,
    board: Wallboard | None = None,
    listening: Callable[[str], bool] | None = None,
) -> web.Application:
    """The console on `db` (migrated); `clock` decides session expiry and the rate limit's
    window; `passwords` defaults to argon2's standard parameters. `agents` is the engine's agent
    pool and `agent_trail` what writes its changes (`ivr.adapters.agents.open_agent_pool`);
    without them the console keeps a pool of its own on the database (`ivr.web.desk`). `hub`
    is where the engine pushes the agents' live messages (`ivr.web.feed`); without one the
    pages' live channel is open but nothing is pushed on it. `notice_desk` is the engine's
    (`ivr.adapters.notices`; it tells the engine's notice board of a change at once); without
    one the admin's notices page renders with a desk of its own. `flow_registry` is the
    engine's live flows (the admin's flows page; without one, the console's own). `board` is
    the engine's wallboard (`ivr.web.wallboard`, told of its queue events); without one the
    wallboard shows today's figures and the console's own pool. `listening` says whether a
    supervisor's listen holds a phone endpoint (`routing.listen.Listening.listens_on`): its
    owner may not go ready meanwhile."""
    cfg = config.console
    sessions = WebSessions(db)
    storage = DbSessionStorage(sessions, cfg, clock)
    app = web.Application(
        client_max_size=cfg.max_body_bytes,
        middlewares=[
            errors_middleware,
            session_middleware(storage),
            access_middleware,
            csrf_middleware,
        ],
    )
    app[ACCESS] = {}
    app[TOKENS] = ApiTokens(db)
    app[CONSOLE] = Console(
        config=cfg,
        staff=StaffStore(db),
        sessions=sessions,
        passwords=passwords or Passwords(),
        throttle=LoginThrottle(LoginFailures(db), cfg, clock),
        clock=clock,
        storage=storage,
    )
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    aiohttp_jinja2.get_env(app).globals["refusal_texts"] = refusal_texts
    add_static(app, STATIC_PREFIX, str(HERE / "static"))
    for module in (login, pages, api):
        module.add_routes(app)
    desk.setup(
        app,
        config.routing.pause_reasons,
        db,
        clock,
        pool=agents,
        trail=agent_trail,
        listening=listening,
    )
    search.setup(app, db, clock)
    intake_forms.setup(app, db, clock, intake=intake)
    notices.setup(app, config, db, clock, desk=notice_desk)
    add_wallboard(app, config, db, clock, board)
    calls.setup(app, config.routing, controls)
    flows.setup(app, config, clock, registry=flow_registry, db=db)
    # before the pages that offer the departments (transfers, complaints, the FAQ)
    targets.setup(app, config, db)
    cases.setup(app, config, db, clock)
    admin_duty.setup(app, config, db, clock)
    admin_departments.setup(app, config, db, clock)
    admin_staff.setup(app, StaffAdmin(db))
    knowledge.setup(app, config, db, clock)
    report.setup(app, config, db, clock)
    openapi.setup(app)
    add_pop_routes(app, hub or Hub(clock))
    app.on_response_prepare.append(add_security_headers)
    return app
