"""An agent in headless Chromium finds an account by its kana, opens the stop form from it,
submits an invalid stop (the field's message, nothing written), then a valid one, and reads the
confirmation number in its spoken groups."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.async_api import Page, expect

from ivr.numbers import confirmation_number
from ivr.store.tables import audit_log, service_requests
from tests.browser.conftest import ARTIFACTS, Console, sign_in
from tests.integration.store.storedata import cust, seed

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def count(console: Console, table: sa.Table) -> int:
    async with console.engine.connect() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_an_agent_finds_an_account_by_kana_and_keys_a_stop(
    page: Page, console: Console
) -> None:
    await seed(console.engine)
    await sign_in(page, console, "agent1")
    await expect(page).to_have_url(console.url("/agent"))
    await page.fill("#search-term", "しけん")
    await page.press("#search-term", "Enter")
    results = page.locator("#search-results > li")
    await expect(results).to_have_count(5)
    assert page.url == console.url("/agent/search")  # posted: the term is not in the URL
    assert await count(console, audit_log) == 5  # one row per account shown

    first = results.nth(0)
    await expect(first).to_have_attribute("data-customer-number", cust(1))
    await first.locator("button.open-stop").click()
    await expect(page.locator("#page-title")).to_have_text("使用中止")
    await expect(page.locator("#f-customer_number")).to_have_value(cust(1))

    await page.fill("#f-stop_date", "2027-02-09")  # the day before the console's today
    await page.click("#intake-submit")
    await expect(page.locator("#e-stop_date")).to_have_text("過去の日付は指定できません。")
    await expect(page.locator("#f-stop_date")).to_have_attribute("aria-invalid", "true")
    assert await count(console, service_requests) == 0

    await page.fill("#f-stop_date", "2027-02-16")
    await page.click("#intake-submit")
    number = page.locator("#confirmation-number")
    expected = confirmation_number(1)
    await expect(number).to_have_attribute("data-number", expected)
    await expect(number.locator(".group")).to_have_text([expected[:4], expected[4:]])
    assert await count(console, service_requests) == 1
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "intake-stop-confirmation.png"), full_page=True)
