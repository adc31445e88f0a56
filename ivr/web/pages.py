"""The landing pages: `/agent` (every role), `/supervisor` (supervisors and admins), `/admin`
(admins), `/` (the member's own landing page) and the language switch (`POST /language`).

They show who is signed in, their role, phone endpoint, skills and language, the agent's state
in the queue (ready / paused / logged out, `ivr.web.desk`), and for supervisors and admins the
staff.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp_session import get_session

from ivr.store.staff import Role, StaffMember
from ivr.web.access import add_route
from ivr.web.context import console_of
from ivr.web.desk import page_context
from ivr.web.forms import read_form, text_field
from ivr.web.i18n import LANGUAGES
from ivr.web.login import landing, safe_next
from ivr.web.render import render
from ivr.web.sessions import SignedIn, signed_in
from ivr.web.targets import transfer_departments


def me(request: web.Request) -> SignedIn:
    who = signed_in(request)
    if who is None:  # the access middleware let a signed-out request through: never
        raise web.HTTPUnauthorized()
    return who


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther(landing(me(request).member))


async def agent_page(request: web.Request) -> web.StreamResponse:
    return render(
        request,
        "agent.html",
        {
            "member": me(request).member,
            **page_context(request),
            "transfer_departments": await transfer_departments(request),
        },
    )


async def supervisor_page(request: web.Request) -> web.StreamResponse:
    staff = await console_of(request).staff.all()
    agents = [m for m in staff if m.role is Role.AGENT]
    return render(request, "supervisor.html", {"member": me(request).member, "agents": agents})


async def admin_page(request: web.Request) -> web.StreamResponse:
    staff: list[StaffMember] = await console_of(request).staff.all()
    return render(request, "admin.html", {"member": me(request).member, "staff": staff})


async def switch_language(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    lang = text_field(form, "lang", 8)
    if lang not in LANGUAGES:
        raise web.HTTPBadRequest(reason="unknown language")
    session = await get_session(request)
    session["lang"] = lang
    back = safe_next(text_field(form, "next", 500))
    raise web.HTTPSeeOther(back or landing(me(request).member))


def add_routes(app: web.Application) -> None:
    add_route(app, "GET", "/", home, Role.AGENT, name="home")
    add_route(app, "GET", "/agent", agent_page, Role.AGENT, name="agent")
    add_route(app, "GET", "/supervisor", supervisor_page, Role.SUPERVISOR, name="supervisor")
    add_route(app, "GET", "/admin", admin_page, Role.ADMIN, name="admin")
    add_route(app, "POST", "/language", switch_language, Role.AGENT, name="language")
