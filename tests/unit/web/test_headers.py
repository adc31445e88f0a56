"""Security headers: our own scripts and styles only, no framing, no caching of pages or API
answers (static assets may be cached); assets are served by the console itself."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from tests.support.console import add_member
from tests.unit.web.conftest import Client, sign_in

pytestmark = pytest.mark.unit


async def test_pages_api_and_errors_carry_the_headers(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    await add_member(engine, passwords, "agent1")
    await sign_in(client, "agent1")
    for path in ("/login", "/agent", "/api/v1/me", "/admin", "/nowhere"):
        answer = await client.get(path, allow_redirects=False)
        csp = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp, path
        assert answer.headers["X-Frame-Options"] == "DENY", path
        assert answer.headers["X-Content-Type-Options"] == "nosniff", path
        assert answer.headers["Cache-Control"] == "no-store", path


async def test_the_style_sheet_is_served_locally_and_may_be_cached(client: Client) -> None:
    page = await (await client.get("/login")).text()
    assert "http://" not in page
    assert "https://" not in page
    css = await client.get("/static/console.css")
    assert css.status == 200
    assert css.content_type == "text/css"
    assert "no-store" not in css.headers.get("Cache-Control", "")
