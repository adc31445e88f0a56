"""Staff, console sessions and failed log-ins in the database (SQLite and PostgreSQL): what the
console and `hotline agents` rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.demo import DemoPhone, demo_staff
from ivr.store.passwords import Passwords
from ivr.store.staff import (
    FailureKey,
    LoginFailures,
    NewStaff,
    Role,
    StaffError,
    StaffStore,
    WebSessions,
)

pytestmark = pytest.mark.integration

T0 = datetime(2027, 2, 10, 1, 0, tzinfo=UTC)
AGENT = NewStaff("Agent1", "オペレーター 1", Role.AGENT, "PJSIP/agent1", ("moving", "en"), "ja")


async def test_a_member_is_stored_and_read_back(engine: AsyncEngine) -> None:
    store = StaffStore(engine)
    added = await store.add(AGENT, "hash-1", T0)
    assert added.login == "agent1"  # log-in ids are lower case
    assert (added.role, added.endpoint, added.skills) == (
        Role.AGENT,
        "PJSIP/agent1",
        ("moving", "en"),
    )
    assert added.created_at == added.updated_at == T0
    assert await store.by_id(added.id) == added
    creds = await store.credentials("agent1")
    assert creds is not None
    assert creds.password_hash == "hash-1"
    assert creds.member == added
    assert await store.by_login("nobody") is None


async def test_a_login_id_is_taken_once_and_must_be_valid(engine: AsyncEngine) -> None:
    store = StaffStore(engine)
    await store.add(AGENT, "h", T0)
    with pytest.raises(StaffError, match="already"):
        await store.add(NewStaff("AGENT1", "other", Role.ADMIN), "h", T0)
    with pytest.raises(StaffError, match="not a log-in id"):
        await store.add(NewStaff("a b", "x", Role.AGENT), "h", T0)
    with pytest.raises(StaffError, match="language"):
        await store.add(NewStaff("agent9", "x", Role.AGENT, language="fr"), "h", T0)
    assert [m.login for m in await store.all()] == ["agent1"]


async def test_a_new_password_or_disabling_ends_every_session(engine: AsyncEngine) -> None:
    store, sessions = StaffStore(engine), WebSessions(engine)
    member = await store.add(AGENT, "h", T0)
    await sessions.create("k1", member.id, "csrf1", {"lang": "en"}, T0)
    await sessions.create("k2", member.id, "csrf2", {}, T0)
    later = T0 + timedelta(minutes=1)
    assert await store.set_password("agent1", "h2", later)
    assert await sessions.count_of(member.id) == 0
    creds = await store.credentials("agent1")
    assert creds is not None
    assert (creds.password_hash, creds.member.updated_at) == ("h2", later)

    await sessions.create("k3", member.id, "csrf3", {}, later)
    await store.replace_hash(member.id, "h3", later)  # a rehash keeps the session
    assert await sessions.count_of(member.id) == 1
    assert await store.set_disabled("agent1", True, later)
    assert await sessions.count_of(member.id) == 0
    again = await store.by_login("agent1")
    assert again is not None
    assert again.disabled
    assert await store.set_disabled("agent1", False, later)
    assert not await store.set_password("nobody", "h", later)
    assert not await store.set_disabled("nobody", True, later)


async def test_sessions_are_read_with_their_member_and_expire(engine: AsyncEngine) -> None:
    store, sessions = StaffStore(engine), WebSessions(engine)
    member = await store.add(AGENT, "h", T0)
    await sessions.create("old", member.id, "c-old", {}, T0)
    await sessions.create("busy", member.id, "c-busy", {"lang": "ja"}, T0)
    await sessions.touch("busy", T0 + timedelta(minutes=40))
    await sessions.set_data("busy", {"lang": "en"})
    got = await sessions.get("busy")
    assert got is not None
    assert (got.member.login, got.csrf_token, dict(got.data)) == (
        "agent1",
        "c-busy",
        {"lang": "en"},
    )
    assert (got.created_at, got.last_seen_at) == (T0, T0 + timedelta(minutes=40))

    now = T0 + timedelta(minutes=45)
    removed = await sessions.delete_expired(
        idle_before=now - timedelta(minutes=30), created_before=now - timedelta(hours=12)
    )
    assert removed == 1
    assert await sessions.get("old") is None
    await sessions.delete("busy")
    assert await sessions.get("busy") is None


async def test_failures_are_counted_per_key_within_the_window(engine: AsyncEngine) -> None:
    failures = LoginFailures(engine)
    by_login, by_address = FailureKey("login", "agent1"), FailureKey("address", "127.0.0.1")
    for minute in range(3):
        await failures.record([by_login, by_address], T0 + timedelta(minutes=minute))
    assert await failures.since(by_login, T0) == [
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=2),
    ]
    await failures.clear(by_login)
    assert await failures.since(by_login, T0 - timedelta(hours=1)) == []
    assert len(await failures.since(by_address, T0 - timedelta(hours=1))) == 3
    assert await failures.purge(T0 + timedelta(minutes=2)) == 2
    assert len(await failures.since(by_address, T0 - timedelta(hours=1))) == 1


async def test_demo_staff_are_made_once_with_working_passwords(engine: AsyncEngine) -> None:
    store, passwords = StaffStore(engine), Passwords.for_tests()
    phones = [
        DemoPhone("agent1", "PJSIP/agent1", ("moving",)),
        DemoPhone("agent2", "PJSIP/agent2", ()),
    ]
    made = await demo_staff(store, phones, passwords, T0)
    assert [(m.login, m.role, m.endpoint) for m, _ in made] == [
        ("agent1", Role.AGENT, "PJSIP/agent1"),
        ("agent2", Role.AGENT, "PJSIP/agent2"),
        ("supervisor", Role.SUPERVISOR, None),
        ("admin", Role.ADMIN, None),
    ]
    assert len({pw for _, pw in made}) == 4  # each its own random password
    for member, password in made:
        creds = await store.credentials(member.login)
        assert creds is not None
        assert (await passwords.verify(creds.password_hash, password)).ok
    assert await demo_staff(store, phones, passwords, T0) == []  # never reset
