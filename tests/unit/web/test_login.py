"""Signing in: wrong or unknown → the same message and no session; the rate limit answers 429
with Retry-After even to the right password; an outdated hash is redone; hostile or malformed
input is a 4xx, never a 500; after sign-in the browser goes only to a local page."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from ivr.store.staff import Role, StaffStore
from ivr.web.sessions import COOKIE_NAME
from tests.support.console import PASSWORD, VirtualClock, add_member
from tests.unit.web.conftest import Client, sign_in, token_in

pytestmark = pytest.mark.unit

BAD = "ログインIDまたはパスワードが違います。"


def has_session(client: Client) -> bool:
    return any(c.key == COOKIE_NAME for c in client.session.cookie_jar)


@pytest.mark.parametrize(("login", "password"), [("agent1", "wrong password"), ("ghost", PASSWORD)])
async def test_a_wrong_password_or_unknown_id_gets_one_message_and_no_session(
    client: Client, engine: AsyncEngine, passwords: Passwords, login: str, password: str
) -> None:
    await add_member(engine, passwords, "agent1")
    answer = await sign_in(client, login, password)
    assert answer.status == 200
    assert BAD in await answer.text()
    assert not has_session(client)
    assert (await client.get("/agent", allow_redirects=False)).status == 303


async def test_a_disabled_member_cannot_sign_in(
    client: Client, engine: AsyncEngine, passwords: Passwords, clock: VirtualClock
) -> None:
    await add_member(engine, passwords, "agent1")
    await StaffStore(engine).set_disabled("agent1", True, clock.now)
    assert BAD in await (await sign_in(client, "agent1")).text()
    assert not has_session(client)


async def test_five_failures_lock_the_id_until_the_window_passes(
    client: Client, engine: AsyncEngine, passwords: Passwords, clock: VirtualClock
) -> None:
    await add_member(engine, passwords, "agent1")
    for _ in range(5):
        assert (await sign_in(client, "agent1", "wrong password")).status == 200
        clock.advance(1)
    locked = await sign_in(client, "Agent1")  # the right password, the same id in capitals
    assert locked.status == 429
    assert locked.headers["Retry-After"] == str(300 - 5)
    assert "295" in await locked.text()
    assert not has_session(client)
    clock.advance(300 - 5)
    assert (await sign_in(client, "agent1")).status == 303


async def test_an_outdated_hash_is_replaced_at_sign_in(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    old = Passwords(PasswordHasher(time_cost=1, memory_cost=512, parallelism=1))
    await add_member(engine, old, "agent1")
    store = StaffStore(engine)
    before = await store.credentials("agent1")
    assert (await sign_in(client, "agent1")).status == 303
    after = await store.credentials("agent1")
    assert before is not None
    assert after is not None
    assert after.password_hash != before.password_hash
    assert not passwords.hasher.check_needs_rehash(after.password_hash)


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({}, 400),
        ({"login": "agent1"}, 400),
        ({"login": "x" * 65, "password": PASSWORD}, 400),
        ({"login": "agent1", "password": "p" * 257}, 400),
        ({"login": "<script>alert(1)</script>", "password": PASSWORD}, 200),
        ({"login": "agent1' OR '1'='1", "password": "' OR '1'='1"}, 200),
    ],
)
async def test_hostile_fields_are_refused_politely(
    client: Client, engine: AsyncEngine, passwords: Passwords, fields: dict[str, str], status: int
) -> None:
    await add_member(engine, passwords, "agent1")
    token = token_in(await (await client.get("/login")).text())
    answer = await client.post("/login", data={"csrf_token": token, **fields})
    assert answer.status == status
    text = await answer.text()
    assert "<script>alert" not in text
    assert not has_session(client)


async def test_malformed_bodies_are_4xx(client: Client) -> None:
    token = token_in(await (await client.get("/login")).text())
    headers = {"X-CSRF-Token": token}
    huge = await client.post("/login", data={"login": "a" * 70_000}, headers=headers)
    assert huge.status == 413
    as_json = await client.post("/login", json={"login": "agent1"}, headers=headers)
    assert as_json.status == 400
    binary = await client.post(
        "/login",
        data=b"login=\xff\xfe&password=\xff",
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert binary.status in (200, 400)
    plain = await client.post(
        "/login", data="hello", headers={**headers, "Content-Type": "text/plain"}
    )
    assert plain.status == 400
    api = await client.post("/api/v1/me", data="x")
    assert api.status == 405


@pytest.mark.parametrize(
    ("asked", "lands"),
    [
        ("/supervisor", "/supervisor"),
        ("//evil.example/", "/agent"),
        ("https://evil.example/", "/agent"),
        ("/\\evil.example", "/agent"),
        ("", "/agent"),
    ],
)
async def test_after_sign_in_only_local_pages(
    client: Client, engine: AsyncEngine, passwords: Passwords, asked: str, lands: str
) -> None:
    await add_member(engine, passwords, "agent1", Role.AGENT)
    answer = await sign_in(client, "agent1", next=asked)
    assert answer.headers["Location"] == lands


async def test_the_login_page_speaks_the_asked_language(client: Client) -> None:
    english = await client.get("/login?lang=en")
    assert "Log-in ID" in await english.text()
    browser = await client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "Log-in ID" in await browser.text()
    default = await client.get("/login", headers={"Accept-Language": "fr"})
    assert "ログインID" in await default.text()
