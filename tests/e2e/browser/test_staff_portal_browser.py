"""Issue 17 "Done when", in Debian's Chromium: after customers use USSD, a compliance officer signs
in with TOTP (keyboard only), approves the pending KYC of the customer who registered on USSD, works
the registry's alert to an STR and downloads its goAML XML; a finance user reconciles a payout left
in unknown state and proposes a fee change that an admin approves; the dashboard charts the day's
traffic and the audit log page shows every step. Each page passes axe-core (no serious or critical
violation); screenshots land in var/test-artifacts/browser and docs/screenshots."""

from __future__ import annotations

import re

import httpx
import pyotp
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from core.auth import service as staff_service
from core.payments.models import Payout
from core.runtime import Runtime
from tests.e2e.browser.conftest import OpenPerIp, assert_accessible, new_context, screenshot
from tests.e2e.journeys.conftest import PIN, Stack, register, settle
from tests.e2e.ussd.conftest import fund
from tests.polling import eventually
from webapp.deps_auth import get_keyring, get_rate_limiter

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "Browser-portal-pass-2026!"


async def _staff(rt: Runtime, role: str) -> tuple[str, str]:
    async with rt.session_factory() as session:
        new = await staff_service.create_staff(
            session=session, email=f"{role}@kibeti.test", role=role, password=PASSWORD,
            keyring=get_keyring(rt), clock=rt.clock, actor="test",
        )  # fmt: skip
        await session.commit()
    return new.staff.email, pyotp.parse_uri(new.provisioning_uri).secret  # type: ignore[union-attr]


async def _sign_in(page: Page, email: str, secret: str) -> None:
    await page.goto("/staff")
    await expect(page).to_have_url(re.compile(r"/staff/sign-in"))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Authenticator code").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


async def _sign_in_by_keyboard(page: Page, email: str, secret: str) -> None:
    """Keyboard only: the skip link comes first, then Tab reaches each field and Enter submits."""
    await page.goto("/staff")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip"
    for _ in range(10):
        if await page.evaluate("document.activeElement.id") == "f-email":
            break
        await page.keyboard.press("Tab")
    await page.keyboard.type(email)
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Tab")
    await page.keyboard.type(pyotp.TOTP(secret).now())
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()


async def _visit(page: Page, path: str, shot: str, *, docs: bool = False) -> None:
    await page.goto(path)
    await assert_accessible(page)
    await screenshot(page, shot, for_docs=docs)


async def _unknown_payout(stack: Stack) -> str:
    """A cash-out whose B2C result never comes (the simulator sends only the queue timeout)."""
    cashier = stack.phone("+254722000333")
    await register(cashier, "1", "Baraka Otieno", "23456789")
    await settle(stack.rt)
    await fund(stack.rt, cashier.number, "600", "KES")
    steered = await stack.http.post(
        f"{stack.url}/daraja-sim/simulator/b2c/behaviour", json={"callback": "timeout_only", "next": 1}
    )
    assert steered.status_code == 200, steered.text
    await cashier.dial()
    await cashier.send("5")
    await cashier.send("500")
    assert "on its way" in await cashier.send(PIN)

    async def unknown() -> str | None:
        async with stack.rt.session_factory() as session:
            payout = (await session.execute(select(Payout))).scalars().first()
            return payout.id if payout is not None and payout.status == "unknown" else None

    return str(await eventually(unknown, what="the payout to be left unknown"))


