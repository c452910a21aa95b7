"""The hosted checkout page /i/<id> over HTTP (the real app, both databases): three QR codes a wallet
can scan (BIP21, EIP-681, the TRON address), the plain network warnings, a countdown, English and
Swahili, the status JSON, a page that works without JavaScript (CSP: no inline script), M-Pesa by
STK push (one push per double tap), and bad input answered in the payer's language."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select

from core.clock import FixedClock
from core.invoices.models import Invoice, InvoiceMethod
from core.merchants.models import Merchant
from core.payments.models import MpesaCollection
from core.runtime import Runtime
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.webhooks.conftest import Factory

BTC_ADDRESS = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
ERC20_ADDRESS = "0x52908400098527886E0F7030069857D2E4169EE7"
TRC20_ADDRESS = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


async def _invoice(
    factory: Factory, *, public_id: str = "inv_checkout1", status: str = "new", expires_in: int = 900
) -> str:
    async with factory() as session:
        merchant = Merchant(name="Duka la Amani", created_at=NOW, created_by="t", status="active")
        session.add(merchant)
        await session.flush()
        invoice = Invoice(
            public_id=public_id,
            merchant_id=merchant.id,
            currency="KES",
            amount_minor=250_000,
            kes_amount_minor=250_000,
            order_id="A-1001",
            description="2 bags of maize flour",
            status=status,
            created_at=NOW,
            expires_at=NOW + timedelta(seconds=expires_in),
            monitoring_until=NOW + timedelta(seconds=expires_in, hours=24),
        )
        session.add(invoice)
        await session.flush()
        for asset, address, rate, due in (
            ("BTC", BTC_ADDRESS, "9000000", 27_778),  # 0.00027778 BTC
            ("USDT-TRC20", TRC20_ADDRESS, "129.5", 19_305_020),  # 19.305020 USDT
            ("USDT-ERC20", ERC20_ADDRESS, "129.5", 19_305_020),
            ("KES", "", "1", 250_000),
        ):
            session.add(
                InvoiceMethod(invoice_id=invoice.id, asset=asset, address=address, rate=rate, due_minor=due)
            )
        await session.commit()
        return public_id


@pytest.fixture
async def page(session_factory: Factory) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime]]:
    runtime = make_runtime(session_factory, FixedClock(NOW))
    async with api_client(runtime) as (_app, client):
        yield client, runtime


async def test_three_qr_codes_warnings_countdown_in_english(
    page: tuple[httpx.AsyncClient, Runtime], session_factory: Factory
) -> None:
    client, _runtime = page
    invoice_id = await _invoice(session_factory)
    answer = await client.get(f"/i/{invoice_id}", headers={"Accept-Language": "en-KE,en;q=0.9"})
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert html.count('<svg class="qr"') == 3
    assert f"bitcoin:{BTC_ADDRESS}?amount=0.00027778" in html
    assert (
        f"ethereum:0xdAC17F958D2ee523a2206206994597C13D831ec7/transfer?address={ERC20_ADDRESS}&amp;uint256=19305020"
        in html
    )
    assert TRC20_ADDRESS in html
    assert "Send only USDT on TRON (TRC20) to this address." in html
    assert "Send only USDT on Ethereum (ERC20) to this address." in html
    assert "Send only Bitcoin (BTC)" in html
    assert "Duka la Amani" in html and "2,500.00" in html and "USDT-TRC20 19.305020" in html
    # an amount to send: the house layout (code first), every decimal of the scale kept
    assert "BTC 0.00027778" in html and "USDT-ERC20 19.305020" in html and "19.305020 USDT" not in html
    assert re.search(
        r'<time id="countdown" datetime="2026-12-05T09:15:00\+00:00" data-seconds="900"[^>]*>15:00</time>',
        html,
    )
    assert "Pay with M-Pesa" in html and 'name="phone"' in html
    # no inline script or style: the CSP forbids both, so the page must not need them
    assert "<script>" not in html and "style=" not in html and "onclick" not in html
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert answer.headers["cache-control"] == "no-store"
    assert '<noscript><meta http-equiv="refresh" content="30"></noscript>' in html
    script = await client.get("/static/checkout/checkout.js")
    assert script.status_code == 200 and "countdown" in script.text
    assert (await client.get("/static/checkout/checkout.css")).status_code == 200
    assert (await client.get("/static/checkout/..%2Fqr.py")).status_code == 404


async def test_swahili_by_query_or_accept_language(
    page: tuple[httpx.AsyncClient, Runtime], session_factory: Factory
) -> None:
    client, _runtime = page
    invoice_id = await _invoice(session_factory)
    for answer in (
        await client.get(f"/i/{invoice_id}?lang=sw"),
        await client.get(f"/i/{invoice_id}", headers={"Accept-Language": "sw-KE,sw;q=0.9,en;q=0.5"}),
    ):
        html = answer.text
        assert answer.status_code == 200 and '<html lang="sw">' in html
        assert html.count('<svg class="qr"') == 3
        assert "Tuma USDT kwenye mtandao wa TRON (TRC20) pekee kwa anwani hii." in html
        assert "Lipa kwa M-Pesa" in html and "Muda uliobaki wa kulipa" in html
        assert "Send only" not in html


async def test_status_json_and_an_expired_invoice_shows_no_way_to_pay(
    page: tuple[httpx.AsyncClient, Runtime], session_factory: Factory
) -> None:
    client, runtime = page
    invoice_id = await _invoice(session_factory)
    status = (await client.get(f"/i/{invoice_id}/status.json")).json()
    assert status["status"] == "new" and status["seconds_left"] == 900 and status["payable"] is True
    runtime.clock.advance(seconds=901)  # type: ignore[attr-defined]
    status = (await client.get(f"/i/{invoice_id}/status.json")).json()
    assert status["status"] == "expired" and status["payable"] is False and status["seconds_left"] == 0
    html = (await client.get(f"/i/{invoice_id}")).text
    assert (
        "This invoice has expired." in html and '<svg class="qr"' not in html and 'name="phone"' not in html
    )
    answer = await client.post(f"/i/{invoice_id}/mpesa", data={"phone": "0712345678"})
    assert answer.status_code == 409 and "This invoice cannot be paid now." in answer.text


async def test_unknown_or_malformed_invoice_ids_get_a_404_page(
    page: tuple[httpx.AsyncClient, Runtime],
) -> None:
    client, _runtime = page
    for path in ("/i/inv_nope", "/i/" + "x" * 60, "/i/%3Cscript%3E"):
        answer = await client.get(path + "?lang=sw")
        assert answer.status_code == 404 and "Hakuna ankara kama hiyo." in answer.text
    missing = await client.get("/i/inv_nope/status.json")
    assert missing.status_code == 404 and missing.json()["code"] == "invoice_not_found"


async def test_mpesa_button_asks_for_the_invoice_amount_once_per_double_tap(
    page: tuple[httpx.AsyncClient, Runtime], session_factory: Factory
) -> None:
    client, _runtime = page
    invoice_id = await _invoice(session_factory)
    first = await client.post(f"/i/{invoice_id}/mpesa?lang=sw", data={"phone": "0712 345 678"})
    assert first.status_code == 303 and first.headers["location"] == f"/i/{invoice_id}?lang=sw&mpesa=sent"
    again = await client.post(f"/i/{invoice_id}/mpesa?lang=sw", data={"phone": "+254712345678"})
    assert again.status_code == 303
    async with session_factory() as session:
        rows = list((await session.execute(select(MpesaCollection))).scalars())
    assert [(r.phone, r.amount_minor) for r in rows] == [("254712345678", 250_000)]
    shown = await client.get(first.headers["location"])
    assert "Angalia simu yako" in shown.text


@pytest.mark.parametrize("phone", ["", "12345", "0712 345 67x", "+1 202 555 0143", "020 2222222"])
async def test_bad_phone_numbers_get_a_clear_answer_and_no_push(
    page: tuple[httpx.AsyncClient, Runtime], session_factory: Factory, phone: str
) -> None:
    client, _runtime = page
    invoice_id = await _invoice(session_factory)
    answer = await client.post(f"/i/{invoice_id}/mpesa?lang=en", data={"phone": phone})
    assert answer.status_code == 422 and "Enter a Kenyan mobile number such as 0712 345 678." in answer.text
    async with session_factory() as session:
        assert list((await session.execute(select(MpesaCollection))).scalars()) == []


async def test_a_form_posted_from_another_site_starts_no_push(
    page: tuple[httpx.AsyncClient, Runtime], session_factory: Factory
) -> None:
    client, _runtime = page
    invoice_id = await _invoice(session_factory)
    answer = await client.post(
        f"/i/{invoice_id}/mpesa", data={"phone": "0712345678"}, headers={"Origin": "https://evil.example"}
    )
    assert answer.status_code == 403
    async with session_factory() as session:
        assert list((await session.execute(select(MpesaCollection))).scalars()) == []


def test_amounts_in_uris_are_exact() -> None:
    from core.money import Asset, Money
    from webapp.checkout.uris import bip21, eip681_erc20

    assert bip21("bc1q", Money.from_minor(100_000_000, Asset.BTC)) == "bitcoin:bc1q?amount=1"
    assert bip21("bc1q", Money.from_minor(1, Asset.BTC)) == "bitcoin:bc1q?amount=0.00000001"
    assert (
        eip681_erc20("0xabc", Money.of(Decimal("12.5"), Asset.USDT_ERC20), "0xt")
        == "ethereum:0xt/transfer?address=0xabc&uint256=12500000"
    )


async def test_after_half_is_paid_every_tab_asks_for_the_rest(
    page: tuple[httpx.AsyncClient, Runtime], session_factory: Factory
) -> None:
    from core.invoices.models import InvoicePayment

    client, _runtime = page
    invoice_id = await _invoice(session_factory)
    async with session_factory() as session:
        invoice = (await session.execute(select(Invoice).where(Invoice.public_id == invoice_id))).scalar_one()
        invoice.additional_status = "paid_partial"
        session.add(
            InvoicePayment(
                invoice_id=invoice.id, source="chain", asset="USDT-TRC20", reference="tx:0",
                amount_minor=9_652_510, status="seen", seen_at=NOW,
            )
        )  # fmt: skip
        await session.commit()
    html = (await client.get(f"/i/{invoice_id}")).text
    assert "Part of the amount has arrived. Please pay the rest shown below." in html
    assert "USDT-TRC20 9.652510" in html  # the other half
    assert "uint256=9652510" in html and "amount=0.00013889" in html  # the QR codes ask for the rest
    assert "Ksh1,250.00" in html or "KES 1,250.00" in html  # M-Pesa: the rest in whole shillings
    status = (await client.get(f"/i/{invoice_id}/status.json")).json()
    assert status["additional_status"] == "paid_partial" and status["paid_fraction"].startswith("0.5")


async def test_a_usd_invoice_shows_dollars_and_shillings(
    page: tuple[httpx.AsyncClient, Runtime], session_factory: Factory
) -> None:
    client, _runtime = page
    invoice_id = await _invoice(session_factory, public_id="inv_usd")
    async with session_factory() as session:
        invoice = (await session.execute(select(Invoice).where(Invoice.public_id == invoice_id))).scalar_one()
        invoice.currency, invoice.amount_minor = "USD", 1_930
        await session.commit()
    html = (await client.get(f"/i/{invoice_id}?lang=sw")).text
    assert "19.30" in html and "US$" in html and "2,500.00" in html
