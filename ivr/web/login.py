"""Signing in and out: `GET /login` (the form), `POST /login`, `POST /logout`.

A log-in is refused with 429 while its id or its address is over the rate limit
(ivr.web.ratelimit), before the password is looked at. An unknown or disabled id costs the same
argon2 work as a wrong password, and both get the same message, so neither the answer nor its
time tells which ids exist. A right password whose hash has outdated parameters is hashed anew.
Success starts a new session (ivr.web.sessions) and goes to the page asked for, or the member's
landing page. Log-in ids and addresses never go into log text.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ivr.store.passwords import MAX_PASSWORD_CHARS
from ivr.store.staff import Role, StaffMember, normalise_login
from ivr.web import desk
from ivr.web.access import PUBLIC, add_route
from ivr.web.context import console_of
from ivr.web.csrf import form_token, set_pre_session_token
from ivr.web.forms import read_form, text_field
from ivr.web.render import render
from ivr.web.sessions import begin_session, end_session, load_signed_in

log = logging.getLogger(__name__)

MAX_LOGIN_CHARS = 64
MAX_NEXT_CHARS = 500

LANDING = {Role.AGENT: "/agent", Role.SUPERVISOR: "/supervisor", Role.ADMIN: "/admin"}


def landing(member: StaffMember) -> str:
    return LANDING[member.role]


def safe_next(target: str | None) -> str | None:
    """A local path to go back to after sign-in (never another site: no `//host`, no scheme)."""
    if (
        not target
        or len(target) > MAX_NEXT_CHARS
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(c in target for c in "\r\n\\")
    ):
        return None
    return target


def login_page(
    request: web.Request, *, next_path: str, error: str = "", seconds: int = 0, status: int = 200
) -> web.Response:
    token = form_token(request)
    response = render(
        request,
        "login.html",
        {"next": next_path, "error": error, "seconds": seconds},
        status=status,
        token=token,
    )
    set_pre_session_token(response, token, secure=console_of(request).config.secure_cookie)
    return response


async def show_login(request: web.Request) -> web.StreamResponse:
    who = await load_signed_in(request)
    if who is not None:
        raise web.HTTPSeeOther(landing(who.member))
    return login_page(request, next_path=safe_next(request.query.get("next")) or "")


async def sign_in(request: web.Request) -> web.StreamResponse:
    console = console_of(request)
    form = await read_form(request)
    next_path = safe_next(text_field(form, "next", MAX_NEXT_CHARS)) or ""
    typed = text_field(form, "login", MAX_LOGIN_CHARS)
    password = text_field(form, "password", MAX_PASSWORD_CHARS)
    if not typed or not password:
        return login_page(request, next_path=next_path, error="missing_fields", status=400)
    login = normalise_login(typed) or typed.strip().lower()
    address = request.remote or "-"
    wait = await console.throttle.retry_after(login, address)
    if wait is not None:
        log.warning("console log-in refused: too many failures")
        response = login_page(
            request, next_path=next_path, error="too_many", seconds=wait, status=429
        )
        response.headers["Retry-After"] = str(wait)
        return response
    member = await _check(request, login, password)
    if member is None:
        await console.throttle.failed(login, address)
        log.info("console log-in failed")
        return login_page(request, next_path=next_path, error="bad_login")
    await console.throttle.succeeded(login)
    await console.throttle.purge()
    await console.storage.purge_expired()
    await begin_session(request, console.storage, member)
    await desk.signed_in_hook(request, member)
    log.info("console log-in: staff id %d", member.id)
    raise web.HTTPSeeOther(next_path or landing(member))


async def _check(request: web.Request, login: str, password: str) -> StaffMember | None:
    """The member whose password this is, or None (same work for an unknown id)."""
    console = console_of(request)
    creds = await console.staff.credentials(login) if normalise_login(login) else None
    if creds is None or creds.member.disabled:
        await console.passwords.check_unknown(password)
        return None
    verdict = await console.passwords.verify(creds.password_hash, password)
    if not verdict.ok:
        return None
    if verdict.new_hash is not None:
        await console.staff.replace_hash(creds.member.id, verdict.new_hash, console.clock())
    return creds.member


async def sign_out(request: web.Request) -> web.StreamResponse:
    await desk.signing_out_hook(request)
    await end_session(request)
    raise web.HTTPSeeOther("/login")


def add_routes(app: web.Application) -> None:
    add_route(app, "GET", "/login", show_login, PUBLIC, name="login")
    add_route(app, "POST", "/login", sign_in, PUBLIC)
    add_route(app, "POST", "/logout", sign_out, Role.AGENT, name="logout")
