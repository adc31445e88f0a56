"""A department edited in the console, for real: the engine (`hotline run`'s composition, with
the console) on the sandboxed Asterisk, an admin and an agent in headless Chromium, SIPp phones.

config.yaml gives the billing office one phone; the admin changes its endpoint on
/admin/departments; with no restart, the agent's next call, transferred blind to the billing
office, rings the new phone (which answers and talks to the caller), and config's phone never
rings. The agent cannot open the page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from tests.browser.conftest import ARTIFACTS, IVR_S, STEP_S, Rig, finished, has, ready
from tests.support.console import PASSWORD, add_member

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.asyncio(loop_scope="session"),
]

OFFICE = "billing_office"


def phone_of(port: int) -> str:
    return f"PJSIP/agent3/sip:agent3@127.0.0.1:{port}"


async def test_a_department_endpoint_changed_in_the_console_is_rung_by_the_next_transfer(
    rig: Rig, contexts: Callable[[], Awaitable[Page]]
) -> None:
    agent_phone = await rig.phone("phone_ring_wait.xml")
    configs = await rig.phone("phone_noanswer.xml")  # logs the INVITE if it is ever rung
    new_phone = await rig.phone("phone.xml", talk_ms=1500)
    line = await rig.start(
        departments={
            OFFICE: {
                "label": {"ja": "料金課", "en": "Billing office"},
                "endpoint": phone_of(configs.port),
                "calendar": "phone",
                "ring_timeout_s": 10,
            }
        }
    )
    await line.agent("agent1", agent_phone)
    await add_member(line.db, Passwords.for_tests(), "boss", Role.ADMIN, language="en")
    agent, admin = await contexts(), await contexts()
    await ready(agent, line.url, "agent1")
    refused = await agent.goto(line.url + "/admin/departments")
    assert refused is not None
    assert refused.status == 403

    await admin.goto(line.url + "/login")
    await admin.fill("#login", "boss")
    await admin.fill("#password", PASSWORD)
    await admin.click("#sign-in")
    await admin.click("#link-departments")
    endpoint = admin.locator(f"#f-{OFFICE}-endpoint")
    await expect(endpoint).to_have_value(phone_of(configs.port))
    await endpoint.fill(phone_of(new_phone.port))
    await admin.click(f"#dept-save-{OFFICE}")
    await expect(admin.locator("#done-note")).to_be_visible()
    await expect(endpoint).to_have_value(phone_of(new_phone.port))
    await admin.screenshot(path=str(ARTIFACTS / "departments.png"), full_page=True)

    # the agent's next call, no restart: the blind transfer rings the new phone
    await agent.goto(line.url + "/agent")
    await expect(agent.locator("#live-desk")).to_have_attribute("data-connected", "true")
    caller = await line.call()
    await expect(agent.locator("#transfer-form")).to_be_visible(timeout=(IVR_S + STEP_S) * 1000)
    await agent.locator("#transfer-target").select_option(f"department:{OFFICE}")
    await agent.click("#transfer-go")
    rows = await line.trail_until(has("transfer_connected"))
    assert [r.data.get("department") for r in rows if r.kind == "transfer_connected"] == [OFFICE]
    await finished(new_phone)  # answered, talked to the caller, hung up
    await finished(caller)  # and the engine ended the caller's side
    await finished(agent_phone)  # the agent's leg ended at the blind transfer
    configs.kill()
    await configs.wait()
    rang = configs.log_file.read_text() if configs.log_file.exists() else ""
    assert "INVITE" not in rang  # config's phone was never rung
