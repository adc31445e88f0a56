"""Pages from the Jinja templates in `ivr/web/templates` (autoescaped), with what every page
uses: the translator `t`, the page language, who is signed in and the forms' CSRF token."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ivr.web.csrf import form_token
from ivr.web.i18n import language_of, translator
from ivr.web.sessions import signed_in


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    token: str | None = None,
) -> web.Response:
    lang = language_of(request)
    page: dict[str, Any] = {
        "t": translator(lang),
        "lang": lang,
        "who": signed_in(request),
        "csrf_token": token or form_token(request),
        "path": request.path,
    }
    page.update(context or {})
    return aiohttp_jinja2.render_template(template, request, page, status=status)