async def test_staff_portal_done_when(stack: Stack, browser: Browser) -> None:
    rt = stack.rt
    rt.rate_limiter = OpenPerIp(get_rate_limiter(rt))
    newcomer = stack.phone("+254711000001")
    assert "Welcome to Kibeti" in await register(
        newcomer, "1", "Wanjiku Njeri", "34560000"
    )  # not in the register
    payout_id = await _unknown_payout(stack)
    await settle(rt)
    officer, officer_secret = await _staff(rt, "compliance")
    finance, finance_secret = await _staff(rt, "finance")
    admin, admin_secret = await _staff(rt, "admin")

    # compliance: TOTP sign-in by keyboard, KYC approval, the alert worked to an STR download
    context = await new_context(browser, stack.url)
    page = await context.new_page()
    await page.goto("/staff/sign-in")
    await assert_accessible(page)
    await screenshot(page, "staff-sign-in", for_docs=True)
    await _sign_in_by_keyboard(page, officer, officer_secret)
    await assert_accessible(page)
    await expect(page.locator("svg.chart").first).to_be_visible()  # the day's traffic
    await screenshot(page, "staff-dashboard", for_docs=True)
    await _visit(page, "/staff/cases", "staff-cases")
    row = page.get_by_role("row").filter(has_text="ID not found in the register")
    await row.get_by_role("button", name="Open a case").click()
    await expect(page.get_by_role("status")).to_contain_text("Case opened")
    await page.get_by_label("Staff email").fill(officer)
    await page.get_by_role("button", name="Assign").click()
    await page.get_by_label("Note", exact=True).first.fill("The registry does not know this ID number.")
    await page.get_by_role("button", name="Add the note").click()
    await page.get_by_label("Grounds for suspicion").fill(
        "ID number unknown to the registry; funds moved on."
    )
    await page.get_by_role("button", name="Escalate to an STR").click()
    await expect(page.locator("time[data-countdown]")).to_be_visible()  # the 2-day deadline
    await assert_accessible(page)
    await screenshot(page, "staff-case-escalated", for_docs=True)
    await page.get_by_role("button", name="Build the STR (goAML XML)").click()
    async with page.expect_download() as download_info:
        await page.get_by_role("link", name=re.compile(r"Download STR")).click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".xml")
    xml = (await download.path()).read_text()
    assert "<report" in xml and "STR" in xml
    # the identity decided by hand: its registry alert, worked above in a case, stays with the case
    await _visit(page, "/staff/kyc", "staff-kyc-queue")
    await page.get_by_role("link", name=re.compile(r"Customer \d+")).first.click()
    await expect(page.get_by_text("Wanjiku Njeri")).to_be_visible()
    await assert_accessible(page)
    await screenshot(page, "staff-kyc-review", for_docs=True)
    await page.get_by_role("button", name="Approve identity (tier 1)").click()
    await expect(page.get_by_role("status")).to_contain_text("Approved")
    await _visit(page, "/staff/limits", "staff-limits")
    await _visit(page, "/staff/customers", "staff-customers")
    await page.get_by_role("link", name=re.compile(r"Customer \d+")).first.click()
    await assert_accessible(page)
    await screenshot(page, "staff-customer")
    await page.get_by_label("Language").select_option("sw")  # the viewer's language, kept in the session
    await page.get_by_role("button", name="Change").click()
    await expect(page.locator("html")).to_have_attribute("lang", "sw")
    await _visit(page, "/staff/kyc", "staff-kyc-queue-sw")
    await expect(page.get_by_role("heading", name="Foleni ya KYC")).to_be_visible()
    await context.close()

    # finance: reconcile the unknown payout, propose a fee change
    context = await new_context(browser, stack.url)
    page = await context.new_page()
    await _sign_in(page, finance, finance_secret)
    await _visit(page, "/staff/payouts?state=unknown", "staff-payouts-unknown", docs=True)
    await expect(page.get_by_role("link", name=payout_id)).to_be_visible()
    await page.get_by_role("button", name="Reconcile now").click()
    await expect(page.get_by_role("status")).to_contain_text("Reconciliation started")

    async def settled() -> bool:
        async with rt.session_factory() as session:
            payout = await session.get(Payout, payout_id)
            return payout is not None and payout.status == "succeeded"

    await eventually(settled, what="the reconciled payout to succeed")
    await _visit(page, f"/staff/payouts/{payout_id}", "staff-payout-reconciled")
    await expect(page.get_by_role("definition").filter(has_text="succeeded")).to_be_visible()
    await _visit(page, "/staff/config", "staff-config")
    await page.get_by_label("Fee", exact=True).select_option("withdrawal")
    await page.get_by_label("Percentage").fill("0.75")
    await page.get_by_label("Why").fill("Match the market")
    await page.locator('form[action="/staff/config/fees"]').get_by_role("button", name="Propose").click()
    await expect(page.get_by_role("status")).to_contain_text("second person")
    await expect(page.locator("ins").filter(has_text="0.75")).to_be_visible()
    await _visit(page, "/staff/fx", "staff-fx")
    await context.close()

    # admin: approves the change; the audit log shows every step
    context = await new_context(browser, stack.url)
    page = await context.new_page()
    await _sign_in(page, admin, admin_secret)
    await page.goto("/staff/config")
    await assert_accessible(page)
    await screenshot(page, "staff-config-diff", for_docs=True)
    await page.get_by_role("button", name="Approve").click()
    await expect(page.get_by_role("status")).to_contain_text("Approved")
    await _visit(page, "/staff/audit", "staff-audit-log", docs=True)
    body = await page.locator("main").inner_text()
    for action in (
        "staff.login", "kyc.t1_reviewed", "case.escalated", "report.downloaded",
        "payouts.reconcile_requested", "config.change_proposed", "config.change_approved",
    ):  # fmt: skip
        assert action in body, action
    await _visit(page, "/staff/merchants", "staff-merchants")
    await page.goto("/staff/audit")
    await page.get_by_role("link", name="Verify the chain").click()
    await expect(page.get_by_text("The chain is intact")).to_be_visible()
    await context.close()


async def test_static_files_and_csp_are_served(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url) as http:
        css = await http.get("/static/web/kibeti.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert (await http.get("/static/web/../app.py")).status_code == 404
        page = await http.get("/staff/sign-in")
        assert "script-src 'self'" in page.headers["content-security-policy"]
