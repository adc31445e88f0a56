"""Every state-changing request needs its CSRF token (form field or X-CSRF-Token header):
without it, or with another session's, 403 and nothing changes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from ivr.store.tables import web_sessions
from tests.support.console import PASSWORD, add_member
from tests.unit.web.conftest import Client, page_token, sign_in

pytestmark = pytest.mark.unit


async def sessions(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        n = await conn.execute(sa.select(sa.func.count()).select_from(web_sessions))
        return int(n.scalar() or 0)


@pytest.mark.parametrize("token", [None, "", "forged-token-of-the-right-length-0123456789ab"])
async def test_a_log_out_without_the_right_token_is_refused(
    client: Client, engine: AsyncEngine, passwords: Passwords, token: str | None
) -> None:
    await add_member(engine, passwords, "agent1")
    await sign_in(client, "agent1")
    data = {} if token is None else {"csrf_token": token}
    answer = await client.post("/logout", data=data, allow_redirects=False)
    assert answer.status == 403
    assert await sessions(engine) == 1
    assert (await client.get("/agent")).status == 200


async def test_the_header_or_the_field_carries_the_token(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    await add_member(engine, passwords, "agent1")
    await sign_in(client, "agent1")
    token = await page_token(client)
    switched = await client.post(
        "/language", data={"lang": "en"}, headers={"X-CSRF-Token": token}, allow_redirects=False
    )
    assert switched.status == 303
    out = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert out.status == 303
    assert await sessions(engine) == 0


async def test_the_login_form_needs_its_own_token(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    await add_member(engine, passwords, "agent1")
    blind = await client.post("/login", data={"login": "agent1", "password": PASSWORD})
    assert blind.status == 403
    assert await sessions(engine) == 0


async def test_another_sessions_token_does_not_work(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    await add_member(engine, passwords, "agent1")
    await sign_in(client, "agent1")
    old_token = await page_token(client)
    out = await client.post("/logout", data={"csrf_token": old_token}, allow_redirects=False)
    assert out.status == 303
    await sign_in(client, "agent1")
    stale = await client.post("/logout", data={"csrf_token": old_token}, allow_redirects=False)
    assert stale.status == 403
