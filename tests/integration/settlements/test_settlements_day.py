"""A day of merchant traffic (issue 16's test): two merchants, 50 invoices across BTC, USDT-ERC20 and
USDT-TRC20 paid through the simulated chains and the one deposit scanner (exact, partial then
completed, over, late, never), Kibeti payments from customers' wallets, refunds, then the daily
batch: per merchant, what M-Pesa is asked to pay = gross paid - fees - refunds, to the shilling;
the late and unpaid are never credited; the books balance."""

from __future__ import annotations

import random
from decimal import Decimal

from sqlalchemy import select

from core.invoices import flows as invoice_flows
from core.invoices import service as invoices
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.ledger.verify import verify
from core.merchants import service as merchants
from core.money import Asset, Money
from core.payments import service as payments
from core.settlements import refunds
from core.settlements import settle as settling
from core.settlements.models import MerchantCredit
from core.settlements.service import credit_kibeti_payment, merchant_balance
from payouts.mpesa import results
from tests.integration.invoices.conftest import Shop
from wallets.networks import Network

KES = Asset.KES
NETWORKS = [Network.BTC, Network.ERC20, Network.TRC20]


async def _create(shop: Shop, merchant_id: int, amount: int, network: Network) -> invoices.InvoiceView:
    async with shop.factory() as session, session.begin():
        invoice = await invoices.create_invoice(
            session=session, merchant_id=merchant_id,
            request=invoices.NewInvoice(amount=str(amount), networks=[network.asset.value]),
            clock=shop.clock, chains=shop.gateway,
        )  # fmt: skip
        return await invoices.view(session=session, invoice=invoice)


async def _mine(shop: Shop, blocks: int) -> None:
    monitors = {network: shop.monitor(network) for network in NETWORKS}
    for _ in range(blocks):
        for network, monitor in monitors.items():
            shop.chain(network).produce(1)
            await monitor.step()


async def _second_merchant(shop: Shop) -> int:
    async with shop.factory() as session, session.begin():
        merchant = await merchants.create_merchant(
            session=session, name="Kibanda cha Juma", actor="test", clock=shop.clock, fee_bps=200,
            settlement_method="paybill", settlement_paybill="888880", settlement_account="JUMA-01",
            settlement_schedule="daily",
        )  # fmt: skip
        merchant.status = "active"
        return merchant.id


async def _till_for_the_shop(shop: Shop) -> None:
    async with shop.factory() as session, session.begin():
        merchant = await merchants.get_merchant(session=session, merchant_id=shop.merchant_id)
        merchant.settlement_method, merchant.settlement_till = "till", "5551234"
        merchant.settlement_schedule = "daily"


