"""Console sessions: a random key in an HttpOnly SameSite=Strict cookie, only its hash stored;
a new session at every sign-in; ended by log-out, idleness, age, disabling or a new password."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from ivr.store.staff import StaffStore
from ivr.store.tables import web_sessions
from ivr.web.sessions import COOKIE_NAME
from tests.support.console import PASSWORD, VirtualClock, add_member
from tests.unit.web.conftest import Client, page_token, sign_in

pytestmark = pytest.mark.unit


async def stored_hashes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return [r.key_hash for r in await conn.execute(sa.select(web_sessions.c.key_hash))]


def cookie_of(client: Client) -> str:
    for cookie in client.session.cookie_jar:
        if cookie.key == COOKIE_NAME:
            return cookie.value
    raise AssertionError("no session cookie")


async def is_signed_in(client: Client) -> bool:
    answer = await client.get("/agent", allow_redirects=False)
    return answer.status == 200


async def test_the_cookie_holds_a_random_key_and_the_table_its_hash(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    await add_member(engine, passwords, "agent1")
    answer = await sign_in(client, "agent1")
    set_cookie = next(
        v for v in answer.headers.getall("Set-Cookie") if v.startswith(COOKIE_NAME + "=")
    )
    assert "HttpOnly" in set_cookie
    assert "SameSite=Strict" in set_cookie
    key = cookie_of(client)
    assert len(key) >= 43
    assert await stored_hashes(engine) == [hashlib.sha256(key.encode()).hexdigest()]


async def test_log_out_deletes_the_session_and_the_old_cookie_opens_nothing(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    await add_member(engine, passwords, "agent1")
    await sign_in(client, "agent1")
    old_key = cookie_of(client)
    token = await page_token(client)
    out = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert (out.status, out.headers["Location"]) == (303, "/login")
    assert await stored_hashes(engine) == []
    client.session.cookie_jar.update_cookies({COOKIE_NAME: old_key})  # replayed by hand
    assert not await is_signed_in(client)
    api = await client.get("/api/v1/me")
    assert api.status == 401


async def test_each_sign_in_gets_a_new_session(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    await add_member(engine, passwords, "agent1")
    await sign_in(client, "agent1")
    first = cookie_of(client)
    # signing in again over a live session (the log-in form's own token is still in its cookie)
    pre_session = next(c.value for c in client.session.cookie_jar if c.key == "hotline_csrf")
    again = await client.post(
        "/login",
        data={"login": "agent1", "password": PASSWORD, "csrf_token": pre_session},
        allow_redirects=False,
    )
    assert again.status == 303
    second = cookie_of(client)
    assert first != second
    assert await stored_hashes(engine) == [hashlib.sha256(second.encode()).hexdigest()]


async def test_an_idle_session_expires_and_activity_keeps_it(
    client: Client, engine: AsyncEngine, passwords: Passwords, clock: VirtualClock
) -> None:
    await add_member(engine, passwords, "agent1")
    await sign_in(client, "agent1")
    for _ in range(3):  # 3 x 20 min of work, each under the 30 min idle timeout
        clock.advance(20 * 60)
        assert await is_signed_in(client)
    clock.advance(30 * 60 + 1)
    assert not await is_signed_in(client)
    assert await stored_hashes(engine) == []


async def test_every_session_ends_at_its_absolute_age(
    client: Client, engine: AsyncEngine, passwords: Passwords, clock: VirtualClock
) -> None:
    await add_member(engine, passwords, "agent1")
    await sign_in(client, "agent1")
    for _ in range(12 * 4 - 1):  # busy all day, a request every 15 minutes up to 11:45
        clock.advance(15 * 60)
        assert await is_signed_in(client)
    clock.advance(16 * 60)  # 12 hours and a minute after sign-in, 16 minutes after the last
    assert not await is_signed_in(client)


async def test_disabling_or_a_new_password_ends_the_session(
    client: Client, engine: AsyncEngine, passwords: Passwords, clock: VirtualClock
) -> None:
    await add_member(engine, passwords, "agent1")
    store = StaffStore(engine)
    await sign_in(client, "agent1")
    await store.set_disabled("agent1", True, clock.now)
    assert not await is_signed_in(client)
    await store.set_disabled("agent1", False, clock.now)
    await sign_in(client, "agent1")
    assert await is_signed_in(client)
    await store.set_password("agent1", await passwords.hash("another password"), clock.now)
    assert not await is_signed_in(client)


async def test_the_language_switch_is_kept_in_the_session(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    await add_member(engine, passwords, "agent1", language="ja")
    await sign_in(client, "agent1")
    assert "ログアウト" in await (await client.get("/agent")).text()
    token = await page_token(client)
    switched = await client.post(
        "/language", data={"csrf_token": token, "lang": "en", "next": "/agent"}
    )
    assert "Sign out" in await switched.text()
    assert (await (await client.get("/api/v1/me")).json())["language"] == "en"
