"""Refunds on both databases: to the payer's Kibeti wallet at once; to a crypto address through a
one-time link (validated, then the withdrawal pipeline, less the network fee); never beyond what was
paid; an unknown or unpaid payment refused with a code; a failed send credits the merchant back;
refund.* webhook events; settlements pay gross - fees - refunds; the books balance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from core.clock import FixedClock
from core.errors import KibetiError
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.ledger.verify import verify
from core.merchants import service as merchants
from core.merchants.models import Merchant
from core.money import Asset, Money
from core.ports import WithdrawalTicket
from core.settlements import refunds
from core.settlements import settle as settling
from core.settlements.service import credit_kibeti_payment, credit_settled_invoice, merchant_balance
from core.webhooks.models import WebhookEvent

KES, USDT = Asset.KES, Asset.USDT_TRC20
ADDRESS = "TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"


class WrongNetwork(KibetiError, ValueError):
    code = "invalid_address"


@dataclass
class FakeChains:
    """validate_address / network_fee / request_withdrawal as the ChainGateway port promises them."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    def validate_address(self, *, asset: Asset, address: str) -> str:
        if not (address.startswith("T") and len(address) == 34):
            raise WrongNetwork(f"{address[:12]} is not a TRON address")
        return address

    async def network_fee(self, *, asset: Asset, address: str, amount: Money) -> Money:
        return Money.of("1.5", asset)

    async def request_withdrawal(self, **kwargs: Any) -> WithdrawalTicket:
        session = kwargs["session"]
        wallet = await ledger.get_or_open_account(
            session=session,
            owner_type=kwargs["owner_type"],
            owner_id=kwargs["owner_id"],
            asset=kwargs["asset"],
        )
        hold = await ledger.place_hold(
            session=session, idempotency_key=f"withdrawal:{kwargs['request_key']}", account_id=wallet.id,
            amount=kwargs["amount"] + kwargs["fee"],
        )  # fmt: skip
        self.requests.append({**kwargs, "hold_id": hold.hold_id})
        return WithdrawalTicket(
            withdrawal_id=700 + len(self.requests), status="held", address=kwargs["address"]
        )


async def _merchant(session) -> Merchant:
    merchant = await merchants.create_merchant(
        session=session, name="Duka la Refunds", actor="test", clock=FixedClock(), settlement_method="till",
        settlement_till="5559876", settlement_schedule="daily",
    )  # fmt: skip
    merchant.status = "active"
    await session.flush()
    return merchant


async def _fund(session, owner_type: OwnerType, owner_id: int, amount: Money) -> int:
    account = await ledger.get_or_open_account(
        session=session, owner_type=owner_type, owner_id=owner_id, asset=amount.asset
    )
    custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=amount.asset)
    await ledger.post_entry(
        session=session, idempotency_key=f"fund:{owner_type}:{owner_id}:{amount.asset.value}",
        kind="test_funding", postings=[PostingRequest(custody.id, -amount), PostingRequest(account.id, amount)],
    )  # fmt: skip
    return account.id


async def _events(session, object_id: str) -> list[str]:
    query = select(WebhookEvent.type).where(WebhookEvent.object_id == object_id)
    return sorted((await session.execute(query)).scalars().all())


