"""The hosted checkout's "Card or Airtel Money" over HTTP: the payer's browser goes from the invoice
to our short link (a page that waits while the order is submitted), on to PesaPal's simulated page,
pays with Airtel Money and comes back; the invoice is settled once."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from core.fx import service as fx
from core.fx.sources import DemoRateSource
from core.invoices import service as invoices
from core.invoices.models import InvoicePayment
from core.merchants import service as merchants
from core.runtime import Runtime
from tests.e2e.pesapal.conftest import drain, only_order


async def _invoice(rt: Runtime) -> str:
    async with rt.session_factory() as session, session.begin():
        await fx.refresh(session=session, sources=[DemoRateSource()], clock=rt.clock)
        merchant = await merchants.create_merchant(
            session=session, name="Duka la Mama", actor="test", clock=rt.clock, fee_bps=150
        )
        merchant.status = "active"
    assert rt.chains is not None
    async with rt.session_factory() as session, session.begin():
        invoice = await invoices.create_invoice(
            session=session, merchant_id=merchant.id, clock=rt.clock, chains=rt.chains,
            request=invoices.NewInvoice(amount="750", networks=["BTC"], order_id="order-card"),
        )  # fmt: skip
        return invoice.public_id


async def test_invoice_paid_by_card_or_airtel_money(client: httpx.AsyncClient, rt: Runtime) -> None:
    public_id = await _invoice(rt)
    page = await client.get(f"/i/{public_id}?lang=sw")
    assert page.status_code == 200 and f'action="/i/{public_id}/card"' in page.text
    assert "Kadi au Airtel Money" in page.text  # beside M-Pesa, in the payer's language
    chosen = await client.post(f"/i/{public_id}/card", data={"phone": "0733000001", "lang": "en"})
    assert chosen.status_code == 303 and chosen.headers["location"].startswith("/p/")
    link = chosen.headers["location"]
    waiting = await client.get(link)
    assert waiting.status_code == 200 and 'http-equiv="refresh"' in waiting.text
    await drain(rt)  # the submit job
    opened = await client.get(link)
    assert opened.status_code == 303 and "/pesapal-sim/pay/" in opened.headers["location"]
    pressed = await client.post(opened.headers["location"] + "/pay", data={"method": "airtel"})
    assert pressed.status_code == 303 and "/pesapal/return?" in pressed.headers["location"]
    assert (await client.get(pressed.headers["location"])).status_code == 200
    await drain(rt)
    order = await only_order(rt)
    assert order.status == "completed" and order.method == "AirtelKE"
    async with rt.session_factory() as session, session.begin():
        paid = await invoices.get_invoice(session=session, invoice_id=public_id, clock=rt.clock)
        payments = list((await session.execute(select(InvoicePayment))).scalars())
    assert paid.status == "settled"
    assert [(p.source, p.status) for p in payments] == [("pesapal", "confirmed")]
    again = await client.post(f"/i/{public_id}/card", data={"phone": "0733000001", "lang": "en"})
    assert again.status_code == 303 and again.headers["location"].endswith("card=not_payable")
    shown = await client.get(again.headers["location"])
    assert "This invoice takes no new payment." in shown.text


async def test_a_bad_phone_is_said_on_the_page(client: httpx.AsyncClient, rt: Runtime) -> None:
    public_id = await _invoice(rt)
    chosen = await client.post(f"/i/{public_id}/card", data={"phone": "12", "lang": "sw"})
    assert chosen.status_code == 303 and chosen.headers["location"].endswith("card=bad_phone")
    page = await client.get(chosen.headers["location"])
    assert "Weka nambari ya simu ya Kenya" in page.text
