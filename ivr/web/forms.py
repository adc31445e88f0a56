"""Reading a posted form at the edge: only url-encoded or multipart bodies, only text fields of
bounded length; anything else is a 400 (a body past `console.max_body_bytes` is aiohttp's 413)."""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

Form = MultiDictProxy[str | bytes | bytearray | web.FileField]

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


async def read_form(request: web.Request) -> Form:
    if request.content_type not in FORM_TYPES:
        raise web.HTTPBadRequest(reason="a form is expected")
    try:
        return await request.post()
    except (ValueError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(reason="the form could not be read") from exc


def text_field(form: Form, name: str, max_chars: int) -> str | None:
    """The field as text, or None when it is missing, not text, or longer than `max_chars`."""
    value = form.get(name)
    if not isinstance(value, str) or len(value) > max_chars:
        return None
    return value