async def test_refund_to_the_kibeti_wallet_never_beyond_paid(session_factory) -> None:
    async with session_factory() as session:
        merchant = await _merchant(session)
        wallet = await _fund(session, OwnerType.CUSTOMER, 77, Money.of(1000, KES))
        paid = await credit_kibeti_payment(
            session=session, merchant=merchant, payment_key="r:1", reference="", customer_id=77,
            from_account_id=wallet, amount=Money.of(300, KES), paid=Money.of(300, KES), payer="0712***678",
        )  # fmt: skip
        ref = paid.credit.reference
        await credit_kibeti_payment(  # another sale: the merchant's balance covers the refunds
            session=session, merchant=merchant, payment_key="r:2", reference="", customer_id=77,
            from_account_id=wallet, amount=Money.of(500, KES), paid=Money.of(500, KES), payer="0712***678",
        )  # fmt: skip
        first = await refunds.create_refund(
            session=session, merchant_id=merchant.id, payment=ref, amount=Money.of(100, KES),
            idempotency_key="k1", actor="test",
        )  # fmt: skip
        again = await refunds.create_refund(
            session=session, merchant_id=merchant.id, payment=ref, amount=Money.of(100, KES),
            idempotency_key="k1", actor="test",
        )  # fmt: skip
        assert first.refund.status == "completed" and first.link_token is None
        assert again.replayed and again.refund.id == first.refund.id
        assert await ledger.balance(session=session, account_id=wallet) == Money.of(300, KES)
        with pytest.raises(refunds.RefundTooLarge) as too_much:
            await refunds.create_refund(
                session=session, merchant_id=merchant.id, payment=ref, amount=Money.of("200.01", KES),
                idempotency_key="k2", actor="test",
            )  # fmt: skip
        assert too_much.value.code == "refund_exceeds_paid"
        rest = await refunds.create_refund(
            session=session,
            merchant_id=merchant.id,
            payment=ref,
            amount=None,
            idempotency_key="k3",
            actor="t",
        )
        assert rest.refund.amount_minor == 20_000
        assert await ledger.balance(session=session, account_id=wallet) == Money.of(500, KES)
        # 295.50 + 492.50 credited (1.5 % fees stay with Kibeti), 300 refunded from the merchant's balance
        assert await merchant_balance(session, merchant.id) == Money.of("488.00", KES)
        assert await _events(session, first.refund.public_id) == ["refund.completed", "refund.created"]
        with pytest.raises(refunds.PaymentNotRefundable) as unknown:
            await refunds.create_refund(
                session=session, merchant_id=merchant.id, payment="INV-NOPE", amount=None,
                idempotency_key="k4", actor="t",
            )  # fmt: skip
        assert unknown.value.code == "invoice_not_paid"
        assert (await verify(session=session)).problems == []
        await session.rollback()


async def test_crypto_refund_by_link_then_a_failed_send_credits_back(session_factory) -> None:
    chains = FakeChains()
    async with session_factory() as session:
        merchant = await _merchant(session)
        merchant_id = merchant.id  # a rollback below expires the row
        usdt = Money.of("19.305019", USDT)
        invoice_account = await _fund(session, OwnerType.SYSTEM, 8801, usdt)
        await credit_settled_invoice(
            session=session, merchant=merchant, invoice_id="inv_r1", reference="INV-R1", gross=Money.of(2500, KES),
            paid=usdt, paid_from_account_id=invoice_account, market_value=Money.of(2500, KES),
        )  # fmt: skip
        created = await refunds.create_refund(
            session=session, merchant_id=merchant_id, payment="INV-R1", amount=Money.of(1250, KES),
            idempotency_key="c1", actor="api_key:x", reason="half the order",
        )  # fmt: skip
        await session.commit()
        token = created.link_token
        assert token and created.refund.status == "awaiting_address" and created.refund.asset == USDT.value
        assert created.refund.payout_minor == 9_652_509  # half of 19.305019, rounded down
        assert await merchant_balance(session, merchant_id) == Money.of("1212.50", KES)  # 2,462.50 - 1,250
        with pytest.raises(WrongNetwork):
            await refunds.claim(session=session, token=token, address="0x52908400098527886E0F7030069857D2E4169EE7",
                                chains=chains)  # fmt: skip
        await session.rollback()
        row = await refunds.claim(session=session, token=token, address=ADDRESS, chains=chains)
        await session.commit()
        assert row.status == "sending" and row.address == ADDRESS
        sent = chains.requests[0]
        assert sent["amount"] == Money.of("8.152509", USDT) and sent["fee"] == Money.of("1.5", USDT)
        assert sent["owner_type"] == "merchant" and sent["amount_kes"] == Money.of(1250, KES)
        with pytest.raises(refunds.RefundLinkInvalid):
            await refunds.claim(session=session, token=token, address=ADDRESS, chains=chains)
        # the network send failed: the wallets void the hold, the refund gives the merchant its KES back
        await ledger.void_hold(session=session, hold_id=sent["hold_id"], reason="broadcast failed")
        failed = await refunds.withdrawal_final(
            session=session, withdrawal_id=row.withdrawal_id or 0, outcome="failed", txid=""
        )
        await session.commit()
        assert failed is not None and failed.status == "failed"
        assert await merchant_balance(session, merchant_id) == Money.of("2462.50", KES)
        assert await _events(session, row.public_id) == ["refund.created"]
        assert (await verify(session=session)).problems == []


