"""Complaints, requests and the knowledge base on the console, through aiohttp's test client: a
case an agent keys reaches the department's work list, the department takes it in hand and
answers it, and the agent sees who did and when; a half-width katakana search finds the
full-width entry an admin wrote; an agent's proposal goes live when an admin accepts it; bad
input is a 422 with field errors; agents open no admin page and no other department's list."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.config import AppConfig, parse_config
from ivr.store.departments import Department, DepartmentBook
from ivr.store.knowledge import EntryDraft, KnowledgeBase
from ivr.store.passwords import Passwords
from ivr.store.staff import NewStaff, Role, StaffStore
from ivr.store.tables import call_events, calls
from ivr.web.app import create_app
from ivr.web.desk import DESK
from ivr.web.hub import HUB
from ivr.web.messages import CaseStatusChanged, read_message
from tests.support.console import PASSWORD, T0, VirtualClock
from tests.unit.web.conftest import Client, page_token, sign_in

pytestmark = pytest.mark.unit

SAID = "水道水が茶色く濁っている。"
QUESTION = "スイドウ料金の支払い方法は？"
ANSWER = "口座振替、コンビニ、クレジットカードでお支払いいただけます。"


def config() -> AppConfig:
    departments = {
        "construction": {"endpoint": "PJSIP/agent3"},
        "water_quality": {"endpoint": "PJSIP/agent2"},
        "emergency_duty": {"on_duty": ["PJSIP/onduty"]},
    }
    return parse_config({"console": {"port": 0}, "routing": {"departments": departments}}, {})


@pytest.fixture
async def client(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> AsyncIterator[Client]:
    staff = StaffStore(engine)
    hashed = await passwords.hash(PASSWORD)
    for login, role, skills, lang in (
        ("agent1", Role.AGENT, ("billing",), "en"),
        ("dept1", Role.AGENT, ("dept:construction",), "en"),
        ("boss", Role.ADMIN, (), "en"),
    ):
        await staff.add(NewStaff(login, f"Staff {login}", role, None, skills, lang), hashed, T0)
    app = create_app(config(), engine, clock, passwords=passwords)
    async with TestClient(TestServer(app)) as c:
        yield c


async def as_member(client: Client, login: str) -> None:
    client.session.cookie_jar.clear()
    assert (await sign_in(client, login)).status == 303


def row(page: str, row_id: str) -> str:
    found = re.search(rf'<tr id="{row_id}">(.*?)</tr>', page, re.S)
    assert found, f"no row {row_id}"
    return found.group(1)


async def test_a_case_reaches_the_department_and_the_agent_sees_it_answered(
    client: Client, clock: VirtualClock
) -> None:
    await as_member(client, "agent1")
    token = await page_token(client, "/agent/cases")
    saved = await client.post(
        "/agent/cases",
        data={
            "csrf_token": token,
            "kind": "complaint",
            "category": "water_quality",
            "said": SAID,
            "department": "construction",
            "customer_number": "",
        },
        allow_redirects=False,
    )
    assert saved.status == 303
    case_id = saved.headers["Location"].rsplit("=", 1)[1]
    mine = await (await client.get("/agent/cases")).text()
    assert 'data-status="received"' in row(mine, f"case-{case_id}")
    # not this agent's department
    assert (await client.get("/departments/construction")).status == 403

    await as_member(client, "dept1")
    token = await page_token(client, "/agent/cases")
    listed = await (await client.get("/departments/construction")).text()
    assert SAID in row(listed, f"case-{case_id}")
    clock.advance(600)
    path = f"/departments/construction/cases/{case_id}"
    taken = await client.post(
        path, data={"csrf_token": token, "status": "in_hand"}, allow_redirects=False
    )
    assert taken.status == 303
    clock.advance(600)
    answered = await client.post(
        path,
        data={"csrf_token": token, "status": "answered", "answer": "配管を洗浄しました。"},
        allow_redirects=False,
    )
    assert answered.status == 303
    again = await client.post(path, data={"csrf_token": token, "status": "in_hand"})
    assert again.status == 409
    assert (await client.get("/departments/water_quality")).status == 403

    await as_member(client, "agent1")
    mine = await (await client.get("/agent/cases")).text()
    status = row(mine, f"case-{case_id}")
    assert 'data-status="answered"' in status
    assert "agent:dept1" in status
    assert "2027-02-10 09:50" in status  # T0 09:30 Tokyo + 20 minutes
    assert "配管を洗浄しました。" in status


async def test_a_bad_case_is_a_422_with_field_errors(client: Client) -> None:
    await as_member(client, "agent1")
    token = await page_token(client, "/agent/cases")
    answer = await client.post(
        "/agent/cases",
        data={
            "csrf_token": token,
            "kind": "praise",
            "category": "nope",
            "said": " ",
            "department": "nowhere",
            "customer_number": "12",
        },
    )
    assert answer.status == 422
    page = await answer.text()
    for name in ("kind", "category", "said", "department", "customer_number"):
        assert f'id="e-{name}"' in page, name


async def test_a_half_width_query_finds_the_full_width_entry(client: Client) -> None:
    await as_member(client, "boss")
    token = await page_token(client, "/admin/kb")
    added = await client.post(
        "/admin/kb",
        data={
            "csrf_token": token,
            "lang": "ja",
            "question": QUESTION,
            "answer": ANSWER,
            "category": "billing",
            "department": "",
        },
        allow_redirects=False,
    )
    assert added.status == 303
    await as_member(client, "agent1")
    page = await (await client.get("/agent/kb", params={"q": "ｽｲﾄﾞｳ"})).text()
    assert QUESTION in page
    assert ANSWER in page
    page = await (await client.get("/agent/kb", params={"q": "ガス"})).text()
    assert 'id="kb-none"' in page


async def test_an_agents_proposal_goes_live_when_an_admin_accepts_it(client: Client) -> None:
    await as_member(client, "agent1")
    token = await page_token(client, "/agent/kb")
    bad = await client.post(
        "/agent/kb/propose", data={"csrf_token": token, "lang": "ja", "question": ""}
    )
    assert bad.status == 422
    assert 'id="e-question"' in await bad.text()
    proposed = await client.post(
        "/agent/kb/propose",
        data={
            "csrf_token": token,
            "lang": "ja",
            "question": "漏水を見つけたら？",
            "answer": "24時間、漏水受付におつなぎします。",
            "category": "leak",
            "department": "construction",
        },
        allow_redirects=False,
    )
    assert proposed.status == 303
    entry_id = proposed.headers["Location"].rsplit("=", 1)[1]
    assert "漏水を見つけたら" not in await (await client.get("/agent/kb?q=漏水")).text()

    await as_member(client, "boss")
    token = await page_token(client, "/admin/kb")
    assert "漏水を見つけたら" in row(
        await (await client.get("/admin/kb")).text(), f"entry-{entry_id}"
    )
    accepted = await client.post(
        f"/admin/kb/{entry_id}/accept", data={"csrf_token": token}, allow_redirects=False
    )
    assert accepted.status == 303
    await as_member(client, "agent1")
    assert "漏水を見つけたら" in await (await client.get("/agent/kb?q=漏水")).text()

    await as_member(client, "boss")
    token = await page_token(client, "/admin/kb")
    retired = await client.post(
        f"/admin/kb/{entry_id}/retire", data={"csrf_token": token}, allow_redirects=False
    )
    assert retired.status == 303
    await as_member(client, "agent1")
    assert "漏水を見つけたら" not in await (await client.get("/agent/kb?q=漏水")).text()


async def test_an_agent_opens_no_admin_page(client: Client) -> None:
    await as_member(client, "agent1")
    for path in ("/admin", "/admin/kb", "/admin/flows", "/admin/notices", "/supervisor"):
        assert (await client.get(path, allow_redirects=False)).status == 403, path
    token = await page_token(client, "/agent/kb")
    posted = await client.post(
        "/admin/kb", data={"csrf_token": token, "lang": "ja"}, allow_redirects=False
    )
    assert posted.status == 403


async def test_the_pop_gets_the_entries_for_the_callers_ivr_path(
    client: Client, engine: AsyncEngine, passwords: Passwords
) -> None:
    await StaffStore(engine).add(
        NewStaff("phone1", "Staff phone1", Role.AGENT, "PJSIP/agent1", ("billing",), "en"),
        await passwords.hash(PASSWORD),
        T0,
    )
    async with engine.begin() as conn:
        await conn.execute(
            sa.insert(calls).values(id="call-5", caller_kind="number", started_at=T0)
        )
        await conn.execute(
            sa.insert(call_events),
            [
                {"call_id": "call-5", "at": T0, "kind": "entered_node", "data": {"node": n}}
                for n in ("greeting", "main_menu", "outage_info")
            ],
        )
    kb = KnowledgeBase(engine)
    entry = await kb.add(
        EntryDraft("ja", "断水はいつまで？", "正午までです。", "outage_info"), "admin:boss", T0
    )
    await kb.add(EntryDraft("ja", "引っ越しの手続き", "…", "moving_menu"), "admin:boss", T0)

    await as_member(client, "phone1")
    path = "/agent/kb/suggestions/call-5"
    assert (await client.get(path)).status == 404  # not a call of this agent
    assert client.app is not None
    pool = client.app[DESK].pool
    assert pool is not None
    pool.log_in("phone1")
    pool.request_ready("phone1")
    pool.offer("phone1", "call-5")
    answer = await client.get(path)
    assert answer.status == 200
    found = await answer.json()
    assert [e["id"] for e in found["entries"]] == [entry.id]
    assert found["entries"][0]["answer"] == "正午までです。"
    assert (await client.get("/agent/kb/suggestions/call-6")).status == 404
    page = await (await client.get("/agent")).text()
    assert 'id="kb-suggest"' in page
    assert "kb-suggest.js" in page


class OpenPage:
    """An agent's open page on the live channel (`Hub.attached`'s peer): what it was sent."""

    def __init__(self) -> None:
        self.sent: asyncio.Queue[str] = asyncio.Queue()

    async def send_str(self, data: str) -> None:
        self.sent.put_nowait(data)

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        return True


async def test_the_departments_step_is_pushed_to_the_agent_who_keyed_the_case(
    client: Client, clock: VirtualClock
) -> None:
    await as_member(client, "agent1")
    token = await page_token(client, "/agent/cases")
    saved = await client.post(
        "/agent/cases",
        data={
            "csrf_token": token,
            "kind": "request",
            "category": "meter",
            "said": SAID,
            "department": "construction",
        },
        allow_redirects=False,
    )
    case_id = int(saved.headers["Location"].rsplit("=", 1)[1])
    page = OpenPage()
    async with client.app[HUB].attached("agent1", page, lambda: None):
        await as_member(client, "dept1")
        token = await page_token(client, "/agent/cases")
        clock.advance(60)
        path = f"/departments/construction/cases/{case_id}"
        await client.post(path, data={"csrf_token": token, "status": "in_hand"})
        async with asyncio.timeout(5):
            pushed = read_message(await page.sent.get())
        assert pushed == CaseStatusChanged(
            case_id=case_id, status="in_hand", by="agent:dept1", at=clock.now
        )
        await client.post(path, data={"csrf_token": token, "status": "answered", "answer": "済"})
        async with asyncio.timeout(5):
            pushed = read_message(await page.sent.get())
        assert isinstance(pushed, CaseStatusChanged)
        assert (pushed.status, pushed.answer) == ("answered", "済")


async def test_a_department_added_in_the_database_is_offered_and_accepted_at_once(
    client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    """No restart: the complaint form and the knowledge base's forms read the departments
    in force for each page, and accept what they offer."""
    await as_member(client, "agent1")
    before = await (await client.get("/agent/cases")).text()
    assert 'value="sewer"' not in before
    book = DepartmentBook(engine)
    sewer = Department("sewer", "下水道課", "Sewerage", "PJSIP/sewer")
    await book.save(sewer, "admin:boss", clock(), calendars=(), new=True)

    page = await (await client.get("/agent/cases")).text()
    assert '<option value="sewer">Sewerage</option>' in page
    token = await page_token(client, "/agent/cases")
    saved = await client.post(
        "/agent/cases",
        data={"csrf_token": token, "kind": "request", "category": "road_and_pipes",
              "said": SAID, "department": "sewer", "customer_number": ""},
        allow_redirects=False,
    )  # fmt: skip
    assert saved.status == 303
    await as_member(client, "boss")
    listed = await (await client.get("/departments/sewer")).text()
    assert SAID in listed
    assert '<option value="sewer">Sewerage</option>' in await (await client.get("/admin/kb")).text()
    assert '<option value="sewer">Sewerage</option>' in await (await client.get("/agent/kb")).text()


async def test_a_department_removed_since_the_form_was_loaded_is_a_field_error_nothing_lost(
    client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    book = DepartmentBook(engine)
    await book.save(
        Department("sewer", "下水道課", "Sewerage", "PJSIP/sewer"),
        "admin:boss",
        clock(),
        calendars=(),
        new=True,
    )
    await as_member(client, "agent1")
    token = await page_token(client, "/agent/cases")
    assert 'value="sewer"' in await (await client.get("/agent/cases")).text()
    await book.remove("sewer", "admin:boss", clock(), in_use=())

    refused = await client.post(
        "/agent/cases",
        data={"csrf_token": token, "kind": "complaint", "category": "water_quality",
              "said": SAID, "department": "sewer", "customer_number": ""},
    )  # fmt: skip
    assert refused.status == 422
    page = await refused.text()
    assert "No such department (it may have been removed)" in page.split('id="e-department"')[1]
    assert SAID in page  # what the agent keyed is shown again
    assert 'value="sewer"' not in page

    await as_member(client, "boss")
    token = await page_token(client, "/admin/kb")
    refused = await client.post(
        "/admin/kb",
        data={"csrf_token": token, "lang": "ja", "question": QUESTION, "answer": ANSWER,
              "category": "billing", "department": "sewer"},
    )  # fmt: skip
    assert refused.status == 422
    page = await refused.text()
    assert "No such department (it may have been removed)" in page.split('id="e-department"')[1]
    assert QUESTION in page
    assert await KnowledgeBase(engine).listing("live") == []


async def test_a_removed_departments_work_list_still_shows_what_was_sent_to_it(
    client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    book = DepartmentBook(engine)
    sewer = Department("sewer", "下水道課", "Sewerage", "PJSIP/sewer")
    await book.save(sewer, "admin:boss", clock(), calendars=(), new=True)
    await as_member(client, "agent1")
    token = await page_token(client, "/agent/cases")
    saved = await client.post(
        "/agent/cases",
        data={"csrf_token": token, "kind": "complaint", "category": "other",
              "said": SAID, "department": "sewer", "customer_number": ""},
        allow_redirects=False,
    )  # fmt: skip
    assert saved.status == 303
    await book.remove("sewer", "admin:boss", clock(), in_use=())
    await as_member(client, "boss")
    assert 'id="link-department-sewer"' not in await (await client.get("/agent/cases")).text()
    listed = await client.get("/departments/sewer")
    assert listed.status == 200
    assert SAID in await listed.text()
    assert (await client.get("/departments/never_was")).status == 404
