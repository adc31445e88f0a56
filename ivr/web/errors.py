"""Error answers: an HTTP error becomes a page in the visitor's language (HTML routes) or
`{"error": ...}` (under `/api/`), keeping the exception's own headers (Retry-After, Allow);
anything unexpected is logged with its traceback and answered 500 without detail. Redirects and
successes pass untouched (they may carry the session cookie)."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from ivr.web.access import is_api
from ivr.web.render import render

log = logging.getLogger(__name__)

KNOWN = frozenset({400, 403, 404, 405, 413, 429, 500})
# the exception's headers a rendered error answer keeps
KEPT_HEADERS = ("Retry-After", "Allow", "Set-Cookie")


def error_response(request: web.Request, status: int, reason: str = "") -> web.Response:
    if is_api(request):
        text = json.dumps({"error": reason or str(status)})
        return web.Response(status=status, text=text, content_type="application/json")
    key = f"error_{status}" if status in KNOWN else "error_other"
    return render(request, "error.html", {"status": status, "message_key": key}, status=status)


def _from_exception(request: web.Request, exc: web.HTTPException) -> web.Response:
    if exc.content_type == "application/json" and exc.text:
        response = web.Response(status=exc.status, text=exc.text, content_type="application/json")
    else:
        response = error_response(request, exc.status, exc.reason)
    for name in KEPT_HEADERS:
        for value in exc.headers.getall(name, ()):
            response.headers.add(name, value)
    return response


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _from_exception(request, exc)
    except Exception:
        # the route's pattern, not the path: a path may carry an id
        resource = request.match_info.route.resource
        where = resource.canonical if resource is not None else "-"
        log.exception("console request failed: %s %s", request.method, where)
        return error_response(request, 500)
