"""The agent's intake forms and POST /api/v1/intake: every kind renders with its fields, invalid
input shows the field's message and writes nothing, no CSRF token is a 403, a valid stop shows the
confirmation number in groups, and a double submit gives the same receipt."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.domain import RequestKind
from ivr.intake.validation import accepted_fields
from ivr.numbers import confirmation_number
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.store.tables import billing_outbox, service_requests
from ivr.web.intake_forms import CARRIED
from tests.integration.store.storedata import cust, seed
from tests.support.console import add_member
from tests.unit.web.conftest import Client, page_token, sign_in, token_in

pytestmark = pytest.mark.unit

STOP_DATE = "2027-02-16"  # the console's virtual today is 2027-02-10 (Feb 11 is a holiday)
KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


@pytest.fixture
async def agent(engine: AsyncEngine, passwords: Passwords) -> None:
    await seed(engine)
    await add_member(engine, passwords, "agent1", Role.AGENT, endpoint="PJSIP/agent1")
    await add_member(engine, passwords, "agent2", Role.AGENT, language="en")


async def requests_written(engine: AsyncEngine) -> list[tuple[str, str, str | None, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(
                service_requests.c.kind,
                service_requests.c.channel,
                service_requests.c.call_id,
                service_requests.c.actor,
            ).order_by(service_requests.c.id)
        )
        return [tuple(r) for r in rows]


async def outbox_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(sa.select(sa.func.count()).select_from(billing_outbox))
            ).scalar_one()
        )


@pytest.mark.parametrize("kind", list(RequestKind))
async def test_every_kind_has_a_form_with_its_fields_labelled(
    agent: None, client: Client, kind: RequestKind
) -> None:
    assert (await sign_in(client, "agent1")).status == 303
    page = await client.get(f"/agent/intake/{kind}")
    assert page.status == 200
    html = await page.text()
    form = html[html.index('id="intake-form"') :]
    form = form[: form.index("</form>")]
    shown = set(re.findall(r'<(?:input|textarea)[^>]* name="([a-z_]+)"', form))
    assert shown - {"csrf_token", "idempotency_key"} == accepted_fields(kind) - set(CARRIED)
    assert KEY.search(html)
    # every field has a label in Japanese (no raw field names on screen)
    for name in accepted_fields(kind) - set(CARRIED):
        label = re.search(rf'<label for="f-{name}">([^<]+)', html)
        assert label, name
        assert not re.search(r"[a-z_]{4,}", label.group(1)), name


async def test_an_unknown_kind_is_a_404(agent: None, client: Client) -> None:
    await sign_in(client, "agent1")
    assert (await client.get("/agent/intake/teleport")).status == 404


async def test_the_form_is_pre_filled_from_the_query_and_from_a_posted_open(
    agent: None, client: Client
) -> None:
    await sign_in(client, "agent1")
    html = await (await client.get(f"/agent/intake/stop?customer_number={cust(1)}&x=1")).text()
    assert f'name="customer_number" value="{cust(1)}"' in html
    token = await page_token(client)
    opened = await client.post(
        "/agent/intake/stop",
        data={"csrf_token": token, "step": "open", "customer_number": cust(2)},
    )
    assert opened.status == 200
    html = await opened.text()
    assert f'name="customer_number" value="{cust(2)}"' in html
    assert 'class="error' not in html  # opening is not submitting


async def test_invalid_input_shows_the_fields_messages_and_writes_nothing(
    agent: None, client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "agent1")
    form = await (await client.get("/agent/intake/stop")).text()
    answer = await client.post(
        "/agent/intake/stop",
        data={
            "csrf_token": token_in(form),
            "idempotency_key": KEY.search(form).group(1),  # type: ignore[union-attr]
            "customer_number": cust(1),
            "stop_date": "2027-02-09",
        },
    )
    assert answer.status == 422
    html = await answer.text()
    assert '<p class="error field-error" id="e-stop_date">過去の日付は指定できません。</p>' in html
    assert f'name="customer_number" value="{cust(1)}"' in html  # what was typed is kept
    assert await requests_written(engine) == []
    assert await outbox_count(engine) == 0


async def test_the_services_own_codes_are_shown_too(
    agent: None, client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "agent2")  # in English
    token = await page_token(client)
    answer = await client.post(
        "/agent/intake/reconnection",
        data={"csrf_token": token, "customer_number": cust(1)},  # active, not shut off
    )
    assert answer.status == 422
    assert "The account&#39;s water is not shut off." in await answer.text()
    assert await requests_written(engine) == []


async def test_a_post_without_the_csrf_token_is_refused(
    agent: None, client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "agent1")
    answer = await client.post(
        "/agent/intake/stop", data={"customer_number": cust(1), "stop_date": STOP_DATE}
    )
    assert answer.status == 403
    assert await requests_written(engine) == []


async def test_a_valid_stop_shows_the_confirmation_and_a_double_submit_the_same(
    agent: None, client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "agent1")
    form = await (await client.get("/agent/intake/stop")).text()
    data = {
        "csrf_token": token_in(form),
        "idempotency_key": KEY.search(form).group(1),  # type: ignore[union-attr]
        "customer_number": cust(1),
        "stop_date": STOP_DATE,
        "forwarding_address": "",
    }
    first = await client.post("/agent/intake/stop", data=data)
    assert first.status == 201
    html = await first.text()
    number = confirmation_number(1)
    assert f'data-number="{number}"' in html
    groups = re.findall(r'<span class="group">(\d+)</span>', html)
    assert groups == [number[:4], number[4:]]
    again = await client.post("/agent/intake/stop", data=data)
    assert f'data-number="{number}"' in await again.text()
    assert await requests_written(engine) == [("stop", "agent", None, "agent:agent1")]
    assert await outbox_count(engine) == 1


async def test_a_move_is_one_confirmation_for_a_linked_stop_and_start(
    agent: None, client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "agent1")
    token = await page_token(client)
    answer = await client.post(
        "/agent/intake/transfer",
        data={
            "csrf_token": token,
            "customer_number": cust(1),
            "stop_date": STOP_DATE,
            "start_date": STOP_DATE,
            "new_premise_id": "201",
        },
    )
    assert answer.status == 201
    assert [r[0] for r in await requests_written(engine)] == ["transfer_stop", "transfer_start"]


# ------------------------------------------------------------------------------ the API


async def api_token(client: Client) -> str:
    assert (await sign_in(client, "agent1")).status == 303
    me = await (await client.get("/api/v1/me")).json()
    return str(me["csrf_token"])


async def test_the_api_creates_a_request_and_replays_its_key(
    agent: None, client: Client, engine: AsyncEngine
) -> None:
    headers = {"X-CSRF-Token": await api_token(client)}
    body = {
        "kind": "stop",
        "fields": {"customer_number": cust(1), "stop_date": STOP_DATE},
        "idempotency_key": "abc-1",
    }
    first = await client.post("/api/v1/intake", json=body, headers=headers)
    assert first.status == 201
    created = await first.json()
    number = confirmation_number(1)
    assert created == {
        "kind": "stop",
        "confirmation": number,
        "spoken": [number[:4], number[4:]],
        "request_ids": [1],
    }
    assert await (await client.post("/api/v1/intake", json=body, headers=headers)).json() == created
    other = {**body, "fields": {"customer_number": cust(2), "stop_date": STOP_DATE}}
    conflict = await client.post("/api/v1/intake", json=other, headers=headers)
    assert (conflict.status, await conflict.json()) == (
        422,
        {"error": "invalid", "fields": {"idempotency_key": "conflict"}},
    )
    assert len(await requests_written(engine)) == 1


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (
            {"kind": "stop", "fields": {"customer_number": "1"}},
            {"customer_number": "invalid_number", "stop_date": "required"},
        ),
        ({"kind": "nap", "fields": {}}, {"kind": "invalid"}),
        (
            {"kind": "stop", "fields": {"stop_date": {"nested": [1]}}},
            {"stop_date": "invalid"},
        ),
        (
            {
                "kind": "stop",
                "fields": {
                    "premise_id": 10**40,
                    "customer_number": cust(1),
                    "stop_date": STOP_DATE,
                },
            },
            {"premise_id": "invalid"},
        ),
        ({"kind": "stop", "fields": {}, "extra": 1}, {"extra": "unknown_field"}),
        ([1, 2], {"body": "invalid"}),
    ],
)
async def test_bad_api_input_is_a_422_with_codes_and_writes_nothing(
    agent: None, client: Client, engine: AsyncEngine, body: object, fields: dict[str, str]
) -> None:
    headers = {"X-CSRF-Token": await api_token(client)}
    answer = await client.post("/api/v1/intake", json=body, headers=headers)
    assert (answer.status, (await answer.json())["fields"]) == (422, fields)
    assert await requests_written(engine) == []


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"{not json", "application/json", 422),
        (b"\xff\xfe", "application/json", 422),
        (b"[" * 60000, "application/json", 422),
        (
            b'{"kind": "stop", "fields": {"premise_id": 1' + b"0" * 5000 + b"}}",
            "application/json",
            422,
        ),
        (b"kind=stop", "application/x-www-form-urlencoded", 415),
        (b"x" * 70000, "application/json", 413),
    ],
)
async def test_unreadable_bodies_are_4xx_never_500(
    agent: None, client: Client, data: bytes, content_type: str, status: int
) -> None:
    headers = {"X-CSRF-Token": await api_token(client), "Content-Type": content_type}
    answer = await client.post("/api/v1/intake", data=data, headers=headers)
    assert answer.status == status
    assert "error" in await answer.json()


async def test_the_api_without_the_csrf_header_is_a_403(agent: None, client: Client) -> None:
    await api_token(client)
    answer = await client.post("/api/v1/intake", json={"kind": "leak", "fields": {}})
    assert answer.status == 403
