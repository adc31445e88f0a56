"""The admin's departments (`/admin/departments`) through aiohttp's test client: config.yaml's
departments shown until one is saved, a change kept with who made it (audited) and offered on
the agent page's transfer control at its next load, a department added and offered, one a live
flow or the leak line uses not removable (the page says why), field errors next to their
fields with nothing saved, hostile input answered without a 500, CSRF, and agents and
supervisors refused. That the next transferred call rings the new endpoint: the browser tier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.calls.flows import FlowRegistry
from ivr.config import AppConfig
from ivr.store.departments import Department, DepartmentBook, config_departments
from ivr.store.passwords import Passwords
from ivr.web.csrf import HEADER
from tests.support.console import VirtualClock
from tests.unit.web.conftest import Client, admin_console, audited, page_token, sign_in

pytestmark = pytest.mark.unit

LEAK = "emergency_duty"
CATALOG = Path(__file__).resolve().parents[3] / "prompts" / "catalog.yaml"


@pytest.fixture
async def client(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords
) -> AsyncIterator[Client]:
    routing = {
        # dialplans/ name these queues; the flows page's registry loads those files
        "queues": {
            q: {"calendar": "phone"} for q in ("general", "moving", "reconnection", "billing")
        },
        "departments": {
            LEAK: {"on_duty": ["PJSIP/onduty"]},
            # dialplans/hotline.yaml transfers to it
            "construction": {
                "label": {"ja": "工事課", "en": "Construction"},
                "endpoint": "PJSIP/agent3",
                "calendar": "construction",
            },
            "billing": {"label": {"ja": "料金課", "en": "Billing"}, "number": "0312345678"},
        },
    }
    async with admin_console(engine, clock, passwords, routing) as c:
        yield c


def form(token: str, **fields: str) -> dict[str, str]:
    blank = dict.fromkeys(("label_ja", "label_en", "endpoint", "number", "calendar"), "")
    return {"csrf_token": token, **blank, **fields}


async def departments_audited(engine: AsyncEngine) -> list[tuple[str, str, str]]:
    return await audited(engine, "department%")


async def transfer_options(client: Client) -> str:
    html = await (await client.get("/agent")).text()
    start = html.index('id="transfer-target"')
    return html[start : html.index("</select>", start)]


async def test_a_changed_department_is_kept_audited_and_offered_at_the_next_page(
    client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "boss")
    page = await client.get("/admin/departments")
    html = await page.text()
    assert 'id="dept-billing"' in html
    assert 'value="0312345678"' in html
    assert "From config.yaml" in html
    token = await page_token(client, "/admin/departments")

    saved = await client.post(
        "/admin/departments/billing",
        data=form(
            token,
            label_ja="料金課",
            label_en="Billing office",
            endpoint="PJSIP/billing2",
            calendar="phone",
        ),
        allow_redirects=False,
    )
    assert saved.status == 303
    kept = await DepartmentBook(engine).get("billing")
    assert kept is not None
    assert (kept.label_en, kept.endpoint, kept.number, kept.calendar, kept.updated_by) == (
        "Billing office",
        "PJSIP/billing2",
        None,
        "phone",
        "admin:boss",
    )
    html = await (await client.get(saved.headers["Location"])).text()
    assert "Saved: the next call uses it." in html
    assert "admin:boss" in html.split('id="dept-billing-changed"')[1].split("</p>")[0]
    # config's departments were written first (the seed), then the admin's change
    assert [(a, b) for a, b, _ in await departments_audited(engine)][-1] == (
        "admin:boss",
        "department_set",
    )
    assert ("config.yaml", "department_seed") in [
        (a, b) for a, b, _ in await departments_audited(engine)
    ]
    assert (await departments_audited(engine))[-1][2] == (
        "billing: 料金課 / Billing office, PJSIP/billing2, phone"
    )

    # an agent's page offers the new name at its next load; the leak line is no target
    await client.post("/logout", data={"csrf_token": await page_token(client, "/admin")})
    await sign_in(client, "agent1")
    options = await transfer_options(client)
    assert ">Billing office<" in options
    assert f"department:{LEAK}" not in options


async def test_an_added_department_is_a_transfer_target_and_can_be_removed(
    client: Client, engine: AsyncEngine, clock: VirtualClock
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/departments")
    added = await client.post(
        "/admin/departments",
        data=form(token, code="sewer", label_ja="下水道課", label_en="Sewers", number="+81312345"),
        allow_redirects=False,
    )
    assert added.status == 303
    again = await client.post(
        "/admin/departments",
        data=form(token, code="sewer", label_ja="x", label_en="x", endpoint="PJSIP/x"),
    )
    assert again.status == 422
    assert "A department with this code exists." in await again.text()
    assert 'value="department:sewer">下水道課<' not in await transfer_options(client)  # en page
    assert 'value="department:sewer">Sewers<' in await transfer_options(client)

    removed = await client.post(
        "/admin/departments/sewer/remove", data={"csrf_token": token}, allow_redirects=False
    )
    assert removed.status == 303
    assert "department:sewer" not in await transfer_options(client)
    assert [b for _, b, _ in await departments_audited(engine)][-2:] == [
        "department_add",
        "department_removed",
    ]
    # a removed department is not seeded back by the next start
    book = DepartmentBook(engine)
    assert await book.seed([Department("sewer", "a", "b", "PJSIP/x")], clock.now) == []
    assert "sewer" not in [d.code for d in await book.all()]


async def test_a_department_in_use_cannot_be_removed_and_the_page_says_why(
    client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "boss")
    html = await (await client.get("/admin/departments")).text()
    section = html.split('id="dept-construction"')[1].split("</section>")[0]
    assert "Cannot be removed: flow hotline transfers to it." in section
    assert 'id="dept-remove-construction" disabled' in section
    leak = html.split(f'id="dept-{LEAK}"')[1].split("</section>")[0]
    assert "the leak line rings its on-duty list" in leak
    token = await page_token(client, "/admin/departments")
    for code in ("construction", LEAK):
        refused = await client.post(f"/admin/departments/{code}/remove", data={"csrf_token": token})
        assert refused.status == 409
        assert "In use: it cannot be removed." in await refused.text()
    html = await (await client.get("/admin/departments")).text()
    assert 'id="dept-construction"' in html
    assert f'id="dept-{LEAK}"' in html
    assert "department_removed" not in [b for _, b, _ in await departments_audited(engine)]


async def test_field_errors_are_shown_next_to_their_fields_and_nothing_is_saved(
    client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/departments")
    refused = await client.post(
        "/admin/departments/billing",
        data=form(
            token,
            label_ja=" ",
            label_en="x" * 101,
            endpoint="tel:0312345678",
            number="03-1234",
            calendar="nope",
        ),
    )
    assert refused.status == 422
    html = await refused.text()
    for field in ("label_ja", "label_en", "endpoint", "number", "calendar", "line"):
        assert f'id="e-billing-{field}"' in html, field
    assert "A phone endpoint such as PJSIP/sewer." in html
    assert "Give an endpoint or a number, not both." in html
    assert 'value="tel:0312345678"' in html  # what was typed is shown again
    none = await client.post(
        "/admin/departments/billing", data=form(token, label_ja="a", label_en="b")
    )
    assert none.status == 422
    assert "Give an endpoint or a phone number." in await none.text()
    # the leak line needs no line of its own
    leak = await client.post(
        f"/admin/departments/{LEAK}",
        data=form(token, label_ja="漏水当番", label_en="Leaks"),
        allow_redirects=False,
    )
    assert leak.status == 303
    assert [b for _, b, _ in await departments_audited(engine)].count("department_set") == 1


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/admin/departments", {"code": "Bad Code!", "label_ja": "a", "label_en": "b"}),
        ("/admin/departments", {"code": "x" * 70, "endpoint": "PJSIP/x"}),
        ("/admin/departments", {"code": "", "endpoint": "PJSIP/x"}),
        ("/admin/departments/billing", {"label_ja": "a" * 5000, "endpoint": "PJSIP/x"}),
        (
            "/admin/departments/billing",
            {"label_ja": "a\x00b", "label_en": "<script>", "endpoint": "PJSIP/x;rm"},
        ),
    ],
)
async def test_hostile_input_is_a_plain_422(
    client: Client, engine: AsyncEngine, path: str, fields: dict[str, str]
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/departments")
    answer = await client.post(path, data={"csrf_token": token, **fields})
    assert answer.status == 422
    assert "<script>" not in await answer.text()
    assert [b for _, b, _ in await departments_audited(engine)] in ([], ["department_seed"] * 3)


async def test_unknown_departments_and_queries_are_plain_answers(client: Client) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/departments")
    for path in ("/admin/departments/nope", "/admin/departments/nope/remove"):
        assert (await client.post(path, data=form(token))).status == 404
    odd = await client.get("/admin/departments?done=__class__&code=<b>")
    assert odd.status == 200
    assert "<b>" not in await odd.text()
    assert (
        await client.post(
            "/admin/departments",
            data=b"\xff",
            headers={"Content-Type": "text/plain", HEADER: token},
        )
    ).status == 400


@pytest.mark.parametrize("login", ["sup", "agent1"])
async def test_only_admins_open_the_departments(client: Client, login: str) -> None:
    await sign_in(client, login)
    assert (await client.get("/admin/departments")).status == 403
    token = await page_token(client, "/agent")
    posted = await client.post(
        "/admin/departments/billing",
        data=form(token, label_ja="a", label_en="b", endpoint="PJSIP/x"),
    )
    assert posted.status == 403


async def test_a_change_without_the_csrf_token_is_refused(
    client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "boss")
    posted = await client.post(
        "/admin/departments/billing",
        data=form("forged", label_ja="a", label_en="b", endpoint="PJSIP/x"),
    )
    assert posted.status == 403
    assert await DepartmentBook(engine).get("billing") is None


async def test_the_api_lists_adds_changes_and_removes_a_department_audited(
    client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/departments")
    listed = (await (await client.get("/api/v1/departments")).json())["departments"]
    assert [(d["code"], d["source"]) for d in listed] == [
        ("billing", "config"),
        ("construction", "config"),
        (LEAK, "config"),
    ]
    by_code = {d["code"]: d for d in listed}
    assert "hotline" in by_code["construction"]["in_use"]  # dialplans/hotline.yaml transfers
    assert by_code["billing"]["in_use"] == ""

    body = {"code": "sewerage", "label_ja": "下水道課", "label_en": "Sewerage",
            "endpoint": "PJSIP/sewerage", "calendar": "phone"}  # fmt: skip
    added = await client.post("/api/v1/departments", json=body, headers={HEADER: token})
    assert added.status == 200
    view = await added.json()
    assert (view["source"], view["updated_by"], view["endpoint"]) == (
        "database",
        "admin:boss",
        "PJSIP/sewerage",
    )
    assert "Sewerage" in await transfer_options(client)  # offered at the next page

    again = await client.post("/api/v1/departments", json=body, headers={HEADER: token})
    assert (again.status, (await again.json())["fields"]) == (422, {"code": "taken"})
    changed = await client.post(
        "/api/v1/departments/change",
        json={**body, "endpoint": None, "number": "0312345678"},
        headers={HEADER: token},
    )
    assert changed.status == 200
    kept = await DepartmentBook(engine).get("sewerage")
    assert kept is not None
    assert (kept.endpoint, kept.number) == (None, "0312345678")

    removed = await client.post(
        "/api/v1/departments/remove", json={"code": "sewerage"}, headers={HEADER: token}
    )
    assert removed.status == 200
    assert "sewerage" not in {d["code"] for d in (await removed.json())["departments"]}
    assert [action for _, action, _ in await departments_audited(engine)][-3:] == [
        "department_add",
        "department_set",
        "department_removed",
    ]


async def test_the_api_refuses_bad_input_unknown_codes_and_what_is_in_use(
    client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/departments")
    bad = {"code": "Sewer!", "label_ja": "下水\u0000道課", "label_en": " ",
           "endpoint": "PJSIP/a", "number": "0312345678", "calendar": "nope"}  # fmt: skip
    refused = await client.post("/api/v1/departments", json=bad, headers={HEADER: token})
    assert refused.status == 422
    assert set((await refused.json())["fields"]) == {"code", "label_en"}
    # a body the schema takes, refused whole by the department's own checks
    bad |= {"code": "sewer", "label_en": "Sewer\tage"}
    refused = await client.post("/api/v1/departments", json=bad, headers={HEADER: token})
    assert refused.status == 422
    assert (await refused.json())["fields"] == {
        "label_ja": "bad_label",
        "label_en": "bad_label",
        "line": "both_lines",
        "calendar": "unknown_calendar",
    }
    assert await DepartmentBook(engine).get("sewer") is None

    unknown = {"code": "nowhere", "label_ja": "a", "label_en": "b", "endpoint": "PJSIP/x"}
    changed = await client.post("/api/v1/departments/change", json=unknown, headers={HEADER: token})
    assert (changed.status, (await changed.json())["fields"]) == (422, {"code": "unknown"})
    for code, why in (("construction", "flow hotline transfers to it"), (LEAK, "leak line")):
        blocked = await client.post(
            "/api/v1/departments/remove", json={"code": code}, headers={HEADER: token}
        )
        assert blocked.status == 409
        answer = await blocked.json()
        assert answer["fields"] == {"code": "in_use"}
        assert why in answer["error"]
    # config's seeded by the first save tried, nothing added, nothing removed
    assert {d.code for d in await DepartmentBook(engine).all()} == {"billing", "construction", LEAK}


@pytest.mark.parametrize("login", ["agent1", "sup"])
async def test_only_admins_use_the_departments_api(client: Client, login: str) -> None:
    await sign_in(client, login)
    token = await page_token(client, "/agent")
    assert (await client.get("/api/v1/departments")).status == 403
    body = {"code": "sewer", "label_ja": "a", "label_en": "b", "endpoint": "PJSIP/x"}
    posted = await client.post("/api/v1/departments", json=body, headers={HEADER: token})
    assert posted.status == 403


async def test_an_api_change_without_the_csrf_token_is_refused(
    client: Client, engine: AsyncEngine
) -> None:
    await sign_in(client, "boss")
    body = {"code": "sewer", "label_ja": "a", "label_en": "b", "endpoint": "PJSIP/x"}
    posted = await client.post("/api/v1/departments", json=body)
    assert posted.status == 403
    assert await DepartmentBook(engine).get("sewer") is None


HANG_UP = (
    "flow: {id: main, start: bye, fallback: bye}\n"
    "nodes:\n"
    "  bye: {kind: hangup, prompts: [welcome]}\n"
)
SEWER_FLOW = (
    "flow: {id: sewer, start: hand_over, fallback: bye}\n"
    "nodes:\n"
    "  hand_over: {kind: transfer, department: sewer, on_failed: bye}\n"
    "  bye: {kind: hangup, prompts: [thank-you-goodbye]}\n"
)


async def test_a_department_only_the_console_added_cannot_be_removed_once_a_live_flow_uses_it(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords, tmp_path: Path
) -> None:
    """The engine's flows, checked against the database's departments: a flow naming the
    department added in the console goes live, and from then on the removal is refused."""
    dialplans = tmp_path / "dialplans"
    dialplans.mkdir()
    (dialplans / "main.yaml").write_text(HANG_UP, encoding="utf-8")
    registries: list[FlowRegistry] = []

    def engines_flows(config: AppConfig) -> FlowRegistry:
        names = partial(DepartmentBook(engine).codes, config_departments(config))
        registries.append(FlowRegistry(dialplans, CATALOG, config, names))
        registries[0].load()
        return registries[0]

    routing = {"departments": {LEAK: {"on_duty": ["PJSIP/onduty"]}}}
    async with admin_console(
        engine, clock, passwords, routing, flow_registry=engines_flows
    ) as client:
        await sign_in(client, "boss")
        token = await page_token(client, "/admin/departments")
        body = {"code": "sewer", "label_ja": "下水道課", "label_en": "Sewerage",
                "endpoint": "PJSIP/sewer"}  # fmt: skip
        added = await client.post("/api/v1/departments", json=body, headers={HEADER: token})
        assert added.status == 200
        # the flow edit, at the engine's next look for edits
        (dialplans / "sewer.yaml").write_text(SEWER_FLOW, encoding="utf-8")
        [registry] = registries
        await registry.refresh_departments()
        assert registry.reload_if_changed() is True
        assert registry.status.errors == []

        refused = await client.post(
            "/api/v1/departments/remove", json={"code": "sewer"}, headers={HEADER: token}
        )
        assert refused.status == 409
        assert "flow sewer transfers to it" in (await refused.json())["error"]
        page = await client.post("/admin/departments/sewer/remove", data={"csrf_token": token})
        assert page.status == 409
        assert "Cannot be removed: flow sewer transfers to it." in await page.text()
        assert await DepartmentBook(engine).get("sewer") is not None
