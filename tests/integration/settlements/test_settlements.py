"""Merchant credits, fees and settlements on both databases: a Kibeti payment and a crypto invoice
credit the merchant less its fee (one entry each, once); a settlement pays whole shillings to the
till through the payout pipeline (B2B BuyGoods), its statement lists both; a refused settlement
returns the funds and frees its payments for the next one. The books balance throughout."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from core.clock import FixedClock
from core.config import Settings
from core.ledger import service as ledger
from core.ledger.models import AccountKind, JournalEntry, OwnerType, PostingRequest
from core.ledger.verify import verify
from core.merchants import service as merchants
from core.merchants.models import Merchant
from core.money import Asset, Money
from core.outbox.models import OutboxJob
from core.payments import service as payments
from core.payments.models import Payout
from core.runtime import Runtime
from core.settlements import settle as settling
from core.settlements import statement
from core.settlements.service import (
    credit_kibeti_payment,
    credit_settled_invoice,
    merchant_balance,
    merchant_fee,
)
from core.webhooks.models import WebhookEvent
from payouts.mpesa import results
from webapp.queues import InProcessJobQueue

KES = Asset.KES


async def _merchant(session, till: str = "5551234") -> Merchant:
    merchant = await merchants.create_merchant(
        session=session, name="Mama Mboga Stores", actor="test", clock=FixedClock(),
        settlement_method="till", settlement_till=till, notification_phones=["+254711000111"],
        fee_bps=150,
    )  # fmt: skip
    merchant.status = "active"
    await session.flush()
    return merchant


async def _funded(session, owner_type: OwnerType, owner_id: int, amount: Money) -> int:
    account = await ledger.get_or_open_account(
        session=session, owner_type=owner_type, owner_id=owner_id, asset=amount.asset
    )
    source = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=amount.asset)
    await ledger.post_entry(
        session=session, idempotency_key=f"fund:{owner_type}:{owner_id}:{amount.asset.value}",
        kind="test_funding", postings=[PostingRequest(source.id, -amount), PostingRequest(account.id, amount)],
    )  # fmt: skip
    return account.id


async def _pay_and_invoice(session, merchant: Merchant) -> None:
    wallet = await _funded(session, OwnerType.CUSTOMER, 41, Money.of(1000, KES))
    await credit_kibeti_payment(
        session=session, merchant=merchant, payment_key="ussd:1", reference="", customer_id=41,
        from_account_id=wallet, amount=Money.of(300, KES), paid=Money.of(300, KES), payer="0712***678",
    )  # fmt: skip
    usdt = Money.of("19.305019", Asset.USDT_TRC20)
    invoice_account = await _funded(session, OwnerType.SYSTEM, 9001, usdt)
    await credit_settled_invoice(
        session=session, merchant=merchant, invoice_id="inv_1", reference="INV-8F3K",
        gross=Money.of(2500, KES), paid=usdt, paid_from_account_id=invoice_account,
        market_value=Money.of("2490.10", KES), payer="",
    )  # fmt: skip


async def _books_balance(session) -> None:
    report = await verify(session=session)
    assert report.problems == []


async def test_credits_are_net_of_fee_once_and_books_balance(session_factory) -> None:
    async with session_factory() as session:
        merchant = await _merchant(session)
        await _pay_and_invoice(session, merchant)
        await _pay_and_invoice(session, merchant)  # repeated: nothing booked twice
        await session.commit()
        balance = await merchant_balance(session, merchant.id)
        # 300 - 4.50 and 2500 - 37.50
        assert balance == Money.of("2758.00", KES)
        gain = await ledger.system_account(session=session, kind=AccountKind.FX_GAIN_LOSS, asset=KES)
        assert await ledger.balance(session=session, account_id=gain.id) == Money.of("-9.90", KES)
        revenue = await ledger.system_account(session=session, kind=AccountKind.FEE_REVENUE, asset=KES)
        assert await ledger.balance(session=session, account_id=revenue.id) == Money.of("42.00", KES)
        jobs = (await session.execute(select(OutboxJob.job))).scalars().all()
        assert jobs.count("core.settlements.jobs.merchant_credited") == 2
        await _books_balance(session)


async def test_settlement_pays_the_till_by_b2b_and_lists_both_payments(session_factory) -> None:
    async with session_factory() as session:
        merchant = await _merchant(session)
        await _pay_and_invoice(session, merchant)
        row = await settling.settle(session=session, merchant=merchant)
        again = await settling.settle(session=session, merchant=merchant)
        await session.commit()
        assert row is not None and (again is None or again.id == row.id)
        payout = await session.get(Payout, row.payout_id)
        assert (payout.kind, payout.receiver_kind, payout.phone) == ("b2b", "till", "5551234")
        assert payout.amount_minor == 275_800 and payout.merchant_id == merchant.id
        assert await merchant_balance(session, merchant.id) == Money.zero(KES)  # held for the payout
        await payments.mark_accepted(session=session, payout_id=payout.id, conversation_id="AG_1")
        outcome = await payments.apply_payout_result(
            session=session, originator_conversation_id=payout.originator_conversation_id,
            conversation_id="AG_1", result=results.b2c_result("0", "ok"), receipt="SKL1234XYZ",
            amount=Decimal(2758),
        )  # fmt: skip
        assert outcome == "succeeded"
        done = await settling.finish(session=session, payout_id=payout.id)
        assert done.changed and done.settlement.status == "paid" and done.settlement.receipt == "SKL1234XYZ"
        assert not (await settling.finish(session=session, payout_id=payout.id)).changed
        await session.commit()
        text = await statement.statement_csv(session=session, settlement_id=row.id, merchant_id=merchant.id)
        lines = list(csv.DictReader(io.StringIO(text)))
        assert lines[0]["reference"].startswith("KP") and lines[1]["reference"] == "INV-8F3K"
        assert (lines[0]["payer"], lines[0]["net_kes"], lines[1]["paid"]) == (
            "0712***678",
            "295.50",
            "19.305019",
        )
        total = next(line for line in lines if line["line"] == "total")
        assert (total["gross_kes"], total["fee_kes"], total["net_kes"]) == ("2800.00", "42.00", "2758.00")
        paid = next(line for line in lines if line["line"] == "paid")
        assert (paid["reference"], paid["payer"], paid["net_kes"]) == ("SKL1234XYZ", "", "2758.00")  # receipt
        assert not [line for line in lines if line["line"].startswith(("kept", "from_earlier"))]  # none kept
        events = (await session.execute(select(WebhookEvent.type).where(
            WebhookEvent.object_id == f"S{row.id}"))).scalars().all()  # fmt: skip
        assert sorted(events) == ["settlement.created", "settlement.paid"]
        await _books_balance(session)


async def test_a_refused_settlement_returns_the_funds_and_frees_its_payments(session_factory) -> None:
    async with session_factory() as session:
        merchant = await _merchant(session, till="9999999")
        await _pay_and_invoice(session, merchant)
        first = await settling.settle(session=session, merchant=merchant)
        await session.commit()
        assert first is not None
        await payments.fail_payout(
            session=session, payout_id=first.payout_id, result_code="2001", reason="The receiver is invalid"
        )
        done = await settling.finish(session=session, payout_id=first.payout_id)
        await session.commit()
        assert done.settlement.status == "failed" and "receiver" in done.settlement.failure
        payout = await session.get(Payout, first.payout_id)
        assert payout.flagged  # staff see it on the payouts desk
        assert await merchant_balance(session, merchant.id) == Money.of("2758.00", KES)
        second = await settling.settle(session=session, merchant=merchant)
        await session.commit()
        assert second is not None and second.id != first.id and second.gross_minor == 280_000
        await _books_balance(session)


@given(
    gross=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2),
    bps=st.integers(min_value=100, max_value=200),
)
def test_fee_is_between_rounded_bounds_and_never_above_gross(gross: Decimal, bps: int) -> None:
    fee = merchant_fee(Money.of(gross, KES), bps)
    exact = gross * bps / Decimal(10_000)
    assert abs(fee.amount - exact) <= Decimal("0.005")
    assert Money.zero(KES) <= fee <= Money.of(gross, KES)


async def test_a_fixed_clock_on_the_runtime_dates_the_settlement_its_payout_and_entries(
    session_factory,
) -> None:
    fixed = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)  # long before this test runs
    rt = Runtime(
        settings=Settings(kibeti_env="test"),
        session_factory=session_factory,
        clock=FixedClock(fixed),
        queue=InProcessJobQueue(),
    )
    async with rt.session_factory() as session:
        merchant = await _merchant(session)
        await _pay_and_invoice(session, merchant)
        row = await settling.settle(session=session, merchant=merchant)
        await session.commit()
        payout = await session.get(Payout, row.payout_id) if row is not None else None
        assert row is not None and payout is not None
        entries = (await session.execute(select(JournalEntry.created_at))).scalars().all()
        events = (await session.execute(select(WebhookEvent.created_at))).scalars().all()
    assert (row.created_at, payout.created_at, payout.updated_at) == (fixed, fixed, fixed)
    assert set(entries) == set(events) == {fixed}


async def test_an_invoice_paid_in_crypto_is_booked_at_the_stored_bid_read_then_not_a_cached_one(
    session_factory,
) -> None:
    """The FX leg is booked at the bid stored when the invoice settles, read in its transaction: the
    balances screens' few-seconds display cache may still hold an older bid."""
    from core.clock import SystemClock
    from core.flows import accounts
    from core.fx import service as fx
    from core.fx.sources import DEMO_RATES, DemoRateSource

    clock = SystemClock()
    usdt = Money.of("19.305019", Asset.USDT_TRC20)
    async with session_factory() as session:
        merchant = await _merchant(session)
        await fx.refresh(session=session, sources=[DemoRateSource()], clock=clock)
        await session.commit()
        cached = await accounts._bid(session, "USDT", clock)  # a balances screen read it just now
        moved = {**DEMO_RATES, ("USD", "KES"): "131.00"}
        await fx.refresh(session=session, sources=[DemoRateSource(moved)], clock=clock)
        await session.commit()
        rate = await fx.latest_rate(session=session, base="USDT", quote="KES", clock=clock)
        assert cached is not None and rate.bid != cached
        invoice_account = await _funded(session, OwnerType.SYSTEM, 9001, usdt)
        await credit_settled_invoice(
            session=session, merchant=merchant, invoice_id="inv_fx", reference="INV-FX01",
            gross=Money.of(2500, KES), paid=usdt, paid_from_account_id=invoice_account, payer="",
        )  # fmt: skip
        await session.commit()
        liquidity = await ledger.system_account(session=session, kind=AccountKind.FX_LIQUIDITY, asset=KES)
        gain = await ledger.system_account(session=session, kind=AccountKind.FX_GAIN_LOSS, asset=KES)
        value = Money.round_down(usdt.amount * rate.bid, KES)
        assert await ledger.balance(session=session, account_id=liquidity.id) == -value
        assert await ledger.balance(session=session, account_id=gain.id) == value - Money.of(2500, KES)
        await _books_balance(session)
