"""`serve_console` listens while its context is open, on a free port when asked for port 0, and
is gone when the context closes."""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from ivr.web.server import serve_console
from tests.support.console import VirtualClock, console_config

pytestmark = pytest.mark.unit


async def test_served_while_open_and_gone_after(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> None:
    async with aiohttp.ClientSession() as http:
        async with serve_console(
            console_config(port=0), engine, clock=clock, passwords=passwords
        ) as site:
            assert site.port > 0
            async with http.get(site.url + "/health") as answer:
                assert await answer.json() == {"status": "ok"}
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.get(site.url + "/health"):
                pass