async def test_a_day_of_merchant_traffic_settles_to_the_shilling(shop: Shop) -> None:
    rng = random.Random(16)
    await _till_for_the_shop(shop)
    second = await _second_merchant(shop)
    merchant_ids = [shop.merchant_id, second]
    kinds = ["exact"] * 30 + ["partial"] * 8 + ["over"] * 5 + ["late"] * 4 + ["never"] * 3
    rng.shuffle(kinds)
    plan = []
    for n, kind in enumerate(kinds):
        network = NETWORKS[n % 3]
        merchant_id = merchant_ids[n % 2]
        amount = rng.randrange(150, 30_000)
        view = await _create(shop, merchant_id, amount, network)
        method = view.method(network.asset)
        assert method is not None and method.address
        plan.append((kind, network, view, method))
    for kind, network, _view, method in plan:  # before expiry
        due = method.due.minor
        if kind == "exact":
            shop.chain(network).pay(method.address, due)
        elif kind == "partial":
            shop.chain(network).pay(method.address, due // 3)
            shop.chain(network).pay(method.address, due - due // 3)
        elif kind == "over":
            shop.chain(network).pay(method.address, due + due // 10)
    await _mine(shop, 21)
    shop.clock.advance(minutes=16)
    async with shop.factory() as session, session.begin():
        await invoice_flows.expire_due(session=session, clock=shop.clock)
    for kind, network, _view, method in plan:
        if kind == "late":  # paid after expiry, inside the monitoring window: flagged, not credited
            shop.chain(network).pay(method.address, method.due.minor)
    await _mine(shop, 21)

    statuses: dict[str, str] = {}
    async with shop.factory() as session, session.begin():
        for _kind, _network, view, _method in plan:
            found = await invoices.get_invoice(session=session, invoice_id=view.public_id)
            statuses[view.public_id] = found.status
    expected_settled = {v.public_id for k, _, v, _ in plan if k in ("exact", "partial", "over")}
    assert {p for p, s in statuses.items() if s == "settled"} == expected_settled

    # Kibeti customers pay over USSD (the use case's credit), and refunds follow
    async with shop.factory() as session, session.begin():
        float_account = await ledger.system_account(session=session, kind=AccountKind.MPESA_FLOAT, asset=KES)
        wallet = await ledger.get_or_open_account(
            session=session, owner_type=OwnerType.CUSTOMER, owner_id=4242, asset=KES
        )
        funding = Money.of(100_000, KES)
        await ledger.post_entry(
            session=session, idempotency_key="day:fund", kind="test_funding",
            postings=[PostingRequest(float_account.id, -funding), PostingRequest(wallet.id, funding)],
        )  # fmt: skip
        refs: list[tuple[int, str]] = []
        for n in range(12):
            merchant = await merchants.get_merchant(session=session, merchant_id=merchant_ids[n % 2])
            amount = Money.of(Decimal(rng.randrange(1_000, 500_000)) / 100, KES)
            paid = await credit_kibeti_payment(
                session=session, merchant=merchant, payment_key=f"day:{n}", reference="", customer_id=4242,
                from_account_id=wallet.id, amount=amount, paid=amount, payer="0712***678",
            )  # fmt: skip
            refs.append((merchant.id, paid.credit.reference))
        for n, (merchant_id, ref) in enumerate(refs[:4]):  # part and whole refunds to the wallet
            await refunds.create_refund(
                session=session, merchant_id=merchant_id, payment=ref,
                amount=Money.of("10.55", KES) if n % 2 else None, idempotency_key=f"day-r{n}", actor="test",
            )  # fmt: skip
        over = next(v for k, _, v, _ in plan if k == "over")  # the overpaid excess, back by link
        await refunds.create_refund(
            session=session, merchant_id=over.invoice.merchant_id, payment=over.public_id, amount=None,
            idempotency_key="day-excess", actor="test", excess=True,
        )  # fmt: skip
        invoice_refund = next(v for k, _, v, _ in plan if k == "exact")
        await refunds.create_refund(
            session=session, merchant_id=invoice_refund.invoice.merchant_id, payment=invoice_refund.public_id,
            amount=Money.of(100, KES), idempotency_key="day-inv", actor="test",
        )  # fmt: skip

    # the daily batch, then M-Pesa's B2B results
    opened = []
    async with shop.factory() as session, session.begin():
        for merchant_id in merchant_ids:
            merchant = await merchants.get_merchant(session=session, merchant_id=merchant_id)
            credits = (
                (
                    await session.execute(
                        select(MerchantCredit).where(MerchantCredit.merchant_id == merchant_id)
                    )
                )
                .scalars()
                .all()
            )
            gross = sum(c.gross_minor for c in credits)
            fees = sum(c.fee_minor for c in credits)
            refunded = sum(c.refunded_minor for c in credits)
            rows = []  # M-Pesa takes at most KES 250,000 a payment: the batch opens as many as needed
            while (row := await settling.settle(session=session, merchant=merchant)) is not None:
                rows.append(row)
            assert len(rows) >= 1 and all(r.amount_minor <= 25_000_000 for r in rows)
            first = rows[0]
            assert (first.gross_minor, first.fee_minor, first.refunds_minor) == (gross, fees, refunded)
            paid = sum(r.amount_minor for r in rows)
            assert paid == (gross - fees - refunded) // 100 * 100  # to the shilling
            late_or_unpaid = {v.public_id for k, _, v, _ in plan if k in ("late", "never")}
            assert not any(c.reference in late_or_unpaid for c in credits)
            opened.extend(rows)
    async with shop.factory() as session, session.begin():
        for row in opened:
            payout = await payments.get_payout(session=session, payout_id=row.payout_id)
            assert payout.kind == "b2b"
            await payments.mark_accepted(session=session, payout_id=payout.id, conversation_id=f"AG_{row.id}")
            await payments.apply_payout_result(
                session=session, originator_conversation_id=payout.originator_conversation_id,
                conversation_id=f"AG_{row.id}", result=results.b2c_result("0", "ok"), receipt=f"SKD{row.id}X",
                amount=Decimal(payout.amount_minor) / 100,
            )  # fmt: skip
            assert (await settling.finish(session=session, payout_id=payout.id)).settlement.status == "paid"
    async with shop.factory() as session:
        for merchant_id in merchant_ids:
            left = await merchant_balance(session, merchant_id)
            assert Money.zero(KES) <= left < Money.of(1, KES)  # only the cents stay
        report = await verify(session=session)
    assert report.ok, report.problems
