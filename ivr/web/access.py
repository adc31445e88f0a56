"""Who may open which route: every route declares a role, or that it is public; a route that
declares nothing is refused to everyone (deny by default).

`declare(app, route, access)` records a route's access when the route is added (`add_route`,
`add_static`). The access middleware looks the matched route up: public → through; no session →
a page redirects to `/login?next=...`, an `/api/` route answers 401 JSON; a role below the
route's → 403 (roles rank agent < supervisor < admin). Requests that match no route fall
through to aiohttp's 404 / 405.

An `/api/` request may instead carry a member's API token (`Authorization: Bearer ...`,
`ivr.store.tokens`): then it is that member's, whatever cookie it has, and a wrong token is 401.
A browser never sends such a header by itself, so these requests need no CSRF token
(`BEARER` marks them for the CSRF middleware).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Literal
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import AbstractRoute

from ivr.store.staff import Role
from ivr.store.tokens import ApiTokens
from ivr.web.context import console_of
from ivr.web.sessions import SIGNED_IN, SignedIn, load_signed_in

log = logging.getLogger(__name__)

Access = Role | Literal["public"]
PUBLIC: Literal["public"] = "public"
ACCESS = web.AppKey("access", dict[AbstractRoute, Access])
TOKENS = web.AppKey("api_tokens", ApiTokens)
BEARER = web.RequestKey("bearer", bool)

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def declare(app: web.Application, route: AbstractRoute, access: Access) -> AbstractRoute:
    app[ACCESS][route] = access
    return route


def add_route(
    app: web.Application,
    method: str,
    path: str,
    handler: RouteHandler,
    access: Access,
    *,
    name: str | None = None,
) -> AbstractRoute:
    """Add a route with the role it requires (or PUBLIC)."""
    return declare(app, app.router.add_route(method, path, handler, name=name), access)


def add_static(app: web.Application, prefix: str, path: str) -> None:
    """Public static assets (styles, scripts) served from `path`."""
    resource = app.router.add_static(prefix, path, append_version=True, name="static")
    for route in resource:
        declare(app, route, PUBLIC)


def bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def is_api(request: web.Request) -> bool:
    return request.path.startswith("/api/")


def login_redirect(request: web.Request) -> web.HTTPException:
    target = request.rel_url.path_qs if request.method == "GET" else "/"
    return web.HTTPSeeOther("/login?" + urlencode({"next": target}))


def not_signed_in(request: web.Request) -> web.HTTPException:
    if is_api(request):
        return web.HTTPUnauthorized(
            text='{"error": "not signed in"}', content_type="application/json"
        )
    return login_redirect(request)


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route
    if route.resource is None:  # no route matched: aiohttp's own 404 / 405
        return await handler(request)
    access = request.app[ACCESS].get(route)
    if access is None:
        log.error("route %s %s has no declared role: refused", route.method, route.resource)
        raise web.HTTPForbidden()
    if access == PUBLIC:
        return await handler(request)
    bearer = bearer_token(request)
    if bearer is not None and is_api(request):
        member = await request.app[TOKENS].member_of(bearer, console_of(request).clock())
        if member is None:
            raise web.HTTPUnauthorized(
                text='{"error": "unknown or revoked API token"}', content_type="application/json"
            )
        request[SIGNED_IN] = SignedIn(member, "", {})
        request[BEARER] = True
        if not member.role.allows(access):
            raise web.HTTPForbidden()
        return await handler(request)
    who = await load_signed_in(request)
    if who is None:
        raise not_signed_in(request)
    if not who.member.role.allows(access):
        raise web.HTTPForbidden()
    return await handler(request)
