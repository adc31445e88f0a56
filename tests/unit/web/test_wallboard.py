"""The wallboard through the console (no engine: today's figures from the database and the
console's own agent pool): a supervisor's page and API, an agent refused, the supervisor logging
an agent out and pausing them, bad input a 422, and opening a caller audited. Moving a waiting
caller is tested with the engine's queues (tests/unit/routing/test_move_to_queue.py, and with a
real call in tests/browser/test_wallboard_calls.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from aiohttp import WSMsgType
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.store.tables import audit_log, call_events, calls
from ivr.web.wallboard import WALLBOARD, render_board
from ivr.web.wallboard_model import AgentLine
from tests.support.console import VirtualClock, add_member
from tests.unit.web.conftest import Client, page_token, sign_in

pytestmark = pytest.mark.unit

BOARD = "/api/v1/wallboard"


@pytest.fixture
async def staff(engine: AsyncEngine, passwords: Passwords) -> None:
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")
    await add_member(engine, passwords, "boss", Role.SUPERVISOR)


async def test_an_agent_opens_no_wallboard(staff: None, client: Client) -> None:
    assert (await sign_in(client, "agent1")).status == 303
    for path in ("/supervisor/wallboard", BOARD):
        answer = await client.get(path, allow_redirects=False)
        assert answer.status == 403, path
    token = await page_token(client)
    answer = await client.put(
        BOARD + "/agents/agent1/state",
        json={"status": "logged_out"},
        headers={"X-CSRF-Token": token},
    )
    assert answer.status == 403


async def test_the_board_counts_todays_trail(
    staff: None, client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    start = clock.now - timedelta(minutes=2)
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(calls).values(
                id="c1", caller_kind="number", started_at=start, ended_at=clock.now
            )
        )
        for after, kind, data in (
            (5, "enqueued", {"queue": "general"}),
            (15, "answered", {"queue": "general", "agent": "agent1"}),
        ):
            await conn.execute(
                sa.insert(call_events).values(
                    call_id="c1", at=start + timedelta(seconds=after), kind=kind, data=data
                )
            )
    assert (await sign_in(client, "boss")).status == 303
    board = await (await client.get(BOARD)).json()
    total = board["queues"][0]
    assert (total["queue"], total["offered"], total["answered"], total["asa_s"]) == (
        "(all)",
        1,
        1,
        10.0,
    )
    assert total["service_level"] == 1.0
    assert board["service_level"]["formula"] == "A_T / (A + B)"
    page = await client.get("/supervisor/wallboard")
    text = await page.text()
    assert page.status == 200
    assert 'id="on-duty"' in text
    assert "A_T / (A + B)" in text
    assert "wallboard.js" in text
    assert "<script>" not in text


async def test_a_supervisor_logs_an_agent_out_and_pauses_them(staff: None, client: Client) -> None:
    # the agent signs in to the pool (logged out), the supervisor takes it from there
    assert (await sign_in(client, "agent1")).status == 303
    await client.post("/logout", data={"csrf_token": await page_token(client)})
    assert (await sign_in(client, "boss")).status == 303
    token = await page_token(client, "/supervisor/wallboard")
    path = BOARD + "/agents/agent1/state"
    answer = await client.put(
        path, json={"status": "paused", "reason": "lunch"}, headers={"X-CSRF-Token": token}
    )
    assert answer.status == 200
    [agent] = (await answer.json())["agents"]
    assert (agent["status"], agent["reason"]) == ("paused", "lunch")
    bad = await client.put(
        path, json={"status": "paused", "reason": "nap"}, headers={"X-CSRF-Token": token}
    )
    assert bad.status == 422
    assert "reason" in (await bad.json())["fields"]
    form = await client.post(
        "/supervisor/wallboard/agents/agent1/state",
        data={"csrf_token": token, "status": "logged_out"},
        allow_redirects=False,
    )
    assert form.status == 303
    [agent] = (await (await client.get(BOARD)).json())["agents"]
    assert agent["status"] == "logged_out"
    nobody = await client.put(
        BOARD + "/agents/ghost/state", json={"status": "ready"}, headers={"X-CSRF-Token": token}
    )
    assert nobody.status == 404
    no_csrf = await client.put(path, json={"status": "ready"})
    assert no_csrf.status == 403


async def test_opening_a_caller_is_audited(
    staff: None, client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(calls).values(
                id="c9", caller_kind="number", caller_e164="+81935821234", started_at=clock.now
            )
        )
    assert (await sign_in(client, "boss")).status == 303
    token = await page_token(client, "/supervisor/wallboard")
    answer = await client.post("/supervisor/wallboard/callers/c9/open", data={"csrf_token": token})
    assert answer.status == 200
    assert "+81935821234" in await answer.text()
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(audit_log.c.actor, audit_log.c.action, audit_log.c.call_id)
            )
        ).all()
    assert [tuple(r) for r in rows if r.action == "wallboard_open"] == [
        ("supervisor:boss", "wallboard_open", "c9")
    ]
    missing = await client.post(
        "/supervisor/wallboard/callers/nope/open", data={"csrf_token": token}
    )
    assert missing.status == 404


async def test_a_move_needs_a_configured_queue(staff: None, client: Client) -> None:
    assert (await sign_in(client, "boss")).status == 303
    token = await page_token(client, "/supervisor/wallboard")
    path = "/supervisor/wallboard/callers/c1/move"
    for queue in ("nowhere", ""):
        unknown = await client.post(path, data={"csrf_token": token, "queue": queue})
        assert unknown.status == 422
    no_csrf = await client.post(path, data={"queue": "general"})
    assert no_csrf.status == 403


async def test_listening_is_for_supervisors_and_needs_the_engine(
    staff: None, client: Client
) -> None:
    assert (await sign_in(client, "agent1")).status == 303
    token = await page_token(client)
    path = "/supervisor/wallboard/agents/agent1/listen"
    refused = await client.post(path, data={"csrf_token": token}, allow_redirects=False)
    assert refused.status == 403
    await client.post("/logout", data={"csrf_token": token})
    assert (await sign_in(client, "boss")).status == 303
    token = await page_token(client, "/supervisor/wallboard")
    no_csrf = await client.post(path, data={}, allow_redirects=False)
    assert no_csrf.status == 403
    # the console alone (`hotline console`) places no calls: a clear page, not an error
    answer = await client.post(path, data={"csrf_token": token}, allow_redirects=False)
    assert answer.status == 409
    text = await answer.text()
    assert 'data-reason="no_engine"' in text
    assert "通話エンジンが動いていない" in text
    missing = await client.post(
        "/supervisor/wallboard/agents/ghost/listen", data={"csrf_token": token}
    )
    assert missing.status == 404


async def test_an_agent_on_a_call_has_a_listen_button_and_a_held_caller_shows(
    staff: None, client: Client, clock: VirtualClock
) -> None:
    app = client.app
    assert app is not None
    board = await app[WALLBOARD].board()
    line = AgentLine(
        agent="agent1", status="on_call", reason=None, since=clock.now, pending=None, queues=[]
    )
    idle = line.model_copy(update={"agent": "agent2", "status": "ready"})
    held = board.model_copy(update={"agents": [line.model_copy(update={"on_hold": True}), idle]})
    html = render_board(app, held, "ja", "t0k")
    rows = html.split('data-agent="')
    [on_call] = [r for r in rows if r.startswith("agent1")]
    [ready] = [r for r in rows if r.startswith("agent2")]
    assert "/supervisor/wallboard/agents/agent1/listen" in on_call
    assert "聞く" in on_call
    assert "保留中" in on_call
    assert "listen" not in ready
    assert "保留中" not in ready
    talking = board.model_copy(update={"agents": [line]})
    assert "保留中" not in render_board(app, talking, "ja", "t0k")


async def test_the_console_stopping_closes_the_pages_and_one_connecting_then(
    staff: None, client: Client
) -> None:
    await sign_in(client, "boss")
    origin = str(client.make_url("/")).rstrip("/")
    page = await client.ws_connect("/supervisor/wallboard/ws", origin=origin)
    first = await page.receive(timeout=60)
    assert first.type is WSMsgType.TEXT
    assert first.json()["type"] == "board"
    await client.app.shutdown()
    assert (await page.receive(timeout=60)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert page.close_code == 1001
    # a page whose upgrade was under way as the console stopped is not left open (it would
    # hold the shutdown until aiohttp's timeout)
    late = await client.ws_connect("/supervisor/wallboard/ws", origin=origin)
    assert (await late.receive(timeout=60)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    assert late.close_code == 1001
    assert not client.app[WALLBOARD].pages
