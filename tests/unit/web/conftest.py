"""The console app on a fresh migrated SQLite file per test, a virtual clock and cheap argon2
parameters, driven through aiohttp's test client (a real HTTP server on a free port)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.db import open_engine
from ivr.store.passwords import Passwords
from ivr.web.app import create_app
from tests.support.console import (
    PASSWORD,
    VirtualClock,
    console_config,
    copy_database,
    make_template,
)

Client = TestClient[web.Request, web.Application]


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_template(tmp_path_factory.mktemp("template"))


@pytest.fixture
async def engine(template_db: Path, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    eng = open_engine(copy_database(template_db, tmp_path))
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def passwords() -> Passwords:
    return Passwords.for_tests()


@pytest.fixture
async def client(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> AsyncIterator[Client]:
    app = create_app(console_config(), engine, clock, passwords=passwords)
    async with TestClient(TestServer(app)) as c:
        yield c


TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_in(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def sign_in(
    client: Client, login: str, password: str = PASSWORD, **extra: str
) -> ClientResponse:
    page = await client.get("/login")
    token = token_in(await page.text())
    return await client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": token, **extra},
        allow_redirects=False,
    )


async def page_token(client: Client, path: str = "/agent") -> str:
    page = await client.get(path)
    assert page.status == 200
    return token_in(await page.text())
