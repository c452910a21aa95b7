"""The checkout page in Debian's Chromium on a small phone screen (360 x 640), on the running
embedded app: three QR codes, network tabs that switch, a countdown that ticks, Swahili, axe-core
clean; a payer taps Pay with M-Pesa, the Daraja simulator confirms, and the page turns to paid by
itself (its status poll). Screenshots land in var/test-artifacts/browser and docs/screenshots."""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from core.clock import SystemClock
from core.invoices import service as invoices
from core.merchants import service as merchants
from tests.e2e.browser.conftest import assert_accessible, browser, new_context, screenshot  # noqa: F401
from tests.e2e.journeys.conftest import Stack, at_fake, eventually, stack  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE = {
    "viewport": {"width": 360, "height": 640},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


async def _invoice(stack: Stack) -> str:  # noqa: F811
    rt = stack.rt
    async with rt.session_factory() as session, session.begin():
        merchant = await merchants.create_merchant(
            session=session,
            name="Duka la Amani",
            actor="t",
            clock=SystemClock(),
            settlement_phone="0712000001",
        )
        merchant.status = "active"
        await session.flush()
        assert rt.chains is not None
        invoice = await invoices.create_invoice(
            session=session,
            merchant_id=merchant.id,
            request=invoices.NewInvoice(
                amount="2500", order_id="A-1001", description="2 bags of maize flour"
            ),
            clock=rt.clock,
            chains=rt.chains,
        )
        return invoice.public_id


async def test_checkout_on_a_small_phone(stack: Stack, browser: Browser) -> None:  # noqa: F811
    public_id = await _invoice(stack)
    context = await new_context(browser, stack.url, **PHONE)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await page.goto(f"/i/{public_id}?lang=en")
    await expect(page.locator("svg.qr")).to_have_count(3)
    first = await page.locator("#countdown").text_content()
    await expect(page.locator("#countdown")).not_to_have_text(first or "", timeout=5000)  # it ticks
    # tabs: one panel at a time
    await expect(page.locator("section.panel.active")).to_have_count(1)
    await page.get_by_role("link", name="USDT (TRON)").click()
    await expect(page.locator("#pay-trc20")).to_be_visible()
    await expect(page.locator("#pay-btc")).to_be_hidden()
    await expect(page.get_by_text("Send only USDT on TRON (TRC20) to this address.")).to_be_visible()
    await assert_accessible(page)
    await screenshot(page, "checkout-trc20-en", for_docs=True)

    await page.goto(f"/i/{public_id}?lang=sw")
    await page.get_by_role("link", name="M-Pesa").click()
    await assert_accessible(page)
    await screenshot(page, "checkout-mpesa-sw", for_docs=True)
    await page.get_by_label("Nambari ya simu ya M-Pesa").fill("0712 345 678")
    await page.get_by_role("button", name="Lipa kwa M-Pesa").click()
    await expect(page.get_by_text("Angalia simu yako")).to_be_visible()

    async def paid() -> bool:
        async with stack.rt.session_factory() as session:
            view = await invoices.get_invoice(session=session, invoice_id=public_id)
        return view.status == "settled"

    await eventually(paid, timeout=90, what="the M-Pesa payment to settle the invoice")
    await expect(page.get_by_text("Imelipwa. Asante!")).to_be_visible(timeout=30_000)  # the poll reloads
    await expect(page.locator("svg.qr")).to_have_count(0)
    await expect(page.get_by_text("Angalia simu yako")).to_have_count(0)
    await screenshot(page, "checkout-paid-sw")
    assert errors == []
    await context.close()
