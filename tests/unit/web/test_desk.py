"""The agent's state through the console's API and forms: ready, paused with a reason, logged
out; what is refused; what a sign-out and a restart of the console do to it."""

from __future__ import annotations

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.passwords import Passwords
from ivr.store.presence import PresenceStore
from ivr.store.staff import Role
from ivr.web.app import create_app
from ivr.web.context import CONSOLE
from tests.support.console import PASSWORD, T0, VirtualClock, add_member, console_config
from tests.unit.web.conftest import Client, page_token, sign_in, token_in

pytestmark = pytest.mark.unit

STATE = "/api/v1/agent/state"


@pytest.fixture
async def agent(engine: AsyncEngine, passwords: Passwords) -> None:
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")
    await add_member(engine, passwords, "boss", Role.SUPERVISOR)


async def signed_in_token(client: Client, login: str = "agent1") -> str:
    assert (await sign_in(client, login)).status == 303
    return await page_token(client)


async def put(client: Client, token: str | None, **body: object) -> tuple[int, dict[str, object]]:
    headers = {"X-CSRF-Token": token} if token else {}
    answer = await client.put(STATE, json=body, headers=headers)
    data = await answer.json()
    assert isinstance(data, dict)
    return answer.status, data


async def test_an_agent_signs_in_logged_out_and_chooses_ready(
    agent: None, client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    token = await signed_in_token(client)
    state = await (await client.get(STATE)).json()
    assert (state["status"], state["endpoint"]) == ("logged_out", "PJSIP/agent1")
    clock.advance(10)
    status, state = await put(client, token, status="ready")
    assert (status, state["status"], state["status_label"]) == (200, "ready", "受付可")
    stored = (await PresenceStore(engine).load())["agent1"]
    assert (stored.status, stored.since, stored.endpoint) == ("ready", clock.now, "PJSIP/agent1")
    clock.advance(65)
    status, state = await put(client, token, status="paused", reason="lunch")
    assert (state["status"], state["reason"], state["reason_label"]) == (
        "paused",
        "lunch",
        "昼休み",
    )
    clock.advance(125)
    page = await (await client.get("/agent")).text()
    assert 'id="state-elapsed">2:05<' in page
    assert "昼休み" in page
    events = await PresenceStore(engine).events("agent1")
    assert [(e.event, e.status, e.reason) for e in events] == [
        ("LogIn", "ready", None),
        ("Pause", "paused", "lunch"),
    ]


async def test_bad_input_is_a_422_with_the_field_and_changes_nothing(
    agent: None, client: Client, engine: AsyncEngine
) -> None:
    token = await signed_in_token(client)
    status, answer = await put(client, token, status="paused", reason="nap")
    assert status == 422
    assert "reason" in answer["fields"]  # type: ignore[operator]
    status, answer = await put(client, token, status="asleep")
    assert (status, list(answer["fields"])) == (422, ["status"])  # type: ignore[call-overload]
    status, answer = await put(client, token, status="ready", reason="lunch")
    assert (status, list(answer["fields"])) == (422, ["reason"])  # type: ignore[call-overload]
    status, answer = await put(client, token, status="ready", extra=1)
    assert (status, list(answer["fields"])) == (422, ["extra"])  # type: ignore[call-overload]
    bad_json = await client.put(
        STATE, data="{", headers={"X-CSRF-Token": token, "Content-Type": "application/json"}
    )
    assert bad_json.status == 422
    assert (await client.put(STATE, json={"status": "ready"})).status == 403  # no CSRF header
    assert (await (await client.get(STATE)).json())["status"] == "logged_out"
    assert await PresenceStore(engine).events() == []


async def test_the_forms_work_without_script(agent: None, client: Client) -> None:
    token = await signed_in_token(client)
    form = {"csrf_token": token, "status": "paused", "reason": "training"}
    answer = await client.post("/agent/state", data=form, allow_redirects=False)
    assert (answer.status, answer.headers["Location"]) == (303, "/agent")
    assert (await (await client.get(STATE)).json())["reason"] == "training"
    form["reason"] = "nap"
    assert (await client.post("/agent/state", data=form)).status == 400


async def test_signing_out_of_the_console_logs_out_of_the_queue(
    agent: None, client: Client, engine: AsyncEngine
) -> None:
    token = await signed_in_token(client)
    await put(client, token, status="ready")
    page = await (await client.get("/agent")).text()
    out = await client.post("/logout", data={"csrf_token": token_in(page)}, allow_redirects=False)
    assert out.status == 303
    assert (await PresenceStore(engine).load())["agent1"].status == "logged_out"


async def test_staff_without_a_phone_take_no_calls(agent: None, client: Client) -> None:
    token = await signed_in_token(client, "boss")
    assert (await client.get(STATE)).status == 409
    assert (await put(client, token, status="ready"))[0] == 409
    page = await (await client.get("/agent")).text()
    assert 'data-status="none"' in page


async def test_the_state_survives_a_restart_of_the_console(
    agent: None, engine: AsyncEngine, passwords: Passwords
) -> None:
    clock = VirtualClock()
    app = create_app(console_config(), engine, clock, passwords=passwords)
    async with TestClient(TestServer(app)) as first:
        token = await signed_in_token(first)
        clock.advance(30)
        await put(first, token, status="paused", reason="meeting")
    clock.advance(600)
    again = create_app(console_config(), engine, clock, passwords=passwords)
    async with TestClient(TestServer(again)) as second:
        await signed_in_token(second)
        state = await (await second.get(STATE)).json()
    assert (state["status"], state["reason"]) == ("paused", "meeting")
    assert state["since"] == (T0.replace(second=30)).isoformat()
    assert state["seconds"] == 600


async def trail_of(engine: AsyncEngine) -> list[tuple[str, str]]:
    return [(e.event, e.status) for e in await PresenceStore(engine).events("agent1")]


async def test_an_idle_session_that_expires_logs_the_agent_out_of_the_queue(
    agent: None, client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    token = await signed_in_token(client)
    await put(client, token, status="ready")
    clock.advance(1801)  # console.session_idle_s is 1800
    page = await client.get("/agent", allow_redirects=False)
    assert page.status in (302, 303)
    assert (await PresenceStore(engine).load())["agent1"].status == "logged_out"
    assert await trail_of(engine) == [("LogIn", "ready"), ("SessionExpired", "logged_out")]


async def test_a_session_nobody_uses_any_more_is_expired_by_the_sweep(
    agent: None, client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    token = await signed_in_token(client)
    await put(client, token, status="paused", reason="lunch")
    storage = client.app[CONSOLE].storage
    clock.advance(600)
    assert await storage.purge_expired() == 0  # ten minutes idle: still at the desk
    assert (await PresenceStore(engine).load())["agent1"].status == "paused"
    clock.advance(1300)  # the browser was closed: no request comes
    assert await storage.purge_expired() == 1
    assert (await PresenceStore(engine).load())["agent1"].status == "logged_out"
    assert await trail_of(engine) == [
        ("LogIn", "ready"),
        ("Pause", "paused"),
        ("SessionExpired", "logged_out"),
    ]


async def test_the_agent_signed_in_in_another_browser_stays_in_the_queue(
    agent: None, client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    token = await signed_in_token(client)
    await put(client, token, status="ready")
    clock.advance(1000)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as other:
        login_page = await (await other.get(client.make_url("/login"))).text()
        signed = await other.post(
            client.make_url("/login"),
            data={"login": "agent1", "password": PASSWORD, "csrf_token": token_in(login_page)},
            allow_redirects=False,
        )
        assert signed.status == 303
    clock.advance(1000)  # the first browser's session is idle past 30 minutes, not the other
    assert (await client.get("/agent", allow_redirects=False)).status in (302, 303)
    assert await client.app[CONSOLE].storage.purge_expired() == 0
    assert (await PresenceStore(engine).load())["agent1"].status == "ready"
    assert await trail_of(engine) == [("LogIn", "ready")]


async def test_a_phone_held_by_a_listen_may_not_go_ready_until_the_listen_ends(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> None:
    # a supervisor who takes calls listens to an agent's call from their phone: were they to
    # go ready, the queues would offer a call to a phone that is in the listen
    await add_member(engine, passwords, "boss", Role.SUPERVISOR, endpoint="PJSIP/boss")
    listens = {"PJSIP/boss"}
    app = create_app(
        console_config(),
        engine,
        clock,
        passwords=passwords,
        listening=lambda endpoint: endpoint in listens,
    )
    async with TestClient(TestServer(app)) as client:
        token = await signed_in_token(client, "boss")
        assert await put(client, token, status="ready") == (409, {"error": "listening"})
        # the form's way is refused too; pausing and logging out are not
        form = await client.post(
            "/agent/state", data={"status": "ready", "csrf_token": token}, allow_redirects=False
        )
        assert form.status == 409
        # and from the wallboard (a supervisor setting the state of an agent)
        board = await client.put(
            "/api/v1/wallboard/agents/boss/state",
            json={"status": "ready"},
            headers={"X-CSRF-Token": token},
        )
        assert (board.status, await board.json()) == (409, {"error": "listening"})
        status, state = await put(client, token, status="paused", reason="lunch")
        assert (status, state["status"]) == (200, "paused")
        page = await (await client.get("/agent")).text()
        assert "モニターを終えてから受付可にしてください" in page  # the page has the words
        listens.clear()  # the listen is over
        status, state = await put(client, token, status="ready")
        assert (status, state["status"]) == (200, "ready")
