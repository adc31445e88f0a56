"""The admin's flows page through aiohttp's test client: the live versions, a rejected edit's
`file:line` errors while the previous version goes on serving, the flow's picture (Graphviz
SVG), a simulate form whose transcript is `hotline simulate`'s for the same call, field errors
for bad input, and that agents and supervisors are refused."""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.adapters.flowtools import simulate_file
from ivr.calls.flows import FlowRegistry
from ivr.domain import TOKYO
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.app import create_app
from tests.support.console import VirtualClock, add_member, console_config
from tests.unit.web.conftest import Client, page_token, sign_in

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def registry(tmp_path: Path) -> FlowRegistry:
    folder = tmp_path / "dialplans"
    folder.mkdir()
    for source in (ROOT / "dialplans").glob("*.yaml"):
        shutil.copy(source, folder / source.name)
    config = console_config()
    found = FlowRegistry(folder, ROOT / config.flows.catalog, config)
    found.load()
    return found


@pytest.fixture
async def client(
    engine: AsyncEngine, clock: VirtualClock, passwords: Passwords, registry: FlowRegistry
) -> AsyncIterator[Client]:
    await add_member(engine, passwords, "boss", Role.ADMIN, language="en")
    await add_member(engine, passwords, "sup", Role.SUPERVISOR)
    await add_member(engine, passwords, "agent1", Role.AGENT)
    app = create_app(console_config(), engine, clock, passwords=passwords, flow_registry=registry)
    async with TestClient(TestServer(app)) as c:
        yield c


def transcript_of(page: str) -> list[str]:
    found = re.search(r'<pre id="transcript">(.*?)</pre>', page, re.S)
    assert found, "no transcript on the page"
    return html.unescape(found.group(1)).split("\n")


async def test_the_page_lists_the_live_flows_and_a_rejected_edit(
    client: Client, registry: FlowRegistry
) -> None:
    await sign_in(client, "boss")
    page = await (await client.get("/admin/flows")).text()
    assert 'id="flow-hotline"' in page
    assert registry.live("hotline").digest in page
    assert 'id="no-rejected"' in page

    broken = registry.directory / "hotline.yaml"
    broken.write_text(broken.read_text(encoding="utf-8") + "\n  bogus_node: [\n", encoding="utf-8")
    assert not registry.reload_if_changed()
    page = await (await client.get("/admin/flows")).text()
    errors = re.findall(r"<li><code>(.*?)</code></li>", page)
    assert errors, "the rejected edit's errors are not listed"
    assert all(re.match(rf"{re.escape(str(broken))}:\d+: ", html.unescape(e)) for e in errors)
    # the previous version still serves and is still listed
    assert 'id="flow-hotline"' in page


async def test_the_picture_is_the_graph_drawn_as_svg(client: Client) -> None:
    assert shutil.which("dot"), "Graphviz `dot` is not installed: run scripts/setup"
    await sign_in(client, "boss")
    page = await (await client.get("/admin/flows")).text()
    assert 'src="/admin/flows/hotline/graph.svg"' in page
    picture = await client.get("/admin/flows/hotline/graph.svg")
    assert picture.status == 200
    assert picture.content_type == "image/svg+xml"
    svg = await picture.text()
    assert "<svg" in svg
    assert ">main_menu<" in svg or "main_menu" in svg
    assert (await client.get("/admin/flows/nosuch/graph.svg")).status == 404


async def test_simulate_shows_the_same_transcript_as_hotline_simulate(
    client: Client, registry: FlowRegistry
) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/flows")
    answer = await client.post(
        "/admin/flows/simulate",
        data={
            "csrf_token": token,
            "flow": "hotline",
            "caller": "withheld",
            "keys": "2 1",
            "at": "2027-02-10T10:00",
            "lang": "en",
        },
    )
    assert answer.status == 200
    shown = transcript_of(await answer.text())
    expected = await simulate_file(
        console_config(),
        registry.directory / "hotline.yaml",
        "withheld",
        "2 1",
        datetime(2027, 2, 10, 10, 0, tzinfo=TOKYO),
        catalog_path=registry.catalog_path,
        language="en",
    )
    assert shown == expected
    assert len(shown) > 3


async def test_bad_input_is_a_422_with_field_errors(client: Client) -> None:
    await sign_in(client, "boss")
    token = await page_token(client, "/admin/flows")
    answer = await client.post(
        "/admin/flows/simulate",
        data={
            "csrf_token": token,
            "flow": "nosuch",
            "caller": "",
            "keys": "1; rm",
            "at": "tomorrow",
            "lang": "fr",
        },
    )
    assert answer.status == 422
    page = await answer.text()
    for name in ("flow", "caller", "keys", "at", "lang"):
        assert f'id="e-{name}"' in page, name
    assert 'id="transcript"' not in page


async def test_simulate_needs_the_csrf_token(client: Client) -> None:
    await sign_in(client, "boss")
    answer = await client.post(
        "/admin/flows/simulate", data={"flow": "hotline", "caller": "withheld", "at": "x"}
    )
    assert answer.status == 403


@pytest.mark.parametrize("login", ["agent1", "sup"])
async def test_agents_and_supervisors_are_refused(client: Client, login: str) -> None:
    await sign_in(client, login)
    for path in ("/admin/flows", "/admin/flows/hotline/graph.svg"):
        assert (await client.get(path, allow_redirects=False)).status == 403


async def test_the_faq_form_offers_the_live_flows_nodes_as_categories(client: Client) -> None:
    await sign_in(client, "boss")
    page = await (await client.get("/admin/kb")).text()
    assert '<option value="main_menu">' in page
    assert '<option value="start">' in page  # a request kind
