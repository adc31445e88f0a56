"""The admin's staff page through aiohttp's test client: a member added with a first password
signs in; a changed endpoint and skills reach the engine's agent pool at once; disabling ends
the member's session and takes them out of the pool; a new password works and the old one
stops; field errors with nothing saved; every change audited without the password; agents and
supervisors refused; an admin cannot disable themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from ivr.store.staff import Role, StaffStore
from ivr.store.tables import audit_log
from ivr.web.app import create_app
from ivr.web.csrf import HEADER
from routing.agents import AgentPool
from tests.support.console import PASSWORD, VirtualClock, add_member, console_config
from tests.unit.web.conftest import Client, page_token, sign_in

pytestmark = pytest.mark.unit

NEW_PASSWORD = "another-long-secret"


@pytest.fixture
def pool() -> AgentPool:
    return AgentPool({})


@pytest.fixture
async def client(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords, pool: AgentPool
) -> AsyncIterator[Client]:
    await add_member(engine, passwords, "boss", Role.ADMIN, language="en")
    await add_member(engine, passwords, "sup", Role.SUPERVISOR)
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")
    app = create_app(console_config(), engine, clock, passwords=passwords, agents=pool)
    async with TestClient(TestServer(app)) as c:
        yield c


async def audited(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.reason)
            .where(audit_log.c.action.like("staff%"))
            .order_by(audit_log.c.id)
        )
        return [(r[0], r[1], r[2]) for r in rows]


async def test_an_added_member_signs_in_with_their_first_password(
    client: Client, engine: AsyncEngine, pool: AgentPool
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/staff")
    added = await client.post(
        "/admin/staff",
        data={
            "csrf_token": token,
            "login": "Tanaka",
            "display_name": "田中 花子",
            "role": "agent",
            "endpoint": "PJSIP/agent7",
            "skills": "moving, en",
            "language": "ja",
            "password": NEW_PASSWORD,
        },
        allow_redirects=False,
    )
    assert added.status == 303
    member = await StaffStore(engine).by_login("tanaka")
    assert member is not None
    assert (member.role, member.endpoint, member.skills) == (
        Role.AGENT,
        "PJSIP/agent7",
        ("moving", "en"),
    )
    assert pool.endpoint("tanaka") == "PJSIP/agent7"  # the next offer can ring them
    [row] = await audited(engine)
    assert row[:2] == ("admin:boss", "staff_add")
    assert NEW_PASSWORD not in row[2]
    client.session.cookie_jar.clear()
    signed = await sign_in(client, "tanaka", NEW_PASSWORD)
    assert (signed.status, signed.headers["Location"]) == (303, "/agent")


async def test_a_changed_endpoint_reaches_the_pool_and_disabling_signs_out(
    client: Client, engine: AsyncEngine, pool: AgentPool, passwords: Passwords
) -> None:
    await sign_in(client, "agent1")
    agent_cookies = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    assert (await client.get("/agent")).status == 200
    client.session.cookie_jar.clear()
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/staff")
    changed = await client.post(
        "/admin/staff/agent1",
        data={
            "csrf_token": token,
            "display_name": "Agent One",
            "role": "agent",
            "endpoint": "PJSIP/desk-12",
            "skills": "billing",
        },
        allow_redirects=False,
    )
    assert changed.status == 303
    assert pool.endpoint("agent1") == "PJSIP/desk-12"
    assert pool.profile("agent1").skills == ("billing",)
    disabled = await client.post(
        "/admin/staff/agent1/disable", data={"csrf_token": token}, allow_redirects=False
    )
    assert disabled.status == 303
    assert "agent1" not in pool
    member = await StaffStore(engine).by_login("agent1")
    assert member is not None
    assert member.disabled
    # the agent's session ended
    boss_cookies = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies(agent_cookies)
    assert (await client.get("/agent", allow_redirects=False)).status == 303
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies(boss_cookies)
    enabled = await client.post(
        "/admin/staff/agent1/enable", data={"csrf_token": token}, allow_redirects=False
    )
    assert enabled.status == 303
    assert [a for _, a, _ in await audited(engine)] == [
        "staff_change",
        "staff_disable",
        "staff_enable",
    ]


async def test_a_new_password_works_and_the_old_one_stops(
    client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/staff")
    short = await client.post(
        "/admin/staff/agent1/password", data={"csrf_token": token, "password": "short"}
    )
    assert short.status == 422
    assert 'id="e-p-agent1-password"' in await short.text()
    done = await client.post(
        "/admin/staff/agent1/password",
        data={"csrf_token": token, "password": NEW_PASSWORD},
        allow_redirects=False,
    )
    assert done.status == 303
    client.session.cookie_jar.clear()
    assert (await sign_in(client, "agent1", PASSWORD)).status != 303
    assert (await sign_in(client, "agent1", NEW_PASSWORD)).status == 303
    assert await audited(engine) == [("admin:boss", "staff_password", "agent1")]


async def test_field_errors_and_nothing_saved(client: Client, engine: AsyncEngine) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/staff")
    refused = await client.post(
        "/admin/staff",
        data={
            "csrf_token": token,
            "login": "agent1",
            "display_name": "",
            "role": "king",
            "endpoint": "0312345678",
            "skills": "Bad Skill",
            "language": "fr",
            "password": "x",
        },
    )
    assert refused.status == 422
    html = await refused.text()
    for name in ("role", "language", "password"):
        assert f'id="e-add-{name}"' in html, name
    taken = await client.post(
        "/admin/staff",
        data={
            "csrf_token": token,
            "login": "agent1",
            "display_name": "Again",
            "role": "agent",
            "endpoint": "0312345678",
            "skills": "",
            "language": "ja",
            "password": NEW_PASSWORD,
        },
    )
    assert taken.status == 422
    assert 'id="e-add-endpoint"' in await taken.text()
    changed = await client.post(
        "/admin/staff/agent1",
        data={"csrf_token": token, "display_name": " ", "role": "agent", "skills": "Bad Skill"},
    )
    assert changed.status == 422
    html = await changed.text()
    assert 'id="e-s-agent1-display_name"' in html
    assert 'id="e-s-agent1-skills"' in html
    assert len(await StaffStore(engine).all()) == 3
    assert await audited(engine) == []
    assert (
        await client.post("/admin/staff/nobody/disable", data={"csrf_token": token})
    ).status == 404


async def test_an_admin_cannot_lock_themselves_out(client: Client, engine: AsyncEngine) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/staff")
    refused = await client.post("/admin/staff/boss/disable", data={"csrf_token": token})
    assert refused.status == 422
    demoted = await client.post(
        "/admin/staff/boss",
        data={"csrf_token": token, "display_name": "Boss", "role": "agent", "skills": ""},
    )
    assert demoted.status == 422
    member = await StaffStore(engine).by_login("boss")
    assert member is not None
    assert (member.role, member.disabled) == (Role.ADMIN, False)


@pytest.mark.parametrize("login", ["sup", "agent1"])
async def test_only_admins_open_the_staff_page(client: Client, login: str) -> None:
    await sign_in(client, login)
    assert (await client.get("/admin/staff")).status == 403
    token = await page_token(client, "/agent")
    posted = await client.post("/admin/staff/agent1/disable", data={"csrf_token": token})
    assert posted.status == 403


async def test_a_change_without_the_csrf_token_is_refused(
    client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "boss")
    posted = await client.post("/admin/staff/agent1/disable", data={"csrf_token": "forged"})
    assert posted.status == 403
    member = await StaffStore(engine).by_login("agent1")
    assert member is not None
    assert not member.disabled


async def test_the_api_lists_changes_and_disables_staff(
    client: Client, engine: AsyncEngine, pool: AgentPool
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/staff")
    listed = await (await client.get("/api/v1/staff")).json()
    assert [m["login"] for m in listed["staff"]] == ["agent1", "boss", "sup"]
    assert all("password" not in str(m) for m in listed["staff"])
    body = {
        "login": "agent1",
        "display_name": "Agent One",
        "role": "supervisor",
        "endpoint": "PJSIP/desk-3",
        "skills": ["billing"],
    }
    changed = await client.post("/api/v1/staff/change", json=body, headers={HEADER: token})
    assert changed.status == 200
    assert (await changed.json())["role"] == "supervisor"
    assert pool.endpoint("agent1") == "PJSIP/desk-3"  # supervisors with a phone take calls
    refused = await client.post(
        "/api/v1/staff/change",
        json={**body, "endpoint": "0312345678", "skills": ["Bad Skill"]},
        headers={HEADER: token},
    )
    assert refused.status == 422
    assert set((await refused.json())["fields"]) == {"endpoint", "skills.0"}
    unknown = await client.post(
        "/api/v1/staff/change", json={**body, "login": "nobody"}, headers={HEADER: token}
    )
    assert (unknown.status, (await unknown.json())["fields"]) == (422, {"login": "unknown"})
    myself = await client.post(
        "/api/v1/staff/disable", json={"login": "boss", "disabled": True}, headers={HEADER: token}
    )
    assert myself.status == 422
    disabled = await client.post(
        "/api/v1/staff/disable", json={"login": "agent1", "disabled": True}, headers={HEADER: token}
    )
    assert (await disabled.json())["disabled"] is True
    assert "agent1" not in pool
    assert [a for _, a, _ in await audited(engine)] == ["staff_change", "staff_disable"]
