"""Pathologically nested JSON bodies on every JSON route of the console: a 422 naming the body
or the field, never a 500 (Python's parser raises RecursionError past its depth)."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from ivr.store.presence import PresenceStore
from ivr.store.staff import Role
from tests.support.console import add_member
from tests.unit.web.conftest import Client, sign_in

pytestmark = pytest.mark.unit

# deeper than the parser's recursion limit, and still within console.max_body_bytes (64 KiB)
DEPTH = 30_000
TOO_DEEP = "[" * DEPTH + "]" * DEPTH
# within the parser's depth: the model sees the nesting where a string should be
DEEP_FIELD = "[" * 500 + "]" * 500

ROUTES = [
    ("PUT", "/api/v1/agent/state"),
    ("POST", "/api/v1/intake"),
    ("POST", "/api/v1/agent/wrap-up"),
    ("POST", "/api/v1/calls/c1/transfer"),
]


@pytest.fixture
async def token(engine: AsyncEngine, passwords: Passwords, client: Client) -> str:
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")
    assert (await sign_in(client, "agent1")).status == 303
    me = await (await client.get("/api/v1/me")).json()
    return str(me["csrf_token"])


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_nesting_past_the_parsers_depth_is_a_422(
    token: str, client: Client, engine: AsyncEngine, method: str, path: str
) -> None:
    assert len(TOO_DEEP) < 65536
    headers = {"X-CSRF-Token": token, "Content-Type": "application/json"}
    for body in (TOO_DEEP, '{"status": ' + TOO_DEEP[: 2 * DEPTH - 20] + "]" * 10 + "}"):
        answer = await client.request(method, path, data=body, headers=headers)
        assert answer.status == 422, body[:20]
        data = await answer.json()
        assert data["error"] == "invalid"
        assert "body" in data["fields"]
    assert await PresenceStore(engine).events() == []


async def test_deep_nesting_in_a_field_is_that_fields_error(token: str, client: Client) -> None:
    headers = {"X-CSRF-Token": token, "Content-Type": "application/json"}
    state = await client.put(
        "/api/v1/agent/state", data='{"status": ' + DEEP_FIELD + "}", headers=headers
    )
    assert (state.status, list((await state.json())["fields"])) == (422, ["status"])
    intake = await client.post(
        "/api/v1/intake",
        data='{"kind": "stop", "fields": {"stop_date": ' + DEEP_FIELD + "}}",
        headers=headers,
    )
    assert intake.status == 422
    assert (await intake.json())["fields"]["stop_date"] == "invalid"
