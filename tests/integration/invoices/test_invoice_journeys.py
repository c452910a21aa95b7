"""Invoice journeys on the simulated chains through the one deposit scanner: exact payment, partial
then completion, overpayment, late payment, wrong-asset payment, and M-Pesa; the merchant is
credited once on Settled, the books balance, webhook events follow every state change."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.invoices import flows
from core.invoices import service as invoices
from core.invoices.models import Invoice, InvoicePayment
from core.ledger import service as ledger
from core.ledger.verify import verify
from core.money import Asset, Money
from core.payments import collections
from core.settlements import service as settlements
from core.webhooks.models import WebhookEvent
from tests.integration.invoices.conftest import Shop
from wallets.networks import Network

TRC20 = Asset.USDT_TRC20


async def _create(
    shop: Shop, amount: str = "2500", networks: list[str] | None = None
) -> invoices.InvoiceView:
    async with shop.factory() as session, session.begin():
        invoice = await invoices.create_invoice(
            session=session,
            merchant_id=shop.merchant_id,
            request=invoices.NewInvoice(amount=amount, networks=networks, order_id="order-1"),
            clock=shop.clock,
            chains=shop.gateway,
        )
        return await invoices.view(session=session, invoice=invoice)


async def _show(shop: Shop, public_id: str) -> invoices.InvoiceView:
    async with shop.factory() as session, session.begin():
        return await invoices.get_invoice(session=session, invoice_id=public_id, clock=shop.clock)


async def _merchant_kes(shop: Shop) -> Money:
    async with shop.factory() as session:
        return await settlements.merchant_balance(session, shop.merchant_id)


async def _invoice_balance(shop: Shop, invoice_id: int, asset: Asset) -> Money:
    async with shop.factory() as session, session.begin():
        account_id = await invoices.invoice_account_id(session=session, invoice_id=invoice_id, asset=asset)
        return await ledger.balance(session=session, account_id=account_id)


async def _events(shop: Shop, public_id: str) -> list[str]:
    async with shop.factory() as session:
        query = select(WebhookEvent.type).where(WebhookEvent.object_id == public_id).order_by(WebhookEvent.id)
        return list((await session.execute(query)).scalars())


async def _books_balance(shop: Shop) -> None:
    async with shop.factory() as session:
        report = await verify(session=session)
    assert report.ok, report.problems


async def _mine(shop: Shop, network: Network, blocks: int) -> None:
    monitor = shop.monitor(network)
    for _ in range(blocks):
        shop.chain(network).produce(1)
        await monitor.step()


def _due(view: invoices.InvoiceView, asset: Asset) -> int:
    method = view.method(asset)
    assert method is not None
    return method.due.minor


async def test_exact_payment_on_trc20(shop: Shop) -> None:
    created = await _create(shop)
    assert created.kes_amount == Money.of(2500, Asset.KES)
    assert {m.asset for m in created.methods} == {Asset.BTC, Asset.USDT_ERC20, TRC20, Asset.KES}
    assert len({m.address for m in created.methods if m.address}) == 3
    due = _due(created, TRC20)
    assert due == 19_305_020  # KES 2,500 at the demo 129.50 KES/USDT, rounded up to the micro-USDT
    trc20 = created.method(TRC20)
    assert trc20 is not None
    shop.chain(Network.TRC20).pay(trc20.address, due)
    await _mine(shop, Network.TRC20, 1)
    assert (await _show(shop, created.public_id)).status == "processing"
    await _mine(shop, Network.TRC20, 18)
    assert (await _show(shop, created.public_id)).status == "processing"  # 19 confirmations
    await _mine(shop, Network.TRC20, 1)
    settled = await _show(shop, created.public_id)
    assert (settled.status, settled.additional_status) == ("settled", "none")
    assert await _merchant_kes(shop) == Money.of("2462.50", Asset.KES)  # less the 1.5 % fee
    assert await _invoice_balance(shop, settled.invoice.id, TRC20) == Money.zero(TRC20)
    assert await _events(shop, created.public_id) == [
        "invoice.created",
        "invoice.processing",
        "invoice.settled",
    ]
    await _books_balance(shop)


async def test_partial_then_completion(shop: Shop) -> None:
    created = await _create(shop)
    trc20 = created.method(TRC20)
    assert trc20 is not None
    half = trc20.due.minor // 2
    shop.chain(Network.TRC20).pay(trc20.address, half)
    await _mine(shop, Network.TRC20, 1)
    partial = await _show(shop, created.public_id)
    assert (partial.status, partial.additional_status) == ("new", "paid_partial")
    remaining = partial.method(TRC20)
    assert remaining is not None and remaining.remaining.minor == trc20.due.minor - half
    shop.chain(Network.TRC20).pay(trc20.address, remaining.remaining.minor)
    await _mine(shop, Network.TRC20, 1)
    assert (await _show(shop, created.public_id)).status == "processing"
    await _mine(shop, Network.TRC20, 20)
    assert (await _show(shop, created.public_id)).status == "settled"
    assert await _merchant_kes(shop) == Money.of("2462.50", Asset.KES)
    assert await _events(shop, created.public_id) == [
        "invoice.created",
        "invoice.paid_partial",
        "invoice.processing",
        "invoice.settled",
    ]
    await _books_balance(shop)


async def test_overpayment_keeps_the_surplus_on_the_invoice(shop: Shop) -> None:
    created = await _create(shop)
    trc20 = created.method(TRC20)
    assert trc20 is not None
    shop.chain(Network.TRC20).pay(trc20.address, trc20.due.minor + 1_000_000)
    await _mine(shop, Network.TRC20, 20)
    settled = await _show(shop, created.public_id)
    assert (settled.status, settled.additional_status) == ("settled", "paid_over")
    assert await _merchant_kes(shop) == Money.of("2462.50", Asset.KES)
    assert await _invoice_balance(shop, settled.invoice.id, TRC20) == Money.of(1, TRC20)  # for a refund
    assert "invoice.paid_over" in await _events(shop, created.public_id)
    await _books_balance(shop)


async def test_late_payment_is_flagged_not_credited(shop: Shop) -> None:
    created = await _create(shop)
    trc20 = created.method(TRC20)
    assert trc20 is not None
    shop.clock.advance(minutes=16)
    async with shop.factory() as session, session.begin():
        assert await flows.expire_due(session=session, clock=shop.clock) == 1
    assert (await _show(shop, created.public_id)).status == "expired"
    shop.chain(Network.TRC20).pay(trc20.address, trc20.due.minor)
    await _mine(shop, Network.TRC20, 20)
    late = await _show(shop, created.public_id)
    assert (late.status, late.additional_status, late.invoice.needs_review) == ("expired", "paid_late", True)
    assert await _merchant_kes(shop) == Money.zero(Asset.KES)  # staff decide: the new rate, or a refund
    assert await _invoice_balance(shop, late.invoice.id, TRC20) == trc20.due  # recorded in the ledger
    assert await _events(shop, created.public_id) == [
        "invoice.created",
        "invoice.expired",
        "invoice.paid_late",
    ]
    async with shop.factory() as session:
        assert [i.public_id for i in await invoices.needing_review(session=session)] == [created.public_id]
    await _books_balance(shop)


async def test_wrong_asset_is_recorded_flagged_never_credited(shop: Shop) -> None:
    created = await _create(shop)
    trc20 = created.method(TRC20)
    assert trc20 is not None
    other_token = "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"
    shop.chain(Network.TRC20).pay(trc20.address, trc20.due.minor, token=other_token)
    await _mine(shop, Network.TRC20, 21)
    shown = await _show(shop, created.public_id)
    assert (shown.status, shown.additional_status, shown.invoice.needs_review) == ("new", "none", True)
    assert [(p.status, p.reason) for p in shown.payments] == [("flagged", "unknown_token")]
    assert await _invoice_balance(shop, shown.invoice.id, TRC20) == Money.zero(TRC20)
    await _books_balance(shop)


async def test_mpesa_payment_through_the_stk_collection_path(shop: Shop) -> None:
    created = await _create(shop, amount="1000.40", networks=["BTC"])
    async with shop.factory() as session, session.begin():
        request = await flows.pay_by_mpesa(
            session=session, invoice_id=created.public_id, phone="0712345678", clock=shop.clock
        )
    assert request.amount == Money.of(1001, Asset.KES)  # whole shillings, rounded up
    async with shop.factory() as session, session.begin():
        await collections.mark_requested(
            session=session,
            collection_id=request.collection_id,
            checkout_request_id="ws_CO_1",
            merchant_request_id="m1",
        )
        outcome = await collections.apply_stk_callback(
            session=session,
            checkout_request_id="ws_CO_1",
            result_code="0",
            result_desc="ok",
            amount=Decimal("1001"),
            receipt="SGX123",
            phone="",
            raw={},
        )
    assert outcome == "succeeded"
    paid = await _show(shop, created.public_id)
    assert (paid.status, paid.additional_status) == (
        "settled",
        "paid_over",
    )  # 60 cents over: M-Pesa is whole KES
    assert await _merchant_kes(shop) == Money.of("985.39", Asset.KES)  # 1000.40 less 15.01
    assert await _invoice_balance(shop, paid.invoice.id, Asset.KES) == Money.of("0.60", Asset.KES)
    async with shop.factory() as session, session.begin():
        again = None
        try:
            await flows.pay_by_mpesa(
                session=session, invoice_id=created.public_id, phone="0712345678", clock=shop.clock
            )
        except Exception as exc:
            again = exc
    assert again is not None and getattr(again, "code", "") == "invoice_not_payable"
    await _books_balance(shop)


async def test_payments_are_attributed_per_invoice(shop: Shop) -> None:
    first, second = await _create(shop), await _create(shop, amount="100")
    a, b = first.method(TRC20), second.method(TRC20)
    assert a is not None and b is not None and a.address != b.address
    shop.chain(Network.TRC20).pay(b.address, b.due.minor)
    await _mine(shop, Network.TRC20, 1)
    assert (await _show(shop, first.public_id)).status == "new"
    assert (await _show(shop, second.public_id)).status == "processing"
    async with shop.factory() as session:
        owners = (await session.execute(select(InvoicePayment.invoice_id))).scalars().all()
        ids = (
            (await session.execute(select(Invoice.id).where(Invoice.public_id == second.public_id)))
            .scalars()
            .all()
        )
    assert owners == ids
