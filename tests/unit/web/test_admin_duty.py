"""The admin's on-duty lists (`/admin/duty`, `/api/v1/on-duty`) through aiohttp's test client:
config.yaml's list shown until one is saved, a saved list in its new order with who changed it
(audited), field errors next to their fields with nothing saved, and that agents and
supervisors are refused. That the next leak call rings the saved list: the browser tier."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.store.duty import DutyRoster, DutyStep
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.csrf import HEADER
from tests.support.console import VirtualClock, add_member
from tests.unit.web.conftest import Client, admin_console, audited, page_token, sign_in

pytestmark = pytest.mark.unit

LEAK = "emergency_duty"


@pytest.fixture
async def client(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> AsyncIterator[Client]:
    routing = {
        "departments": {
            LEAK: {"on_duty": ["PJSIP/onduty", "PJSIP/agent3"], "ring_timeout_s": 20},
            "billing": {"endpoint": "PJSIP/billing"},
        }
    }
    async with admin_console(engine, clock, passwords, routing) as c:
        await add_member(engine, passwords, "phone3", Role.AGENT, endpoint="PJSIP/agent3")
        yield c


def rows(token: str, *steps: tuple[str, str, str, str]) -> dict[str, str]:
    data = {"csrf_token": token}
    for number, (order, name, endpoint, ring) in enumerate(steps, start=1):
        data |= {
            f"order-{number}": order,
            f"name-{number}": name,
            f"endpoint-{number}": endpoint,
            f"ring_s-{number}": ring,
        }
    return data


async def duty_audited(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    return await audited(engine, "on_duty%")


async def test_configs_list_is_shown_until_a_saved_one_replaces_it_in_its_order(
    client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "boss")
    page = await client.get("/admin/duty")
    html = await page.text()
    assert 'id="duty-emergency_duty"' in html
    assert 'id="duty-billing"' not in html  # no on-duty list: not a leak line
    assert 'value="PJSIP/agent3"' in html
    assert "From config.yaml" in html
    token = await page_token(client, "/admin/duty")

    # the admin puts the second person first (order numbers) and adds a third in a blank row
    saved = await client.post(
        f"/admin/duty/{LEAK}",
        data=rows(
            token,
            ("2", "Onduty", "PJSIP/onduty", "20"),
            ("1", "Sato", "PJSIP/agent3", "15"),
            ("3", "Suzuki", "PJSIP/duty-9", "30"),
            ("4", "", "", ""),
        ),
        allow_redirects=False,
    )
    assert saved.status == 303
    assert await DutyRoster(engine).on_duty(LEAK) == (
        DutyStep("Sato", "PJSIP/agent3", 15),
        DutyStep("Onduty", "PJSIP/onduty", 20),
        DutyStep("Suzuki", "PJSIP/duty-9", 30),
    )
    html = await (await client.get(saved.headers["Location"])).text()
    assert "the next leak call rings it" in html
    assert "admin:boss" in html.split('id="duty-emergency_duty-changed"')[1].split("</p>")[0]
    assert html.index('value="Sato"') < html.index('value="Onduty"') < html.index('value="Suzuki"')
    assert await duty_audited(engine) == [
        (
            "admin:boss",
            "on_duty_set",
            "emergency_duty: Sato (PJSIP/agent3, 15 s), Onduty (PJSIP/onduty, 20 s), "
            "Suzuki (PJSIP/duty-9, 30 s)",
        )
    ]


async def test_field_errors_are_shown_next_to_their_fields_and_nothing_is_saved(
    client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/duty")
    refused = await client.post(
        f"/admin/duty/{LEAK}",
        data=rows(
            token,
            ("1", "Sato", "PJSIP/agent3", "15"),
            ("x", "", "0312345678", "2"),
        ),
    )
    assert refused.status == 422
    html = await refused.text()
    for field in ("order", "name", "endpoint", "ring_s"):
        assert f'id="e-{LEAK}-{field}-2"' in html, field
    assert 'id="e-emergency_duty-name-1"' not in html
    assert 'value="0312345678"' in html  # what was typed is shown again
    assert "A phone endpoint such as PJSIP/duty-1." in html
    assert await DutyRoster(engine).on_duty(LEAK) is None
    assert await duty_audited(engine) == []
    unknown = await client.post("/admin/duty/billing", data=rows(token))
    assert unknown.status == 404


@pytest.mark.parametrize("login", ["sup", "agent1"])
async def test_only_admins_open_the_on_duty_lists(client: Client, login: str) -> None:
    await sign_in(client, login)
    assert (await client.get("/admin/duty")).status == 403
    assert (await client.get("/api/v1/on-duty")).status == 403
    token = await page_token(client, "/agent")
    posted = await client.post(f"/admin/duty/{LEAK}", data=rows(token, ("1", "x", "PJSIP/x", "9")))
    assert posted.status == 403


async def test_a_change_without_the_csrf_token_is_refused(
    client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "boss")
    posted = await client.post(
        f"/admin/duty/{LEAK}", data=rows("forged", ("1", "Sato", "PJSIP/agent3", "15"))
    )
    assert posted.status == 403
    assert await DutyRoster(engine).on_duty(LEAK) is None


async def test_the_api_lists_and_saves_a_list(client: Client, engine: AsyncEngine) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/duty")
    listed = await (await client.get("/api/v1/on-duty")).json()
    assert listed["lists"] == [
        {
            "department": LEAK,
            "source": "config",
            "steps": [
                {"name": "PJSIP/onduty", "endpoint": "PJSIP/onduty", "ring_s": 20},
                {"name": "PJSIP/agent3", "endpoint": "PJSIP/agent3", "ring_s": 20},
            ],
            "updated_at": None,
            "updated_by": None,
        }
    ]
    body = {
        "department": LEAK,
        "steps": [{"name": "Sato", "endpoint": "PJSIP/agent3", "ring_s": 9}],
    }
    saved = await client.post("/api/v1/on-duty", json=body, headers={HEADER: token})
    assert saved.status == 200
    view = await saved.json()
    assert (view["source"], view["updated_by"]) == ("database", "admin:boss")
    assert await DutyRoster(engine).on_duty(LEAK) == (DutyStep("Sato", "PJSIP/agent3", 9),)
    bad = {"department": LEAK, "steps": [{"name": "Sato", "endpoint": "tel:1", "ring_s": 999}]}
    refused = await client.post("/api/v1/on-duty", json=bad, headers={HEADER: token})
    assert refused.status == 422
    assert set((await refused.json())["fields"]) == {"steps.0.endpoint", "steps.0.ring_s"}
    other = await client.post(
        "/api/v1/on-duty", json={**body, "department": "billing"}, headers={HEADER: token}
    )
    assert (other.status, (await other.json())["fields"]) == (422, {"department": "unknown"})
    assert [a for _, a, _ in await duty_audited(engine)] == ["on_duty_set"]


async def test_the_wallboard_shows_tonights_list_in_ring_order(
    client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    assert (await sign_in(client, "sup")).status == 303
    page = await (await client.get("/supervisor/wallboard")).text()
    duty = page[page.index('id="on-duty"') :]
    # config's steps are phones: shown as the staff member whose phone it is, else its name
    assert duty.index(">onduty<") < duty.index(">Staff phone3<")
    assert "PJSIP/" not in duty.split("</table>")[0]
    assert 'id="on-duty-department">emergency_duty<' in duty  # no label in config: its code
    assert "config.yaml" in duty
    await DutyRoster(engine).replace(
        LEAK,
        [DutyStep("Tanaka", "PJSIP/agent3", 15), DutyStep("Sato", "PJSIP/onduty", 30)],
        "admin:boss",
        clock.now,
    )
    page = await (await client.get("/supervisor/wallboard")).text()
    duty = page[page.index('id="on-duty"') :]
    assert duty.index("Tanaka") < duty.index("Sato")
    assert "admin:boss" in duty
    assert "PJSIP/onduty" not in duty  # names on a wall screen, not dial strings
