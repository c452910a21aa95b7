"""Shared browser fixtures (the staff portal's tests, and the customer portal's and merchant
dashboard's after it): Playwright driving Debian's Chromium (/usr/bin/chromium, never a downloaded
browser), the running app of tests/e2e/journeys (uvicorn on a local port, SQLite, the in-process
queue and simulators), axe-core accessibility checks (vendored, offline) and screenshots kept as
test artifacts (var/test-artifacts/browser) and, for the docs, in docs/screenshots."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from core.ratelimit import PUBLIC_PER_IP, Decision, Limit
from tests.e2e.journeys.conftest import at_fake, stack  # noqa: F401 - the running app, reused

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "var" / "test-artifacts" / "browser"
DOC_SHOTS = ROOT / "docs" / "screenshots"
AXE = (Path(__file__).resolve().parent / "vendor" / "axe.min.js").read_text()
SERIOUS = ("serious", "critical")


class OpenPerIp:
    """The app's limiter without the per-IP request limit, which would count every page and form of
    a whole browser journey from 127.0.0.1; sign-in, PIN and OTP limits stay as they are."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def hit(self, limit: Limit, key: str) -> Decision:
        if limit is PUBLIC_PER_IP:
            return Decision(True, limit.limit, 0)
        decision: Decision = await self.inner.hit(limit, key)
        return decision

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's Chromium is missing: apt-get install chromium (Playwright never downloads one)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def new_context(browser: Browser, base_url: str, **options: Any) -> BrowserContext:
    context = await browser.new_context(base_url=base_url, accept_downloads=True, **options)
    context.set_default_timeout(20_000)  # a bound on a busy machine, not a timing check
    return context


async def screenshot(page: Page, name: str, *, for_docs: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if for_docs and not (DOC_SHOTS / path.name).exists():  # docs keep theirs: delete one to refresh it
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SHOTS / path.name)
    return path


async def assert_accessible(page: Page) -> None:
    """axe-core on the page as it is now: no serious or critical violation (WCAG 2.1 AA rules)."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE)  # evaluated by the browser's debugger, not a <script>: the CSP stays strict
    result = await page.evaluate(
        "async () => (await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', "
        "'wcag21a', 'wcag21aa', 'best-practice']}})).violations.map(v => ({id: v.id, impact: v.impact, "
        "nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"
    )
    bad = [v for v in result if v["impact"] in SERIOUS]
    assert not bad, f"{page.url}: {bad}"
