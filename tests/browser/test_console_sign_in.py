"""The console in headless Chromium: signing in and out, what an agent may open, refusals
(no session, no CSRF token, too many failures) and expiry, as an agent's browser sees them."""

from __future__ import annotations

import pytest
from aiohttp import web
from playwright.async_api import BrowserContext, Page, expect

from ivr.web.access import ACCESS, PUBLIC
from ivr.web.sessions import COOKIE_NAME
from tests.browser.conftest import ARTIFACTS, Console, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def session_cookies(context: BrowserContext) -> list[str]:
    return [c["value"] for c in await context.cookies() if c["name"] == COOKIE_NAME]


async def test_an_agent_signs_in_and_sees_their_page(
    page: Page, context: BrowserContext, console: Console
) -> None:
    await sign_in(page, console, "agent1")
    await expect(page).to_have_url(console.url("/agent"))
    await expect(page.locator("#who-name")).to_have_text("水道 花子")
    await expect(page.locator("#member-endpoint")).to_have_text("PJSIP/agent1")
    await expect(page.locator("#member-role")).to_have_text("オペレーター")
    cookie = next(c for c in await context.cookies() if c["name"] == COOKIE_NAME)
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Strict"
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "agent-page.png"), full_page=True)


async def test_signing_in_works_from_the_keyboard(page: Page, console: Console) -> None:
    await page.goto(console.url("/login?lang=en"))
    await expect(page.locator("#login")).to_be_focused()  # autofocus
    await page.keyboard.type("root")
    await page.keyboard.press("Tab")
    await expect(page.locator("#password")).to_be_focused()
    await page.keyboard.type("correct horse battery")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(console.url("/admin"))
    await expect(page.locator("#staff")).to_contain_text("agent1")
    await expect(page.locator("#sign-out")).to_have_text("Sign out")  # root's language: en


async def test_a_wrong_password_shows_an_error_and_no_session(
    page: Page, context: BrowserContext, console: Console
) -> None:
    await sign_in(page, console, "agent1", "not the password")
    await expect(page.locator("#login-error")).to_have_text(
        "ログインIDまたはパスワードが違います。"
    )
    assert await session_cookies(context) == []
    await page.goto(console.url("/agent"))
    await expect(page).to_have_url(console.url("/login?next=/agent"))


async def test_repeated_failures_are_rate_limited(page: Page, console: Console) -> None:
    for _ in range(5):
        await sign_in(page, console, "agent1", "not the password")
        await expect(page.locator("#login-error")).to_be_visible()
    response_statuses: list[int] = []
    page.on("response", lambda r: response_statuses.append(r.status))
    await sign_in(page, console, "agent1")  # the right password, too late
    await expect(page.locator("#login-error")).to_contain_text("300秒後")
    assert 429 in response_statuses
    console.clock.advance(301)
    await sign_in(page, console, "agent1")
    await expect(page).to_have_url(console.url("/agent"))


async def test_log_out_ends_the_session(
    page: Page, context: BrowserContext, console: Console
) -> None:
    await sign_in(page, console, "agent1")
    await expect(page).to_have_url(console.url("/agent"))
    old = await session_cookies(context)
    await page.click("#sign-out")
    await expect(page).to_have_url(console.url("/login"))
    await page.go_back()  # the agent page is not kept (no-store): asked again, refused
    await expect(page).to_have_url(console.url("/login?next=/agent"))
    await context.add_cookies(
        [{"name": COOKIE_NAME, "value": old[0], "url": console.site.url}]
    )  # the old cookie, put back
    await page.goto(console.url("/agent"))
    await expect(page).to_have_url(console.url("/login?next=/agent"))


async def test_an_agent_cannot_open_supervisor_or_admin_pages(page: Page, console: Console) -> None:
    await sign_in(page, console, "agent1")
    for path in ("/supervisor", "/admin"):
        answer = await page.goto(console.url(path))
        assert answer is not None
        assert answer.status == 403
        await expect(page.locator("#error-message")).to_have_text(
            "この画面を開く権限がありません。"
        )


async def test_a_supervisor_opens_the_supervisor_page(page: Page, console: Console) -> None:
    await sign_in(page, console, "super")
    await expect(page).to_have_url(console.url("/supervisor"))
    await expect(page.locator("#agents")).to_contain_text("PJSIP/agent1")
    answer = await page.goto(console.url("/admin"))
    assert answer is not None
    assert answer.status == 403


def get_routes(app: web.Application) -> list[tuple[str, bool]]:
    """(a concrete path, is public) for every GET route of the console but static files."""
    found = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if route.method == "GET" and "path" in info:
            found.append((str(info["path"]), app[ACCESS][route] == PUBLIC))
    return found


async def test_no_page_or_api_without_a_session(page: Page, console: Console) -> None:
    routes = get_routes(console.site.app)
    assert len(routes) >= 7
    for path, public in routes:
        answer = await page.goto(console.url(path))
        assert answer is not None
        if public:
            assert answer.status == 200, path
        elif path.startswith("/api/"):
            assert answer.status == 401, path
        else:
            assert page.url == console.url(f"/login?next={path}"), path


async def test_a_form_post_without_the_csrf_token_is_refused(
    page: Page, context: BrowserContext, console: Console
) -> None:
    await sign_in(page, console, "agent1")
    await expect(page).to_have_url(console.url("/agent"))
    # the page's own sign-out form, with its token taken out
    await page.locator("form[action='/logout'] input[name=csrf_token]").evaluate(
        "input => input.remove()"
    )
    await page.click("#sign-out")
    await expect(page.locator("#error-title")).to_have_text("403")
    await page.goto(console.url("/agent"))  # still signed in: the post changed nothing
    await expect(page.locator("#who-name")).to_have_text("水道 花子")


async def test_an_idle_session_expires(page: Page, console: Console) -> None:
    await sign_in(page, console, "agent1")
    await expect(page).to_have_url(console.url("/agent"))
    console.clock.advance(29 * 60)
    await page.reload()
    await expect(page).to_have_url(console.url("/agent"))
    console.clock.advance(31 * 60)
    await page.reload()
    await expect(page).to_have_url(console.url("/login?next=/agent"))
