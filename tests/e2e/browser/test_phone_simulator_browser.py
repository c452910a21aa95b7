"""The USSD phone simulator page, in Debian's Chromium: dialling a number that is not a Kenyan
mobile shows the server's sentence on the phone's screen, never the JSON it came in; a valid number
still dials the real USSD menu."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.browser.conftest import OpenPerIp, new_context
from tests.e2e.journeys.conftest import Stack
from webapp.deps_auth import get_rate_limiter

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_an_invalid_number_shows_the_detail_text_not_json(stack: Stack, browser: Browser) -> None:
    stack.rt.rate_limiter = OpenPerIp(get_rate_limiter(stack.rt))
    answer = await stack.http.post("/simulator/phone/hop", json={"phone": "12345", "text": ""})
    assert answer.status_code == 422 and isinstance(answer.json()["detail"], str)  # the documented shape
    detail = answer.json()["detail"]
    context = await new_context(browser, stack.url)
    try:
        page = await context.new_page()
        await page.goto("/simulator/phone")
        await page.locator("#number").fill("12345")
        await page.locator("#dial").click()
        await expect(page.locator("#screen")).to_have_text(f"Error: {detail}")
        assert "{" not in await page.locator("#screen").inner_text()
        await page.locator("#number").fill("0712345678")
        await page.locator("#dial").click()
        await expect(page.locator("#screen")).not_to_contain_text("Error")
        await expect(page.locator("#reply")).to_be_enabled()  # a CON screen: the menu answered
    finally:
        await context.close()
