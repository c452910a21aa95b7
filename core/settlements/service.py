"""Merchant balances: credits (settled invoices, Kibeti payments) and what is left to settle.

Every credit is one ledger entry, keyed on its source (the invoice id, the payment's key), so a
retried or repeated call books nothing twice. Keyword-only; the caller's session owns the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import clock_of
from core.fx import service as fx
from core.fx.errors import RatesUnavailable
from core.ledger import service as ledger
from core.ledger.models import AccountKind, OwnerType, PostingRequest
from core.merchants.models import DEFAULT_FEE_BPS, Merchant
from core.money import Asset, Money
from core.outbox import service as outbox
from core.settlements.models import CreditSource, MerchantCredit

BPS = Decimal(10_000)
# Staged with every credit: the merchant's SMS, then an instant settlement if the merchant has one.
CREDITED_JOB = "core.settlements.jobs.merchant_credited"
# Merchant typologies (structuring, new payers, settle-after-pay), after each credit and settlement.
MONITOR_JOB = "compliance.merchant_monitoring.monitor_merchant"


async def stage_monitoring(session: AsyncSession, merchant_id: int, event: str) -> None:
    await outbox.enqueue(
        session=session,
        job=MONITOR_JOB,
        kwargs={"merchant_id": merchant_id},
        dedupe_key=f"merchant-monitor:{event}",
    )


def merchant_fee(gross: Money, fee_bps: int) -> Money:
    """The merchant's fee on `gross` KES: `fee_bps` basis points, rounded half up to the cent."""
    if gross.asset is not Asset.KES:
        raise ValueError("merchant fees are charged on KES")
    fee = (gross.amount * Decimal(fee_bps) / BPS).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Money.of(min(fee, gross.amount), Asset.KES)


async def merchant_account_id(session: AsyncSession, merchant_id: int) -> int:
    """The merchant's KES balance (constrained: it never goes below what settlements hold)."""
    account = await ledger.get_or_open_account(
        session=session, owner_type=OwnerType.MERCHANT, owner_id=merchant_id, asset=Asset.KES
    )
    return account.id


async def merchant_balance(session: AsyncSession, merchant_id: int) -> Money:
    """What the merchant could be settled now: the posted balance less what is held for payouts."""
    account_id = await merchant_account_id(session, merchant_id)
    return await ledger.available(session=session, account_id=account_id)


async def _existing(session: AsyncSession, source: CreditSource, source_ref: str) -> MerchantCredit | None:
    query = select(MerchantCredit).where(
        MerchantCredit.source == source.value, MerchantCredit.source_ref == source_ref
    )
    return (await session.execute(query)).scalar_one_or_none()


def _fee_bps(merchant: Merchant) -> int:
    return int(merchant.fee_bps if merchant.fee_bps is not None else DEFAULT_FEE_BPS)


@dataclass(frozen=True)
class Credited:
    credit: MerchantCredit
    replayed: bool


async def credit_settled_invoice(
    *,
    session: AsyncSession,
    merchant: Merchant,
    invoice_id: str,
    reference: str,
    gross: Money,
    paid: Money,
    paid_from_account_id: int,
    market_value: Money | None = None,
    payer: str = "",
) -> Credited:
    """Credit the merchant for a Settled invoice, in one ledger entry, once per invoice.

    `gross` is the invoice's KES amount at its locked rate; `paid` what the payer paid for it (in
    crypto, or KES through M-Pesa), taken from `paid_from_account_id` (the invoice's own account).
    Crypto goes to Kibeti's FX liquidity at `market_value` (default: its KES value now at the bid,
    when rates are known); the
    difference from the locked rate is Kibeti's, booked to FX gain/loss. The merchant's KES account
    gets `gross - fee`; the fee (the merchant's basis points) goes to fee revenue.
    """
    found = await _existing(session, CreditSource.INVOICE, invoice_id)
    if found is not None:
        return Credited(found, replayed=True)
    fee = merchant_fee(gross, _fee_bps(merchant))
    net = gross - fee
    merchant_kes = await merchant_account_id(session, merchant.id)
    postings = [PostingRequest(merchant_kes, net)] if net.is_positive() else []
    if fee.is_positive():
        revenue = await ledger.system_account(session=session, kind=AccountKind.FEE_REVENUE, asset=Asset.KES)
        postings.append(PostingRequest(revenue.id, fee))
    if paid.asset is Asset.KES:
        if paid != gross:
            raise ValueError(f"an invoice paid in KES credits what was paid ({paid}), not {gross}")
        postings.append(PostingRequest(paid_from_account_id, -paid))
    else:
        if market_value is None:  # its value now, at the bid; unpriced, it is booked at the locked rate
            market_value = await _market_value(session, paid)
        value = market_value if market_value is not None else gross
        crypto_side = await ledger.system_account(
            session=session, kind=AccountKind.FX_LIQUIDITY, asset=paid.asset
        )
        kes_side = await ledger.system_account(
            session=session, kind=AccountKind.FX_LIQUIDITY, asset=Asset.KES
        )
        postings += [
            PostingRequest(paid_from_account_id, -paid),
            PostingRequest(crypto_side.id, paid),
            PostingRequest(kes_side.id, -value),
        ]
        if value != gross:
            gain = await ledger.system_account(
                session=session, kind=AccountKind.FX_GAIN_LOSS, asset=Asset.KES
            )
            postings.append(PostingRequest(gain.id, value - gross))
    entry = await ledger.post_entry(
        session=session,
        idempotency_key=f"merchant-credit:invoice:{invoice_id}",
        kind="merchant_invoice",
        postings=postings,
        memo=f"invoice {reference} settled"[:200],
        details={"invoice_id": invoice_id, "merchant_id": merchant.id, "fee_minor": fee.minor},
    )
    credit = await _record(
        session, merchant, CreditSource.INVOICE, invoice_id, reference, payer, None, paid, gross, fee,
        entry.entry_id,
    )  # fmt: skip
    return Credited(credit, replayed=False)


