"""A merchant invoice paid by Airtel Money on PesaPal's (simulated) page: the invoice's KES account
is credited once, on PesaPal's own status, and the invoice records the payment as PesaPal's."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from core import runtime as runtime_module
from core.config import Settings
from core.invoices import service as invoices
from core.invoices.models import InvoicePayment
from core.ledger.verify import verify
from core.money import Asset, Money
from core.rails import invoices as rail_invoices
from core.rails import jobs, service
from core.runtime import Runtime
from payouts.pesapal import adapter
from simulators.pesapal import PesapalSimulator
from tests.integration.invoices.conftest import Shop, clock, deriver, shop  # noqa: F401 - fixtures
from webapp.queues import InProcessJobQueue

SIM = "http://pesapal.sim"


@pytest.fixture
async def rail(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[PesapalSimulator]:  # noqa: F811
    sim = PesapalSimulator()
    monkeypatch.setattr(adapter, "TRANSPORT", httpx.ASGITransport(app=sim.create_app()))
    monkeypatch.setattr(adapter, "_ipn_ids", {})
    settings = Settings(
        kibeti_env="test", pesapal_base_url=SIM, pesapal_public_base_url="http://kibeti.test",
        pesapal_consumer_key="key", pesapal_consumer_secret="secret",
    )  # fmt: skip
    rt = Runtime(settings=settings, session_factory=shop.factory, clock=shop.clock, queue=InProcessJobQueue())
    rt.collection_rails = adapter.build(rt)
    runtime_module.install(rt)
    yield sim


async def test_invoice_paid_by_airtel_money_is_credited_once(shop: Shop, rail: PesapalSimulator) -> None:  # noqa: F811
    async with shop.factory() as session, session.begin():
        created = await invoices.create_invoice(
            session=session, merchant_id=shop.merchant_id,
            request=invoices.NewInvoice(amount="1000.40", networks=["BTC"], order_id="order-pp"),
            clock=shop.clock, chains=shop.gateway,
        )  # fmt: skip
        public_id = created.public_id
    async with shop.factory() as session, session.begin():
        order = await rail_invoices.pay_invoice_by_link(
            session=session, invoice_id=public_id, phone="+254733000001", rail="pesapal", clock=shop.clock
        )
    assert order.amount_minor == Money.of(1001, Asset.KES).minor and order.customer_id == 0
    assert await jobs.submit_order(order.id) == "submitted"
    async with shop.factory() as session:
        order = await service.get_order(session=session, order_id=order.id)
    assert order.tracking_id is not None and order.redirect_url.startswith(SIM)
    rail.behaviour.ipn = "never"  # the confirmation is our own status query either way
    rail.pay(order.tracking_id, "airtel")
    assert await jobs.confirm_order(order.id) == "completed"
    assert await jobs.confirm_order(order.id) == "duplicate"
    async with shop.factory() as session, session.begin():
        paid = await invoices.get_invoice(session=session, invoice_id=public_id, clock=shop.clock)
        payments = list((await session.execute(select(InvoicePayment))).scalars())
    assert paid.status == "settled"
    assert [(p.source, p.status, p.amount_minor) for p in payments] == [("pesapal", "confirmed", 100_100)]
    async with shop.factory() as session:
        assert (await verify(session=session)).ok
