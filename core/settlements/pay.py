"""A Kibeti customer pays a merchant by its till code: from the KES balance, or from a crypto
balance through a locked sell quote into KES first; either way one instant internal transfer to
the merchant's KES balance (less the merchant's fee), through the compliance gate like every other
movement. The customer gets an SMS receipt; the merchant's SMS comes from the credit's job."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.flows import accounts, trading
from core.flows.types import QuoteView, Receipt
from core.identity import service as identity
from core.merchants import service as merchants
from core.merchants.errors import UnknownMerchant
from core.merchants.models import Merchant, MerchantStatus
from core.money import Asset, Money, format_money
from core.ports import MovementCheck
from core.quotes import service as quotes
from core.quotes.maths import Given, Rail
from core.quotes.models import Quote
from core.settlements import service as credits
from core.settlements.errors import NoSuchTill
from core.settlements.models import CreditSource, MerchantCredit, MerchantView
from core.settlements.service import mask_phone

if TYPE_CHECKING:
    from core.flows.service import CoreFlows

KES_PREFIX = "kes:"
MOVEMENT_KIND = "send"  # limits and screening count a merchant payment as money sent


async def _merchant(session: AsyncSession, till: str) -> Merchant:
    code = "".join(till.split())
    if not code.isdigit():
        raise NoSuchTill(code[:12])
    try:
        merchant = await merchants.get_by_till_code(session=session, till_code=code)
    except UnknownMerchant as exc:
        raise NoSuchTill(code) from exc
    if merchant.status != MerchantStatus.ACTIVE.value:
        raise NoSuchTill(code)
    return merchant


async def find_merchant(flows: CoreFlows, *, till: str) -> MerchantView:
    async with flows.rt.session_factory() as session:
        merchant = await _merchant(session, till)
        return MerchantView(merchant.id, merchant.name, merchant.till_code or till)


async def quote(flows: CoreFlows, *, customer_id: int, till: str, amount: Money, asset: Asset) -> QuoteView:
    """What paying `amount` KES costs from `asset`: itself from KES; a locked sell quote from crypto."""
    if amount.asset is not Asset.KES:
        raise ValueError("a merchant is paid an amount in KES")
    await find_merchant(flows, till=till)
    if asset is Asset.KES:
        now = flows.rt.clock.now()
        zero = Money.zero(Asset.KES)
        return QuoteView(f"{KES_PREFIX}{amount.minor}", "merchant", amount, amount, zero, "", 0, now)
    return await trading.quote(
        flows, customer_id=customer_id, kind="sell", asset=asset, amount=amount, given=Given.RECEIVE,
        rail=Rail.WALLET,
    )  # fmt: skip


async def _existing(session: AsyncSession, key: str) -> MerchantCredit | None:
    query = select(MerchantCredit).where(
        MerchantCredit.source == CreditSource.KIBETI.value, MerchantCredit.source_ref == key
    )
    return (await session.execute(query)).scalar_one_or_none()


async def confirm(
    flows: CoreFlows, *, customer_id: int, till: str, quote_id: str, pin: str, idempotency_key: str
) -> Receipt:
    key = idempotency_key
    async with flows.rt.session_factory() as session:
        customer = await trading.authorise(flows, session, customer_id, pin)
        identity.assert_withdrawals_allowed(customer, clock=flows.rt.clock)  # a payment is money out
        merchant = await _merchant(session, till)
        row: Quote | None = None
        if quote_id.startswith(KES_PREFIX):
            amount = Money.from_minor(int(quote_id[len(KES_PREFIX) :]), Asset.KES)
            paid = amount
        else:
            row = await trading.open_quote(flows, session, customer_id, quote_id, "sell")
            amount = Money.from_minor(row.receive_minor, Asset.KES)
            paid = Money.from_minor(row.pay_minor, Asset(row.pay_asset))
        done = await _existing(session, key)
        if done is None:
            check = MovementCheck(
                customer_id, MOVEMENT_KIND, paid, amount, counterparty=f"merchant:{merchant.id}",
                reference=f"merchant-pay:{key}",
            )  # fmt: skip
            await trading.gate(flows, session, check)
        kes_account = await accounts.wallet_account_id(session, customer_id, Asset.KES)
        if row is not None and done is None:
            await quotes.execute_quote(
                session=session, quote_id=row.id,
                pay_account_id=await accounts.wallet_account_id(session, customer_id, paid.asset),
                receive_account_id=kes_account, idempotency_key=f"{key}:quote", clock=flows.rt.clock,
            )  # fmt: skip
        credited = await credits.credit_kibeti_payment(
            session=session, merchant=merchant, payment_key=key, reference="", customer_id=customer_id,
            from_account_id=kes_account, amount=amount, paid=paid, payer=mask_phone(customer.phone),
        )  # fmt: skip
        reference = credited.credit.reference
        balance = await accounts.available(session, customer_id, Asset.KES)
        await session.commit()
        name, phone, language = merchant.name, customer.phone, customer.language
    if not credited.replayed:
        await flows.notify(
            phone=phone, code="sms.merchant.receipt", language=language, reference=f"{key}:receipt",
            amount=format_money(amount, language), name=name[:30], ref=reference,
            balance=format_money(balance, language),
        )  # fmt: skip
    return Receipt(reference=reference, status="done", amount=amount, details={"merchant": name})