async def _market_value(session: AsyncSession, paid: Money) -> Money | None:
    """`paid`'s KES value now, at the stored bid read in `session` (never the balances screens'
    few-seconds display cache: this is booked); None when no fresh rate is known."""
    try:
        rate = await fx.latest_rate(
            session=session, base=paid.asset.currency, quote="KES", clock=clock_of(session)
        )
    except RatesUnavailable:
        return None
    return Money.round_down(paid.amount * rate.bid, Asset.KES)


async def credit_kibeti_payment(
    *,
    session: AsyncSession,
    merchant: Merchant,
    payment_key: str,
    reference: str,
    customer_id: int,
    from_account_id: int,
    amount: Money,
    paid: Money,
    payer: str,
) -> Credited:
    """A Kibeti customer pays `amount` KES from their KES wallet: the merchant gets it less the fee.
    `paid` is what the customer spent (the KES, or the crypto a locked quote turned into it)."""
    found = await _existing(session, CreditSource.KIBETI, payment_key)
    if found is not None:
        return Credited(found, replayed=True)
    fee = merchant_fee(amount, _fee_bps(merchant))
    net = amount - fee
    merchant_kes = await merchant_account_id(session, merchant.id)
    postings = [PostingRequest(from_account_id, -amount)]
    if net.is_positive():
        postings.append(PostingRequest(merchant_kes, net))
    if fee.is_positive():
        revenue = await ledger.system_account(session=session, kind=AccountKind.FEE_REVENUE, asset=Asset.KES)
        postings.append(PostingRequest(revenue.id, fee))
    entry = await ledger.post_entry(
        session=session,
        idempotency_key=f"merchant-credit:kibeti:{payment_key}",
        kind="merchant_payment",
        postings=postings,
        memo=f"paid merchant {merchant.id} {reference}"[:200],
        details={"merchant_id": merchant.id, "customer_id": customer_id, "fee_minor": fee.minor},
    )
    credit = await _record(
        session, merchant, CreditSource.KIBETI, payment_key, reference, payer, customer_id, paid, amount, fee,
        entry.entry_id,
    )  # fmt: skip
    return Credited(credit, replayed=False)


async def _record(
    session: AsyncSession,
    merchant: Merchant,
    source: CreditSource,
    source_ref: str,
    reference: str,
    payer: str,
    customer_id: int | None,
    paid: Money,
    gross: Money,
    fee: Money,
    entry_id: int,
) -> MerchantCredit:
    credit = MerchantCredit(
        merchant_id=merchant.id,
        source=source.value,
        source_ref=source_ref,
        reference=reference[:24],
        payer=payer[:20],
        payer_customer_id=customer_id,
        paid_asset=paid.asset.value,
        paid_minor=paid.minor,
        gross_minor=gross.minor,
        fee_minor=fee.minor,
        net_minor=(gross - fee).minor,
        refunded_minor=0,
        entry_id=entry_id,
    )
    session.add(credit)
    await session.flush()
    if not credit.reference:
        credit.reference = f"KP{credit.id}"
    await outbox.enqueue(
        session=session,
        job=CREDITED_JOB,
        kwargs={"credit_id": credit.id},
        dedupe_key=f"merchant-credit:{credit.id}",
    )
    await stage_monitoring(session, merchant.id, f"credit:{credit.id}")
    return credit


async def unsettled_credits(session: AsyncSession, merchant_id: int) -> list[MerchantCredit]:
    query = (
        select(MerchantCredit)
        .where(MerchantCredit.merchant_id == merchant_id, MerchantCredit.settlement_id.is_(None))
        .order_by(MerchantCredit.id)
    )
    return list((await session.execute(query)).scalars())


def mask_phone(phone: str) -> str:
    """0712***678: the payer's number as a merchant may see it."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("254") and len(digits) == 12:
        digits = "0" + digits[3:]
    if len(digits) < 7:
        return "***"
    return f"{digits[:4]}***{digits[-3:]}"
