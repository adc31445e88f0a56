"""The admin's notices page in headless Chromium: the form refuses what cannot be stored with a
message next to each field, a notice saved is made into audio by the real speech tools (the
sandbox chroot's, as `hotline prompts build` uses) and listed in force, and "End now" ends it.
Screenshots of the form and of the list go to artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Page, expect

from ivr.adapters.notices import NoticeDesk
from ivr.prompts import NoticeVoices, default_tts
from ivr.store.db import open_engine
from ivr.store.notices import NoticeStore
from ivr.store.passwords import Passwords
from ivr.store.staff import Role
from ivr.web.app import create_app
from tests.browser.conftest import ARTIFACTS
from tests.support.console import PASSWORD, VirtualClock, add_member, console_config, copy_database

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[2]
JA = "2月11日の午前9時から正午まで、本町1丁目の一部で断水します。"
EN = "Water will be off in part of Honcho 1-chome on February 11 from 9 a.m. to noon."


class Site:
    def __init__(self, url: str, voices: NoticeVoices) -> None:
        self.base = url
        self.voices = voices

    def url(self, path: str) -> str:
        return self.base + path


@pytest_asyncio.fixture(loop_scope="session")
async def site(template_db: Path, tmp_path: Path) -> AsyncIterator[Site]:
    engine = open_engine(copy_database(template_db, tmp_path))
    clock = VirtualClock()  # 2027-02-10 09:30 in Tokyo
    passwords = Passwords.for_tests()
    await add_member(engine, passwords, "root", Role.ADMIN, name="Admin Taro", language="en")
    voices = NoticeVoices(tmp_path / "prompts", default_tts(ROOT))
    desk = NoticeDesk(NoticeStore(engine), voices, clock=clock)
    app = create_app(console_config(), engine, clock, passwords=passwords, notice_desk=desk)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        tcp = web.TCPSite(runner, "127.0.0.1", 0)
        await tcp.start()
        port = runner.addresses[0][1]
        yield Site(f"http://127.0.0.1:{port}", voices)
    finally:
        await runner.cleanup()
        await engine.dispose()


async def test_an_admin_enters_a_notice_that_callers_then_hear(page: Page, site: Site) -> None:
    await page.goto(site.url("/login"))
    await page.fill("#login", "root")
    await page.fill("#password", PASSWORD)
    await page.click("#sign-in")
    await expect(page).to_have_url(site.url("/admin"))
    await page.click("#link-notices")
    await expect(page.locator("#page-title")).to_have_text("Notices callers hear")

    # what cannot be stored is refused, each field saying why, and what was typed stays
    await page.select_option("#f-kind", "planned_outage")
    await page.fill("#f-areas", "chuo 01;")
    await page.fill("#f-valid_from", "2027-02-11T09:00")
    await page.fill("#f-valid_until", "2027-02-11T08:00")
    await page.fill("#f-text_ja", JA)
    await page.click("#notice-submit")
    await expect(page.locator("#form-errors")).to_be_visible()
    await expect(page.locator("#e-areas")).to_contain_text("Area codes are up to 16 letters")
    await expect(page.locator("#e-valid_until")).to_have_text("Must be after the start.")
    await expect(page.locator("#f-areas")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#f-text_ja")).to_have_value(JA)

    await page.fill("#f-areas", "chuo-01, chuo-02")
    await page.fill("#f-valid_from", "2027-02-10T09:00")
    await page.fill("#f-valid_until", "2027-02-11T12:00")
    await page.fill("#f-text_en", EN)
    ARTIFACTS.mkdir(exist_ok=True)
    await page.locator("#notice-form").screenshot(path=str(ARTIFACTS / "notice-form.png"))
    await page.click("#notice-submit")

    # saved, rendered by the real speech tools, and in force
    await expect(page.locator("#saved-note")).to_contain_text(
        "Notice 1 is saved. Its audio is ready"
    )
    row = page.locator("#notices-in-force #notice-1")
    await expect(row).to_contain_text("chuo-01, chuo-02")
    await expect(row).to_contain_text("2027-02-10 09:00 – 2027-02-11 12:00")
    await expect(row).to_contain_text("Japanese: ready")
    await expect(row).to_contain_text("English: ready")
    for lang in ("ja", "en"):
        assert site.voices.path("notice-1", lang).stat().st_size > 16000
    await page.screenshot(path=str(ARTIFACTS / "notices-page.png"), full_page=True)

    await page.click("#end-1")
    await expect(page.locator("#notices-in-force")).to_have_count(0)
    await expect(page.locator("#notices-ended #notice-1")).to_contain_text("ended by: admin:root")

    await page.click("#switch-language")
    await expect(page.locator("#page-title")).to_have_text("お知らせ（自動音声）")
    await expect(page.locator("#notices-ended #notice-1")).to_contain_text("断水")
