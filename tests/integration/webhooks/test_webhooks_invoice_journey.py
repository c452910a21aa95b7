"""Issue 15's done-when for webhooks and the checkout page, on the real invoice code: a KES 2,500
invoice paid half on TRC20 (PaidPartial), then the rest (Processing), then settled after 20
blocks; a local receiver gets invoice.created, .paid_partial, .processing and .settled in that
order, each signature verified by the receiver's own code; /i/<id> showed three QR codes and a
countdown while it was open."""

from __future__ import annotations

import time

from core import runtime as runtime_module
from core.config import Settings
from core.invoices import service as invoices
from core.money import Asset
from core.runtime import Runtime
from core.webhooks import flows
from tests.integration.identity.api_helpers import api_client, make_runtime
from tests.integration.invoices.conftest import Shop, clock, deriver, shop  # noqa: F401 - fixtures
from tests.integration.webhooks.conftest import (
    ALLOW_LOCAL,
    CHEAP_KEYRING,
    RecordingNotifier,
    RecordingQueue,
    run_staged_deliveries,
)
from tests.integration.webhooks.receiver import Receiver, verify
from wallets.networks import Network

TRC20 = Asset.USDT_TRC20


async def _mine(shop: Shop, blocks: int) -> None:  # noqa: F811
    monitor = shop.monitor(Network.TRC20)
    for _ in range(blocks):
        shop.chain(Network.TRC20).produce(1)
        await monitor.step()


async def _status(shop: Shop, public_id: str) -> tuple[str, str]:  # noqa: F811
    async with shop.factory() as session, session.begin():
        view = await invoices.get_invoice(session=session, invoice_id=public_id, clock=shop.clock)
    return view.status, view.additional_status


async def test_a_receiver_gets_processing_and_settled_signed_and_the_page_shows_three_qr_codes(
    shop: Shop,  # noqa: F811
    receiver: Receiver,
) -> None:
    runtime = Runtime(
        settings=Settings(kibeti_env="test"),
        session_factory=shop.factory,
        clock=shop.clock,
        queue=RecordingQueue(),
        notifier=RecordingNotifier(),
    )
    runtime.keyring = lambda: CHEAP_KEYRING
    runtime_module.install(runtime)
    async with shop.factory() as session, session.begin():
        _endpoint, secret = await flows.register_endpoint(
            session=session,
            merchant_id=shop.merchant_id,
            url=receiver.url,
            events=[],
            description="shop server",
            keyring=CHEAP_KEYRING,
            policy=ALLOW_LOCAL,
            now=shop.clock.now(),
        )
        invoice = await invoices.create_invoice(
            session=session,
            merchant_id=shop.merchant_id,
            request=invoices.NewInvoice(amount="2500", order_id="done-when-1"),
            clock=shop.clock,
            chains=shop.gateway,
        )
        created = await invoices.view(session=session, invoice=invoice)

    page_runtime = make_runtime(shop.factory, shop.clock)
    async with api_client(page_runtime) as (_app, client):
        html = (await client.get(f"/i/{created.public_id}")).text
    assert html.count('<svg class="qr"') == 3 and 'id="countdown"' in html and "2,500.00" in html
    runtime_module.install(runtime)

    trc20 = created.method(TRC20)
    assert trc20 is not None
    half = trc20.due.minor // 2
    shop.chain(Network.TRC20).pay(trc20.address, half)
    await _mine(shop, 1)
    assert await _status(shop, created.public_id) == ("new", "paid_partial")
    shop.chain(Network.TRC20).pay(trc20.address, trc20.due.minor - half)
    await _mine(shop, 1)
    assert (await _status(shop, created.public_id))[0] == "processing"
    await _mine(shop, 20)
    assert (await _status(shop, created.public_id))[0] == "settled"

    await run_staged_deliveries(shop.factory)
    got = receiver.delivered()
    assert [r.event["type"] for r in got] == [
        "invoice.created",
        "invoice.paid_partial",
        "invoice.processing",
        "invoice.settled",
    ]
    for request in got:
        assert verify(secret, request.body, request.headers["Kibeti-Signature"], now=time.time())
        assert request.event["object_id"] == created.public_id
    assert len(receiver.requests) == 4  # each once
