"""The OpenAPI document: every /api/v1 route of the app is in it with its role's security, and
it needs a session like the rest of the API."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.openapi import OPENAPI_PATH
from tests.support.console import add_member
from tests.unit.web.conftest import Client, sign_in

pytestmark = pytest.mark.unit


async def test_every_api_route_is_in_the_document(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    assert (await client.get(OPENAPI_PATH)).status == 401
    await add_member(engine, passwords, "agent1", Role.AGENT)
    await sign_in(client, "agent1")
    doc = await (await client.get(OPENAPI_PATH)).json()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    routes = {
        (r.method, r.resource.canonical)
        for r in client.app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith("/api/v1/")
        and r.method != "HEAD"
    }
    assert routes - {("GET", OPENAPI_PATH)} == documented
    put = doc["paths"]["/api/v1/agent/state"]["put"]
    assert {"session": [], "csrf": []} in put["security"]
    assert put["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FieldErrors"
    }
    params = doc["paths"]["/api/v1/accounts"]["get"]["parameters"]
    assert [p["name"] for p in params] == ["customer_number", "phone", "kana"]
