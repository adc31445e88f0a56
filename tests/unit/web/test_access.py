"""Every route declares who may open it: nothing without a session but the public few (pages
redirect to the log-in, the API answers 401), an agent cannot open supervisor or admin pages,
and a route without a declared role is refused even to an admin."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.access import ACCESS, PUBLIC
from ivr.web.app import create_app
from tests.support.console import VirtualClock, add_member, console_config
from tests.unit.web.conftest import Client, sign_in

pytestmark = pytest.mark.unit

PUBLIC_PATHS = {"/health", "/login"}


def concrete_path(resource: web.AbstractResource) -> str:
    info = resource.get_info()
    if "path" in info:
        return str(info["path"])
    if "prefix" in info:  # the static folder
        return f"{info['prefix']}/console.css"
    return str(info["formatter"]).replace("{", "").replace("}", "")


def every_route(app: web.Application) -> list[tuple[str, str, object]]:
    return [
        (route.method, concrete_path(route.resource), app[ACCESS][route])
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    ]


async def test_no_page_or_api_without_a_session(client: Client) -> None:
    routes = every_route(client.app)
    assert {path for _, path, access in routes if access == PUBLIC} == {
        *PUBLIC_PATHS,
        "/static/console.css",
    }
    assert len(routes) >= 9
    for method, path, access in routes:
        answer = await client.request(method, path, allow_redirects=False)
        if access == PUBLIC:
            assert answer.status in (200, 403), (method, path)  # POST /login: no CSRF token
        elif path.startswith("/api/"):
            assert answer.status == 401, (method, path)
            assert await answer.json() == {"error": "not signed in"}
        else:
            assert answer.status == 303, (method, path)
            assert answer.headers["Location"].startswith("/login?next="), (method, path)


async def test_a_page_asked_for_is_opened_after_sign_in(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    await add_member(engine, passwords, "boss", Role.SUPERVISOR)
    first = await client.get("/supervisor", allow_redirects=False)
    assert first.headers["Location"] == "/login?next=/supervisor"
    signed = await sign_in(client, "boss", next="/supervisor")
    assert signed.headers["Location"] == "/supervisor"


@pytest.mark.parametrize(
    ("role", "opens", "refused"),
    [
        (Role.AGENT, ["/agent", "/api/v1/me"], ["/supervisor", "/admin"]),
        (Role.SUPERVISOR, ["/agent", "/supervisor"], ["/admin"]),
        (Role.ADMIN, ["/agent", "/supervisor", "/admin"], []),
    ],
)
async def test_roles_open_their_pages_and_those_below(
    client: Client,
    engine: AsyncEngine,
    passwords: Passwords,
    role: Role,
    opens: list[str],
    refused: list[str],
) -> None:
    await add_member(engine, passwords, "someone", role)
    landing = await sign_in(client, "someone")
    assert landing.headers["Location"] == f"/{role.value}"
    for path in opens:
        assert (await client.get(path)).status == 200, path
    for path in refused:
        answer = await client.get(path)
        assert answer.status == 403, path
        assert "この画面を開く権限がありません" in await answer.text()


async def test_a_route_without_a_declared_role_is_refused(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> None:
    async def secret(_request: web.Request) -> web.Response:
        return web.Response(text="secret")

    app = create_app(console_config(), engine, clock, passwords=passwords)
    app.router.add_get("/forgotten", secret)  # added without declaring a role
    await add_member(engine, passwords, "root", Role.ADMIN)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/forgotten", allow_redirects=False)).status == 403
        await sign_in(client, "root")
        answer = await client.get("/forgotten")
        assert answer.status == 403
        assert "secret" not in await answer.text()


async def test_me_answers_who_is_signed_in(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    await add_member(engine, passwords, "agent1", endpoint="PJSIP/agent1", language="en")
    await sign_in(client, "agent1")
    me = await (await client.get("/api/v1/me")).json()
    assert {k: me[k] for k in ("login", "role", "endpoint", "language", "skills")} == {
        "login": "agent1",
        "role": "agent",
        "endpoint": "PJSIP/agent1",
        "language": "en",
        "skills": ["billing"],
    }
    assert len(me["csrf_token"]) >= 32


async def test_an_unknown_path_is_404_and_health_is_open(client: Client) -> None:
    assert (await client.get("/nowhere")).status == 404
    assert (await client.get("/api/v1/nowhere")).status == 404
    assert await (await client.get("/health")).json() == {"status": "ok"}
