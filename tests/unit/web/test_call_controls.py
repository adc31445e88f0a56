"""The call controls' REST routes: reject, wrap-up, hold and transfers reach the engine's desk and
wrap-ups; bad input is a 422 with the field, a call not in that state a 409 with its code, no
CSRF header a 403, and without an engine a 409 `no_engine`."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import get_args

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.calls.handle import CallCommand
from ivr.config import parse_config
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.app import create_app
from ivr.web.calls import CallControls
from routing.agents import AgentPool, AgentProfile
from routing.commands import CallDesk, Hold, Refusal, StaffCommand, Transfer
from routing.model import WrapUpEvent
from routing.wrapup import WrapUps
from tests.support.console import VirtualClock, add_member, console_config
from tests.unit.web.conftest import Client, page_token, sign_in

pytestmark = pytest.mark.unit


class Engine:
    def __init__(self, clock: VirtualClock) -> None:
        self.pool = AgentPool({"agent1": AgentProfile("PJSIP/agent1")}, clock=clock)
        self.trail: list[WrapUpEvent] = []
        self.posted: list[tuple[str, CallCommand]] = []
        self.desk = CallDesk(self.pool)
        self.desk.bind(self.post)
        codes = console_config().routing.wrap_up_codes
        self.wrap_ups = WrapUps(self.pool, codes, self.trail.append, clock=clock)

    def post(self, call_id: str, command: CallCommand) -> bool:
        self.posted.append((call_id, command))
        assert isinstance(command, StaffCommand)
        command.answer("ok")
        return True


@pytest.fixture
async def rig(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> AsyncIterator[tuple[Client, Engine, str]]:
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")
    fake = Engine(clock)
    app = create_app(
        console_config(),
        engine,
        clock,
        passwords=passwords,
        agents=fake.pool,
        controls=CallControls(fake.desk, fake.wrap_ups),
    )
    async with TestClient(TestServer(app)) as client:
        assert (await sign_in(client, "agent1")).status == 303
        yield client, fake, await page_token(client)


async def post(client: Client, path: str, token: str | None, body: object) -> tuple[int, object]:
    headers = {"X-CSRF-Token": token} if token else {}
    answer = await client.post(path, json=body, headers=headers)
    return answer.status, await answer.json()


async def test_a_wrap_up_code_is_recorded_with_its_notes_and_ends_wrap_up(
    rig: tuple[Client, Engine, str],
) -> None:
    client, fake, token = rig
    pool = fake.pool
    pool.log_in("agent1")
    pool.offer("agent1", "c1")
    pool.answered("agent1")
    fake.wrap_ups.begin("agent1", "c1", "general", 30)
    path = "/api/v1/agent/wrap-up"
    assert (await post(client, path, None, {"call_id": "c1", "reason": "billing"}))[0] == 403
    assert await post(client, path, token, {"call_id": "c1"}) == (
        422,
        {"error": "invalid", "fields": {"reason": "required"}},
    )
    status, data = await post(client, path, token, {"call_id": "c1", "reason": "nope"})
    assert (status, data) == (422, {"error": "invalid", "fields": {"reason": "invalid"}})
    assert pool.state("agent1").status == "wrap_up"
    assert fake.trail == []
    body = {"call_id": "c1", "reason": "billing", "notes": "bill of April"}
    assert await post(client, path, token, body) == (200, {"result": "ok"})
    assert pool.state("agent1").status == "ready"
    assert [(w.reason, w.notes, w.agent_id) for w in fake.trail] == [
        ("billing", "bill of April", "agent1")
    ]
    # another call than the agent's last is refused
    assert await post(client, path, token, {"call_id": "c9", "reason": "billing"}) == (
        409,
        {"error": "no_call"},
    )


async def test_transfers_reach_the_call_and_bad_input_does_not(
    rig: tuple[Client, Engine, str],
) -> None:
    client, fake, token = rig
    path = "/api/v1/calls/c1/transfer"
    both = {"to_department": "works", "to_queue": "general"}
    status, data = await post(client, path, token, both)
    assert status == 422
    assert fake.posted == []
    assert await post(client, path, token, {"to_department": "works"}) == (
        409,
        {"error": "not_on_call"},
    )
    fake.pool.log_in("agent1")
    fake.pool.offer("agent1", "c1")
    fake.pool.answered("agent1")
    body = {"to_department": "works", "mode": "attended"}
    assert await post(client, path, token, body) == (200, {"result": "ok"})
    [(call_id, command)] = fake.posted
    assert isinstance(command, Transfer)
    assert (call_id, command.kind, command.target, command.mode) == (
        "c1",
        "department",
        "works",
        "attended",
    )
    assert await post(client, path + "/complete", token, {}) == (
        409,
        {"error": "no_consultation"},
    )
    assert await post(client, "/api/v1/agent/reject", token, {}) == (409, {"error": "not_ringing"})


async def test_hold_and_resume_reach_the_agents_own_call_only(
    rig: tuple[Client, Engine, str],
) -> None:
    client, fake, token = rig
    hold, resume = "/api/v1/calls/c1/hold", "/api/v1/calls/c1/resume"
    # no CSRF header: refused before anything reaches the call
    assert (await post(client, hold, None, {}))[0] == 403
    # the agent is on no call, or on another one than the path names
    assert await post(client, hold, token, {}) == (409, {"error": "not_on_call"})
    fake.pool.log_in("agent1")
    fake.pool.offer("agent1", "c1")
    fake.pool.answered("agent1")
    assert await post(client, "/api/v1/calls/c2/hold", token, {}) == (
        409,
        {"error": "not_on_call"},
    )
    assert fake.posted == []
    assert await post(client, hold, token, {}) == (200, {"result": "ok"})
    assert await post(client, resume, token, {}) == (200, {"result": "ok"})
    assert [(c, type(m), m.on) for c, m in fake.posted if isinstance(m, Hold)] == [
        ("c1", Hold, True),
        ("c1", Hold, False),
    ]
    # the API's description lists both
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert {"/api/v1/calls/{call_id}/hold", "/api/v1/calls/{call_id}/resume"} <= set(spec["paths"])


async def test_without_an_engine_the_call_controls_say_so(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")
    assert (await sign_in(client, "agent1")).status == 303
    token = await page_token(client)
    assert await post(client, "/api/v1/agent/reject", token, {}) == (409, {"error": "no_engine"})


async def test_transfer_targets_are_shown_by_their_labels_in_the_agents_language(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> None:
    routing = {
        "queues": {
            "general": {"calendar": "phone", "label": {"ja": "総合窓口", "en": "General desk"}},
            "billing": {"calendar": "phone"},
        },
        "departments": {
            "emergency_duty": {"on_duty": ["PJSIP/onduty"]},
            "construction": {
                "endpoint": "PJSIP/dept",
                "label": {"ja": "工事課", "en": "Construction works"},
            },
        },
    }
    config = parse_config({"console": {"port": 0}, "routing": routing}, {})
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")
    await add_member(engine, passwords, "anna", Role.AGENT, endpoint="PJSIP/agent2", language="en")
    app = create_app(config, engine, clock, passwords=passwords)
    async with TestClient(TestServer(app)) as client:
        assert (await sign_in(client, "agent1")).status == 303
        page = await (await client.get("/agent")).text()
        assert '<option value="queue:general">総合窓口</option>' in page
        assert '<option value="department:construction">工事課</option>' in page
        # no label configured: the key is all there is to show
        assert '<option value="queue:billing">billing</option>' in page
    async with TestClient(TestServer(create_app(config, engine, clock, passwords=passwords))) as c:
        assert (await sign_in(c, "anna")).status == 303
        page = await (await c.get("/agent")).text()
        assert '<option value="queue:general">General desk</option>' in page
        assert '<option value="department:construction">Construction works</option>' in page


@pytest.mark.parametrize(
    ("login", "language", "busy"),
    [("agent1", "ja", "ほかの操作の途中です"), ("anna", "en", "another action is under way")],
)
async def test_the_agent_page_has_words_for_every_refusal_in_the_agents_language(
    engine: AsyncEngine,
    clock: VirtualClock,
    passwords: Passwords,
    login: str,
    language: str,
    busy: str,
) -> None:
    # a refused command ("busy", "too_late", ...) is shown to the agent in words after
    # "Not done", not as the engine's code
    await add_member(
        engine, passwords, login, Role.AGENT, endpoint="PJSIP/agent1", language=language
    )
    app = create_app(console_config(), engine, clock, passwords=passwords)
    async with TestClient(TestServer(app)) as client:
        assert (await sign_in(client, login)).status == 303
        page = await (await client.get("/agent")).text()
    block = re.search(r'<script type="application/json" id="call-refusals">(.*?)</script>', page)
    assert block is not None
    words = json.loads(block.group(1))
    assert set(words) == {*get_args(Refusal), "no_engine"}
    assert words["busy"] == busy
    assert all(text and text != code for code, text in words.items())
