"""The leak line's on-duty list edited in the console, for real: the engine (`hotline run`'s
composition, with the console) on the sandboxed Asterisk, an admin in headless Chromium, SIPp
on-duty phones and a SIPp caller on the leak line.

config.yaml lists one on-duty phone; the admin puts another person first on /admin/duty; the
next leak call rings that person first (who presses 1 and gets the caller: the trail says who
accepted), and config's phone never rings. An agent cannot open the page.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from ivr.store.duty import DutyRoster, DutyStep
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from tests.browser.conftest import ARTIFACTS, CALLER, Rig, finished, has
from tests.support.console import PASSWORD, add_member
from tests.support.sipp import Sipp, caller_args

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.asyncio(loop_scope="session"),
]

LEAK = "emergency_duty"
LEAK_LINE = "1100"


def phone_of(sipp: Sipp) -> str:
    return f"PJSIP/onduty/sip:onduty@127.0.0.1:{sipp.port}"


async def sign_in(page: Page, url: str, login: str) -> None:
    await page.goto(url + "/login")
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")


async def test_an_on_duty_list_edited_in_the_console_changes_who_a_leak_call_rings_first(
    rig: Rig, page: Page
) -> None:
    # config's phone would log the INVITE if it were rung
    configs = await rig.phone("phone_noanswer.xml")
    sato = await rig.phone("phone_press1_talk.xml", talk_ms=1500)
    line = await rig.start(
        departments={
            LEAK: {"on_duty": [phone_of(configs)], "ring_timeout_s": 8, "accept_timeout_s": 6}
        }
    )
    # the engine's start seeded config's list into the database
    roster = DutyRoster(line.db)
    assert await roster.on_duty(LEAK) == (DutyStep(phone_of(configs), phone_of(configs), 8),)
    passwords = Passwords.for_tests()
    await add_member(line.db, passwords, "boss", Role.ADMIN, language="en")
    await add_member(line.db, passwords, "agent1", Role.AGENT)

    await sign_in(page, line.url, "agent1")
    refused = await page.goto(line.url + "/admin/duty")
    assert refused is not None
    assert refused.status == 403
    await page.context.clear_cookies()

    await sign_in(page, line.url, "boss")
    await page.goto(line.url + "/admin")
    await page.click("#link-duty")
    section = page.locator(f"#duty-{LEAK}")
    await expect(section.locator(f"#f-{LEAK}-endpoint-1")).to_have_value(phone_of(configs))
    # Sato goes first: typed in the blank row and numbered 1, config's phone numbered 2
    await section.locator(f"#f-{LEAK}-order-1").fill("2")
    await section.locator(f"#f-{LEAK}-order-2").fill("1")
    await section.locator(f"#f-{LEAK}-name-2").fill("Sato")
    await section.locator(f"#f-{LEAK}-endpoint-2").fill(phone_of(sato))
    await section.locator(f"#f-{LEAK}-ring_s-2").fill("8")
    await section.locator(f"#duty-save-{LEAK}").click()
    await expect(page.locator("#saved-note")).to_be_visible()
    await expect(page.locator(f"#f-{LEAK}-name-1")).to_have_value("Sato")
    await page.screenshot(path=str(ARTIFACTS / "duty-list.png"), full_page=True)

    # the next leak call, with no restart: Sato's phone rings first and presses 1
    caller = await Sipp(
        "caller_silent.xml",
        caller_args(line.sandbox.sip_host, line.sandbox.sip_port, LEAK_LINE, CALLER),
        line.workdir,
    ).start()
    rig.sipps.append(caller)
    rows = await line.trail_until(has("emergency_connected"))
    assert [(r.kind, r.data.get("detail")) for r in rows if r.kind.startswith("emergency")] == [
        ("emergency", None),
        ("emergency_accepted", "0 Sato"),
        ("emergency_connected", "0"),
    ]
    await finished(sato)  # talked, then hung up
    await finished(caller)  # and the engine ended the caller's side
    configs.kill()
    await configs.wait()
    rang = configs.log_file.read_text() if configs.log_file.exists() else ""
    assert "INVITE" not in rang  # config's phone was never rung
