"""Per-member API tokens for /api/v1: a script sends `Authorization: Bearer <token>` (issued by
`hotline agents token`), needs no session and no CSRF token; a wrong, revoked or disabled
member's token is 401; a token opens the API only, never the pages; only its hash is stored."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from ivr.store.staff import Role, StaffStore
from ivr.store.tables import api_tokens
from ivr.store.tokens import ApiTokens, token_hash
from tests.support.console import VirtualClock, add_member
from tests.unit.web.conftest import Client

pytestmark = pytest.mark.unit


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def token(engine: AsyncEngine, passwords: Passwords, clock: VirtualClock) -> str:
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")
    issued = await ApiTokens(engine).issue("agent1", clock.now)
    assert issued is not None
    return issued


async def test_a_token_is_its_members_and_needs_no_session_or_csrf(
    client: Client, token: str, engine: AsyncEngine
) -> None:
    me = await client.get("/api/v1/me", headers=bearer(token))
    assert me.status == 200
    assert (await me.json())["login"] == "agent1"
    # a state change without a session cookie and without a CSRF token
    put = await client.put("/api/v1/agent/state", json={"status": "ready"}, headers=bearer(token))
    assert put.status == 200, await put.text()
    assert (await put.json())["status"] == "ready"
    async with engine.connect() as conn:
        [(stored,)] = (await conn.execute(sa.select(api_tokens.c.token_hash))).all()
    assert stored == token_hash(token)
    assert token not in stored


@pytest.mark.parametrize("header", ["Bearer hlt_wrong", "Bearer nothing", "Bearer " + "x" * 500])
async def test_a_wrong_token_is_401_not_a_session(client: Client, token: str, header: str) -> None:
    answer = await client.get("/api/v1/me", headers={"Authorization": header})
    assert answer.status == 401
    assert "token" in (await answer.json())["error"]


async def test_a_revoked_or_replaced_token_or_a_disabled_member_signs_nobody_in(
    client: Client, token: str, engine: AsyncEngine, clock: VirtualClock
) -> None:
    tokens = ApiTokens(engine)
    newer = await tokens.issue("agent1", clock.now)
    assert newer is not None
    assert (await client.get("/api/v1/me", headers=bearer(token))).status == 401
    assert (await client.get("/api/v1/me", headers=bearer(newer))).status == 200
    await StaffStore(engine).set_disabled("agent1", True, clock.now)
    assert (await client.get("/api/v1/me", headers=bearer(newer))).status == 401
    await StaffStore(engine).set_disabled("agent1", False, clock.now)
    assert await tokens.revoke("agent1") is True
    assert (await client.get("/api/v1/me", headers=bearer(newer))).status == 401


async def test_a_token_opens_the_api_only_not_the_pages(client: Client, token: str) -> None:
    page = await client.get("/agent", headers=bearer(token), allow_redirects=False)
    assert page.status == 303
    assert page.headers["Location"].startswith("/login")


async def test_a_token_keeps_its_members_role(
    client: Client, engine: AsyncEngine, passwords: Passwords, clock: VirtualClock
) -> None:
    await add_member(engine, passwords, "boss", Role.SUPERVISOR)
    boss = await ApiTokens(engine).issue("boss", clock.now)
    assert boss is not None
    assert (await client.get("/api/v1/me", headers=bearer(boss))).status == 200
    assert await ApiTokens(engine).issue("nobody", clock.now) is None
