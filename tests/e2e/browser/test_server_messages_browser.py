"""Forms that answer with the server's messages in the user's language carry `novalidate`: with a
required field left empty, Chromium must send the form (no validation bubble in the browser's own
language) and the page must show the server's message in Swahili beside the field. Driven in
Debian's Chromium: the staff suspense release form, a KYC decision form and the checkout's M-Pesa
form. Without `novalidate` the release and checkout requests never reach the server."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from core.clock import SystemClock
from core.invoices import service as invoices
from core.merchants import service as merchants
from tests.e2e.browser.conftest import OpenPerIp, new_context
from tests.e2e.browser.test_staff_portal_browser import _sign_in, _staff
from tests.e2e.journeys.conftest import Stack, register, settle
from tests.e2e.ussd.conftest import customer_id_of
from webapp.deps_auth import get_rate_limiter
from webapp.staff_portal.kyc import Decision
from webapp.web import forms, i18n

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def _in_swahili(page: Page) -> None:
    await page.locator("#lang-switch").select_option("sw")
    await page.locator('form[action="/staff/language"] button[type="submit"]').click()
    await expect(page.locator("html")).to_have_attribute("lang", "sw")


async def _invoice(stack: Stack) -> str:
    rt = stack.rt
    async with rt.session_factory() as session, session.begin():
        merchant = await merchants.create_merchant(
            session=session, name="Duka la Amani", actor="t", clock=SystemClock(),
            settlement_phone="0712000001",
        )  # fmt: skip
        merchant.status = "active"
        await session.flush()
        assert rt.chains is not None
        invoice = await invoices.create_invoice(
            session=session, merchant_id=merchant.id,
            request=invoices.NewInvoice(amount="2500", order_id="A-2001", description="Unga"),
            clock=rt.clock, chains=rt.chains,
        )  # fmt: skip
        return invoice.public_id


async def test_empty_required_fields_get_the_servers_swahili_message(stack: Stack, browser: Browser) -> None:
    rt = stack.rt
    rt.rate_limiter = OpenPerIp(get_rate_limiter(rt))
    applicant = stack.phone("+254711000042")
    await register(applicant, "1", "Neema Achieng", "42420000")  # unknown to the register: tier 0
    await settle(rt)
    customer_id = await customer_id_of(rt, applicant.number)
    finance, finance_secret = await _staff(rt, "finance")
    officer, officer_secret = await _staff(rt, "compliance")

    # the suspense release: both fields required, both left empty
    context = await new_context(browser, stack.url)
    page = await context.new_page()
    await _sign_in(page, finance, finance_secret)
    await _in_swahili(page)
    await page.goto("/staff/payouts")
    release = page.locator('form[action="/staff/payouts/suspense/release"]')
    await expect(release.locator("#f-trans_id")).to_have_attribute("required", "")
    await release.locator('button[type="submit"]').click()
    missing = forms.message_for("missing", "sw")  # an empty field is a missing one (forms.parse)
    assert missing != forms.message_for("missing", "en")
    await expect(page.locator("#e-trans_id")).to_have_text(missing)
    await expect(page.locator("#e-account")).to_have_text(missing)
    await expect(page.locator("#f-trans_id")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("html")).to_have_attribute("lang", "sw")
    await context.close()

    # a KYC decision: rejecting needs a reason, left at "no reason"
    context = await new_context(browser, stack.url)
    page = await context.new_page()
    await _sign_in(page, officer, officer_secret)
    await _in_swahili(page)
    await page.goto(f"/staff/kyc/{customer_id}")
    identity = page.locator(f'form[action="/staff/kyc/{customer_id}/identity"]')
    await identity.locator('button[value="reject"]').click()
    await expect(page.locator("#e-reason").first).to_have_text(missing)
    assert forms.validate(Decision, {"decision": "reject"}, "sw").value is not None  # the reason is the gap
    await context.close()

    # the checkout: the M-Pesa number left empty
    public_id = await _invoice(stack)
    context = await new_context(browser, stack.url)
    page = await context.new_page()
    await page.goto(f"/i/{public_id}?lang=sw")
    await page.get_by_role("link", name="M-Pesa").click()
    await expect(page.locator("#phone")).to_have_attribute("required", "")
    await page.locator(f'form[action^="/i/{public_id}/mpesa"] button[type="submit"]').click()
    await expect(page.get_by_text(i18n.text("checkout.mpesa.bad_phone", "sw"))).to_be_visible()
    assert i18n.text("checkout.mpesa.bad_phone", "sw") != i18n.text("checkout.mpesa.bad_phone", "en")
    await expect(page.locator("html")).to_have_attribute("lang", "sw")
    await context.close()
