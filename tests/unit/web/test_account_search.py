"""The account search on the agent page (posted) and GET /api/v1/accounts: what the agent sees,
what is refused, and the audit row per account shown with the agent; every error code the
console can show has a message in both languages."""

from __future__ import annotations

import inspect
import re

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

import ivr.intake.service
import ivr.intake.validation
import ivr.store.search
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.store.tables import audit_log
from ivr.web.intake_forms import FIELD_ORDER
from ivr.web.intake_texts import ERRORS, FIELDS
from tests.integration.store.storedata import cust, seed
from tests.support.console import add_member
from tests.unit.web.conftest import Client, page_token, sign_in

pytestmark = pytest.mark.unit


@pytest.fixture
async def agent(engine: AsyncEngine, passwords: Passwords) -> None:
    await seed(engine)
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")


async def audited(engine: AsyncEngine) -> list[tuple[str, str, int | None, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                audit_log.c.actor, audit_log.c.action, audit_log.c.account_id, audit_log.c.call_id
            ).order_by(audit_log.c.id)
        )
        return [tuple(r) for r in rows]


async def test_the_agent_page_searches_by_kana_and_offers_the_forms(
    agent: None, client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "agent1")
    token = await page_token(client)
    answer = await client.post(
        "/agent/search", data={"csrf_token": token, "by": "kana", "term": "しけん"}
    )
    assert answer.status == 200
    html = await answer.text()
    shown = re.findall(r'data-customer-number="(\d+)"', html)
    assert shown == [cust(n) for n in (1, 2, 3, 4, 5)]
    assert 'formaction="/agent/intake/stop"' in html
    assert "給水停止中" in html  # account 3's status, in words
    assert [(r[0], r[1], r[2]) for r in await audited(engine)] == [
        (
            "agent:agent1",
            "search_kana",
            n,
        )
        for n in (1, 2, 3, 4, 5)
    ]


async def test_a_term_that_cannot_be_searched_says_why_and_looks_nothing_up(
    agent: None, client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "agent1")
    token = await page_token(client)
    answer = await client.post(
        "/agent/search", data={"csrf_token": token, "by": "kana", "term": "ｓ"}
    )
    assert answer.status == 422
    assert "カタカナで入力してください。" in await answer.text()
    assert await audited(engine) == []
    refused = await client.post("/agent/search", data={"by": "kana", "term": "シケン"})
    assert refused.status == 403  # no CSRF token


async def test_the_api_finds_by_phone_and_audits_each_account(
    agent: None, client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "agent1")
    answer = await client.get("/api/v1/accounts", params={"phone": "093-555-0000"})
    assert answer.status == 200
    found = await answer.json()
    assert [a["customer_number"] for a in found["accounts"]] == [cust(2), cust(3)]
    assert found["accounts"][1]["status"] == "shut_off"
    assert (found["more"], found["limit"]) == (False, 20)
    assert [r[2] for r in await audited(engine)] == [2, 3]


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({}, {"query": "required"}),
        ({"kana": "シケン", "phone": "0935550000"}, {"query": "one_term"}),
        ({"customer_number": "12"}, {"customer_number": "invalid_number"}),
        ({"kana": "ア" * 65}, {"kana": "too_long"}),
        ({"name": "x"}, {"name": "unknown_field"}),
    ],
)
async def test_the_api_refuses_what_it_cannot_search(
    agent: None, client: Client, engine: AsyncEngine, params: dict[str, str], fields: object
) -> None:
    await sign_in(client, "agent1")
    answer = await client.get("/api/v1/accounts", params=params)
    assert (answer.status, (await answer.json())["fields"]) == (422, fields)
    assert await audited(engine) == []


async def test_the_api_needs_a_session(agent: None, client: Client) -> None:
    answer = await client.get("/api/v1/accounts", params={"kana": "シケン"})
    assert answer.status == 401


def codes_in_docstring() -> set[str]:
    doc = ivr.intake.validation.__doc__ or ""
    block = doc.split("stable error codes:")[1].split("`invalid` also")[0]
    return set(re.findall(r"[a-z_]+", re.sub(r"\([^)]*\)", "", block)))


def codes_in_service() -> set[str]:
    source = inspect.getsource(ivr.intake.service)
    assigned = re.findall(r'errors\[[^\]]+\] = "([a-z_]+)"', source)
    raised = re.findall(r'IntakeRejected\(\{"[a-z_]+": "([a-z_]+)"\}\)', source)
    return set(assigned) | set(raised)


def codes_in_search() -> set[str]:
    return set(re.findall(r'InvalidTerm\("([a-z_]+)"\)', inspect.getsource(ivr.store.search)))


def test_every_error_code_has_a_message_in_both_languages() -> None:
    documented = codes_in_docstring()
    assert {"required", "too_soon", "before_stop", "invalid_characters"} <= documented
    service = codes_in_service()
    assert {"unknown_account", "conflict", "same_premise"} <= service
    search = codes_in_search()
    assert {"too_short", "invalid_kana"} <= search
    for code in documented | service | search | {"one_term", "unknown_field"}:
        ja, en = ERRORS[code]
        assert ja, code
        assert en, code
        assert ja != en, code


def test_every_form_field_has_a_label() -> None:
    for name in FIELD_ORDER:
        ja, en = FIELDS[name]
        assert ja != en, name
