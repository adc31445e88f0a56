"""CSRF protection: every state-changing request (POST, PUT, PATCH, DELETE) carries a token,
in the form field `csrf_token` or the `X-CSRF-Token` header, else it is refused with 403.

A signed-in request is checked against its session's token (made with the session, kept in the
database). The log-in form comes before any session: it is checked against a random token in a
SameSite=Strict cookie of its own that the form repeats (double submit), so another site cannot
sign a browser in as someone else either. Runs after the access middleware, so the session is
loaded already.
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler

from ivr.web.access import BEARER
from ivr.web.forms import FORM_TYPES, read_form
from ivr.web.sessions import signed_in

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
PRE_SESSION_COOKIE = "hotline_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def expected_token(request: web.Request) -> str | None:
    who = signed_in(request)
    if who is not None:
        return who.csrf_token
    return request.cookies.get(PRE_SESSION_COOKIE)


async def supplied_token(request: web.Request) -> str | None:
    header = request.headers.get(HEADER)
    if header:
        return header
    if request.content_type in FORM_TYPES:
        value = (await read_form(request)).get(FIELD)
        return value if isinstance(value, str) else None
    return None


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in SAFE_METHODS or request.match_info.route.resource is None:
        return await handler(request)
    if request.get(BEARER):
        # an API token in a header: nothing a browser sends by itself, so nothing to forge
        return await handler(request)
    expected = expected_token(request)
    supplied = await supplied_token(request)
    if not expected or not supplied or not hmac.compare_digest(expected, supplied):
        raise web.HTTPForbidden(reason="CSRF token missing or wrong")
    return await handler(request)


def form_token(request: web.Request) -> str:
    """The token a page's forms carry: the session's, or before sign-in the log-in form's own
    (`set_pre_session_token` puts it in its cookie)."""
    token = expected_token(request)
    if token is None or len(token) > 64:
        token = secrets.token_urlsafe(32)
    return token


def set_pre_session_token(response: web.StreamResponse, token: str, *, secure: bool) -> None:
    response.set_cookie(
        PRE_SESSION_COOKIE, token, httponly=True, samesite="Strict", secure=secure, path="/"
    )
