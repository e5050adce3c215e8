"""The operator dashboard in a real browser (headless chromium) against a real gateway."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.api.conftest import SERVICE_ID, Gateway
from tests.dashboard.browser import chromium, screenshot_path

TOKEN_ENV = "UEC_TEST_DASHBOARD_TOKEN"
TOKEN = "operator-secret"


@pytest.fixture
def admin_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return TOKEN


async def _login(page: Page, root: str, token: str) -> None:
    await page.goto(f"{root.rstrip('/')}/admin/dashboard")
    await page.fill("#token", token)
    await page.click("#login button")


async def test_the_dashboard_shows_each_route_live_after_the_token(
    gateway: Gateway, admin_token: str, tmp_path: Path
) -> None:
    """With the admin token the page lists the service's route as up, with the mapping
    generation; a screenshot is taken of it."""
    consumer = await gateway(admin_token_env=TOKEN_ENV)
    async with chromium() as browser:
        page = await browser.new_page(viewport={"width": 1280, "height": 800})
        await _login(page, str(consumer.client.make_url("")), admin_token)
        row = page.locator(f"#routes tr[data-service='{SERVICE_ID}']")
        await expect(row).to_contain_text("up")
        await expect(page.locator("#summary")).to_contain_text("mapping generation 1")
        await expect(page.locator("#in-doubt-count")).to_have_text("0")
        await page.screenshot(path=str(screenshot_path(tmp_path / "dashboard.png")))


async def test_a_wrong_token_is_refused_and_shows_no_data(
    gateway: Gateway, admin_token: str
) -> None:
    """A wrong token brings the login back with the refusal, and no route is shown."""
    consumer = await gateway(admin_token_env=TOKEN_ENV)
    async with chromium() as browser:
        page = await browser.new_page()
        await _login(page, str(consumer.client.make_url("")), "not-the-token")
        await expect(page.locator("#login-error")).to_have_text("the admin token was refused")
        await expect(page.locator("#board")).to_be_hidden()
        assert await page.locator("#routes tbody tr").count() == 0


async def test_the_login_form_is_gone_once_connected(gateway: Gateway, admin_token: str) -> None:
    """Once the token is accepted the login form is hidden and the board shown."""
    consumer = await gateway(admin_token_env=TOKEN_ENV)
    async with chromium() as browser:
        page = await browser.new_page()
        await _login(page, str(consumer.client.make_url("")), admin_token)
        await expect(page.locator("#board")).to_be_visible()
        await expect(page.locator("#login")).to_be_hidden()
