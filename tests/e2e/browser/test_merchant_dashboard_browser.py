"""The merchant dashboard in Debian's Chromium on a small phone (360 x 640), on the running embedded
app: a staff-invited owner signs in with password and authenticator code, makes a payment link,
sees it paid on the simulated TRON chain (`kibeti invoice simulate-pay --confirm`), creates and
revokes an API key, adds a webhook endpoint (a receiver on 127.0.0.1), sends a test and delivers
it again; a viewer reads but cannot create keys; axe-core finds no serious problem on any page."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyotp
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from core.invoices import service as invoices
from core.merchant_users import service as merchant_users
from core.merchants import service as merchants
from tests.e2e.browser.conftest import assert_accessible, browser, new_context, screenshot  # noqa: F401
from tests.e2e.journeys.conftest import Stack, at_fake, eventually, stack  # noqa: F401
from tests.integration.webhooks.receiver import Receiver
from webapp.deps_auth import get_keyring

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE_SCREEN = {
    "viewport": {"width": 360, "height": 640},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


@dataclass
class Person:
    email: str
    password: str
    totp: pyotp.TOTP


async def _merchant(stack: Stack) -> int:  # noqa: F811
    async with stack.rt.session_factory() as session:
        merchant = await merchants.create_merchant(
            session=session, name="Duka la Amani", actor="staff:1", clock=stack.rt.clock,
            settlement_phone="0712000001",
        )  # fmt: skip
        merchant.status = "active"
        await session.commit()
        return merchant.id


async def _invite(stack: Stack, merchant_id: int, email: str, role: str) -> Person:  # noqa: F811
    async with stack.rt.session_factory() as session:
        invitation = await merchant_users.invite(
            session=session, merchant_id=merchant_id, email=email, role=role,
            keyring=get_keyring(stack.rt), clock=stack.rt.clock, actor="staff:1",
        )  # fmt: skip
        await session.commit()
    totp = pyotp.parse_uri(invitation.provisioning_uri)
    assert isinstance(totp, pyotp.TOTP)
    return Person(email, invitation.password, totp)


async def _sign_in(browser: Browser, stack: Stack, person: Person) -> tuple[BrowserContext, Page]:  # noqa: F811
    context = await new_context(browser, stack.url, **PHONE_SCREEN)
    page = await context.new_page()
    await page.goto("/merchant/")
    await expect(page).to_have_url(re.compile(r"/merchant/sign-in"))
    await page.get_by_label("Email").fill(person.email)
    await page.get_by_label("Password").fill(person.password)
    await page.get_by_label("Code from your authenticator app").fill(person.totp.now())
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
    return context, page


async def _status(stack: Stack, public_id: str) -> str:  # noqa: F811
    async with stack.rt.session_factory() as session:
        view = await invoices.get_invoice(session=session, invoice_id=public_id)
        await session.commit()
    return view.status


async def test_a_merchant_on_a_small_phone(stack: Stack, browser: Browser) -> None:  # noqa: F811
    merchant_id = await _merchant(stack)
    owner = await _invite(stack, merchant_id, "owner@amani.test", "owner")
    viewer = await _invite(stack, merchant_id, "clerk@amani.test", "viewer")
    receiver = Receiver().start()
    try:
        context, page = await _sign_in(browser, stack, owner)
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("dialog", lambda dialog: dialog.accept())  # "Revoke this key?"
        await assert_accessible(page)

        # a webhook endpoint first, so the payment's event is delivered to it
        await page.get_by_role("link", name="Webhooks").click()
        await page.get_by_label("URL").fill(receiver.url)
        await page.get_by_role("button", name="Add endpoint").click()
        await expect(page.locator("#new-secret")).to_be_visible()
        await expect(page.get_by_role("cell", name=receiver.url)).to_be_visible()
        await assert_accessible(page)

        await page.get_by_role("link", name="Invoices").click()
        await page.get_by_role("link", name="New payment link").click()
        await page.get_by_label("Amount in KES").fill("2500")
        await page.get_by_label("Description").fill("2 bags of maize flour")
        await page.get_by_label("Order").fill("A-1001")
        await assert_accessible(page)
        await page.get_by_role("button", name="Create link").click()
        await expect(page.get_by_text("Payment link created")).to_be_visible()
        heading = await page.get_by_role("heading", level=1).text_content()
        public_id = (heading or "").removeprefix("Invoice ").strip()
        assert public_id, heading
        await expect(page.get_by_text("No payments yet.")).to_be_visible()
        await assert_accessible(page)

        await stack.kibeti("invoice", "simulate-pay", public_id, "--network", "trc20", "--confirm")
        await eventually(
            lambda: _is_settled(stack, public_id), what="the TRC20 payment to settle the invoice"
        )
        await page.reload()
        await expect(page.locator("dl.kv dd").first).to_have_text(re.compile(r"^settled"))
        explorer = page.locator('a[href^="https://tronscan.org/#/transaction/"]')
        await expect(explorer).to_have_count(1)
        await assert_accessible(page)
        await screenshot(page, "merchant-invoice-paid-en", for_docs=True)
        await page.get_by_role("link", name="Invoices").click()
        await page.locator("#f-status").select_option("settled")
        await page.get_by_role("button", name="Filter").click()
        await expect(page.get_by_role("link", name=public_id)).to_be_visible()
        await assert_accessible(page)
        await screenshot(page, "merchant-invoices-en", for_docs=True)

        await page.get_by_role("link", name="API keys").click()
        await page.get_by_label("Name").fill("Till app")
        await page.get_by_label("invoices:write").check()
        await page.get_by_role("button", name="Create key").click()
        new_key = await page.locator("#new-key").text_content()
        assert new_key and new_key.startswith("kbt_")
        await expect(page.get_by_role("cell", name="live", exact=True)).to_have_count(1)
        await assert_accessible(page)
        await screenshot(page, "merchant-keys-en", for_docs=True)
        await page.get_by_role("button", name="Revoke").click()
        await expect(page.get_by_text("The key is revoked")).to_be_visible()
        await expect(page.get_by_role("cell", name="revoked", exact=True)).to_have_count(1)
        await expect(page.locator("#new-key")).to_have_count(0)  # shown once
        revoked = await stack.http.get("/api/v1/invoices", headers={"Authorization": f"Bearer {new_key}"})
        assert revoked.status_code == 401

        await page.get_by_role("link", name="Webhooks").click()
        await expect(page.locator("#new-secret")).to_have_count(0)  # shown once
        await page.get_by_role("button", name="Send a test").click()
        await expect(page.get_by_text("A test event is on its way")).to_be_visible()
        await eventually(lambda: _delivered(receiver, "invoice.settled"), what="the settled event's delivery")
        await eventually(lambda: _delivered(receiver, "webhook.test"), what="the test event's delivery")
        before = len(receiver.delivered())
        await page.reload()
        await page.get_by_role("button", name="Deliver again").first.click()
        await expect(page.get_by_text("The event will be delivered again.")).to_be_visible()
        await eventually(lambda: _more_than(receiver, before), what="the redelivery")
        await assert_accessible(page)
        await screenshot(page, "merchant-webhooks-en", for_docs=True)

        await page.get_by_role("link", name="Settlements").click()
        await assert_accessible(page)
        await page.get_by_role("link", name="Settings").click()
        await assert_accessible(page)
        await page.locator("#lang-switch").select_option("sw")
        await page.get_by_role("button", name="Change").first.click()
        await expect(page.locator("html")).to_have_attribute("lang", "sw")
        await assert_accessible(page)
        assert [e for e in errors if "status of 422" not in e] == []
        await context.close()

        # the viewer reads, and cannot create a key: no form, and a forged POST is a 403 page
        context, page = await _sign_in(browser, stack, viewer)
        await expect(page.get_by_role("link", name=public_id)).to_be_visible()
        await expect(page.get_by_role("link", name="New payment link")).to_have_count(0)
        await page.get_by_role("link", name="API keys").click()
        await expect(page.get_by_role("button", name="Create key")).to_have_count(0)
        await expect(page.get_by_role("button", name="Revoke")).to_have_count(0)
        await assert_accessible(page)
        csrf = await page.locator('input[name="csrf_token"]').first.get_attribute("value")
        forged = await page.request.post(
            "/merchant/keys", form={"csrf_token": csrf or "", "name": "mine", "scopes": "invoices:write"}
        )
        assert forged.status == 403
        await page.reload()
        await expect(page.get_by_role("cell", name="Till app", exact=True)).to_have_count(
            1
        )  # still only the owner's
        await context.close()
    finally:
        receiver.stop()


async def _is_settled(stack: Stack, public_id: str) -> bool:  # noqa: F811
    return await _status(stack, public_id) == "settled"


async def _delivered(receiver: Receiver, event_type: str) -> bool:
    types = [
        {k.lower(): v for k, v in r.headers.items()}.get("kibeti-event-type") for r in receiver.delivered()
    ]
    return event_type in types


async def _more_than(receiver: Receiver, count: int) -> bool:
    return len(receiver.delivered()) > count