async def test_settlement_pays_gross_less_fees_less_refunds(session_factory) -> None:
    async with session_factory() as session:
        merchant = await _merchant(session)
        wallet = await _fund(session, OwnerType.CUSTOMER, 78, Money.of(5000, KES))
        refs = []
        for n, amount in enumerate((1200, 800, 350)):
            paid = await credit_kibeti_payment(
                session=session, merchant=merchant, payment_key=f"s:{n}", reference="", customer_id=78,
                from_account_id=wallet, amount=Money.of(amount, KES), paid=Money.of(amount, KES), payer="",
            )  # fmt: skip
            refs.append(paid.credit.reference)
        await refunds.create_refund(
            session=session, merchant_id=merchant.id, payment=refs[1], amount=Money.of(300, KES),
            idempotency_key="s-r", actor="t",
        )  # fmt: skip
        row = await settling.settle(session=session, merchant=merchant)
        await session.commit()
        assert row is not None
        # gross 2,350 - fees (18 + 12 + 5.25) - refunds 300 = 2,014.75: M-Pesa gets KES 2,014
        assert (row.gross_minor, row.fee_minor, row.refunds_minor) == (235_000, 3_525, 30_000)
        assert row.amount_minor == 201_400
        assert await merchant_balance(session, merchant.id) == Money.of("0.75", KES)
        assert (await verify(session=session)).problems == []


async def test_an_overpayment_refunds_only_the_excess(session_factory) -> None:
    """An invoice of KES 2,500 paid 25 USDT where 19.305019 was due: the merchant is credited for the
    invoice; the refund sends back only the 5.694981 left on the invoice's own account."""
    from datetime import UTC, datetime, timedelta

    from core.invoices import service as invoices
    from core.invoices.models import Invoice

    chains = FakeChains()
    async with session_factory() as session:
        merchant = await _merchant(session)
        now = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
        invoice = Invoice(
            public_id="inv_over1", merchant_id=merchant.id, currency="KES", amount_minor=250_000,
            kes_amount_minor=250_000, status="Settled", additional_status="PaidOver", created_at=now,
            expires_at=now + timedelta(minutes=15), monitoring_until=now + timedelta(days=1),
        )  # fmt: skip
        session.add(invoice)
        await session.flush()
        account = await invoices.invoice_account_id(session=session, invoice_id=invoice.id, asset=USDT)
        custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=USDT)
        paid = Money.of(25, USDT)
        await ledger.post_entry(
            session=session, idempotency_key="over:paid", kind="test_invoice_payment",
            postings=[PostingRequest(custody.id, -paid), PostingRequest(account, paid)],
        )  # fmt: skip
        due = Money.of("19.305019", USDT)
        await credit_settled_invoice(
            session=session, merchant=merchant, invoice_id=invoice.public_id, reference=invoice.public_id,
            gross=Money.of(2500, KES), paid=due, paid_from_account_id=account, market_value=Money.of(2500, KES),
        )  # fmt: skip
        before = await merchant_balance(session, merchant.id)
        created = await refunds.create_refund(
            session=session, merchant_id=merchant.id, payment="inv_over1", amount=None, idempotency_key="x1",
            actor="t", excess=True,
        )  # fmt: skip
        assert created.refund.amount_minor == 0 and created.refund.payout_minor == 5_694_981
        assert (
            await merchant_balance(session, merchant.id) == before
        )  # the merchant keeps the invoice's worth
        assert await ledger.available(session=session, account_id=account) == Money.zero(USDT)
        assert created.link_token is not None
        row = await refunds.claim(session=session, token=created.link_token, address=ADDRESS, chains=chains)
        assert chains.requests[0]["amount"] == Money.of("4.194981", USDT)  # less the 1.5 network fee
        with pytest.raises(refunds.PaymentNotRefundable):  # nothing left beyond what was credited
            await refunds.create_refund(
                session=session, merchant_id=merchant.id, payment="inv_over1", amount=None,
                idempotency_key="x2", actor="t", excess=True,
            )  # fmt: skip
        done = await refunds.withdrawal_final(
            session=session, withdrawal_id=row.withdrawal_id or 0, outcome="confirmed", txid="abc"
        )
        assert done is not None and done.status == "completed"
        assert await _events(session, row.public_id) == ["refund.completed", "refund.created"]
        await session.commit()
