"""The console app on a fresh migrated SQLite file per test, a virtual clock and cheap argon2
parameters, driven through aiohttp's test client (a real HTTP server on a free port)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.calls.flows import FlowRegistry
from ivr.config import AppConfig, parse_config
from ivr.store.db import open_engine
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.store.tables import audit_log
from ivr.web.app import create_app
from tests.support.console import (
    PASSWORD,
    VirtualClock,
    add_member,
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


@asynccontextmanager
async def admin_console(
    engine: AsyncEngine,
    clock: VirtualClock,
    passwords: Passwords,
    routing: Mapping[str, Any],
    *,
    flow_registry: Callable[[AppConfig], FlowRegistry] | None = None,
) -> AsyncIterator[Client]:
    """The console on config.yaml's `routing` section, with the staff the admin pages' tests
    sign in as: the admin `boss` and the agent `agent1` (in English) and the supervisor `sup`;
    `flow_registry` makes the engine's flows on that config (None: the console's own)."""
    await add_member(engine, passwords, "boss", Role.ADMIN, language="en")
    await add_member(engine, passwords, "sup", Role.SUPERVISOR)
    await add_member(engine, passwords, "agent1", Role.AGENT, language="en")
    config = parse_config({"console": {"port": 0}, "routing": dict(routing)}, {})
    registry = flow_registry(config) if flow_registry is not None else None
    app = create_app(config, engine, clock, passwords=passwords, flow_registry=registry)
    async with TestClient(TestServer(app)) as c:
        yield c


async def audited(engine: AsyncEngine, actions: str) -> list[tuple[str, str, str]]:
    """(actor, action, reason) of the audit rows whose action is like `actions` (SQL LIKE)."""
    async with engine.connect() as conn:
        found = await conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.reason)
            .where(audit_log.c.action.like(actions))
            .order_by(audit_log.c.id)
        )
        return [(r[0], r[1], r[2]) for r in found]
