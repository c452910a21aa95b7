"""Cash out (issue 19): KES from the customer's wallet to their own M-Pesa through the B2C payout
pipeline the sell path uses, with the M-Pesa fee on top, told before the PIN.

Rounding: M-Pesa moves whole shillings, so the amount sent is the whole-shilling part of what the
customer asked for (core.payments.limits.payout_amount, as for a sell); the cents never leave the
wallet. The fee is the fee schedule's M-Pesa rule on the amount sent, booked to fee revenue in the
same transaction as the payout's hold and recorded on the payout, which refunds it if M-Pesa finally
fails the payout (core.payments.service.refund_failed_payout).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.fees import service as fees
from core.flows import accounts, trading
from core.flows.errors import AmountOverLimit
from core.flows.types import CashoutQuote, Receipt
from core.identity import service as identity
from core.ledger import service as ledger
from core.ledger.errors import InsufficientFunds
from core.ledger.models import AccountKind
from core.money import Asset, Money
from core.payments import limits as mpesa
from core.payments import service as payments
from core.payments.models import Payout
from core.ports import MovementCheck
from core.quotes.errors import AmountTooSmall, QuoteExpired

if TYPE_CHECKING:
    from core.flows.service import CoreFlows

REMARKS = "Kibeti cash out"
FEE_KEY = "cashout-fee:"


async def _fee(session: AsyncSession, flows: CoreFlows, kyc_tier: int, amount: Money) -> Money:
    schedule = await fees.resolve_schedule(
        session=session, asset=Asset.KES, at=flows.rt.clock.now(), kyc_tier=kyc_tier
    )
    return schedule.mpesa.apply(amount)


def _whole(amount: Money) -> Money:
    whole = amount.whole_units()
    if whole < mpesa.B2C_MIN:
        raise AmountTooSmall(f"the M-Pesa minimum is {mpesa.B2C_MIN}")
    if whole > mpesa.TXN_MAX:
        raise AmountOverLimit("amount_over_max", mpesa.TXN_MAX)
    return whole


async def _maximum(session: AsyncSession, flows: CoreFlows, kyc_tier: int, available: Money) -> Money:
    """The largest whole-shilling amount whose amount + fee the wallet covers (fees never fall as
    the amount grows, so a bisection finds it); zero under the M-Pesa minimum."""
    low, high = 0, int(min(available, mpesa.TXN_MAX).amount)
    while low < high:
        middle = (low + high + 1) // 2
        amount = Money.of(middle, Asset.KES)
        if amount + await _fee(session, flows, kyc_tier, amount) <= available:
            low = middle
        else:
            high = middle - 1
    found = Money.of(low, Asset.KES)
    return found if found >= mpesa.B2C_MIN else Money.zero(Asset.KES)


async def maximum(flows: CoreFlows, *, customer_id: int) -> Money:
    async with flows.rt.session_factory() as session:
        customer = await identity.get_customer(session=session, customer_id=customer_id)
        available = await accounts.available(session, customer_id, Asset.KES)
        found = await _maximum(session, flows, int(customer.kyc_tier), available)
        await session.commit()  # the KES wallet may have just been opened
        return found


async def _quote(session: AsyncSession, flows: CoreFlows, customer_id: int, amount: Money) -> CashoutQuote:
    customer = await identity.get_customer(session=session, customer_id=customer_id)
    whole = _whole(amount)
    fee = await _fee(session, flows, int(customer.kyc_tier), whole)
    available = await accounts.available(session, customer_id, Asset.KES)
    if whole + fee > available:
        most = await _maximum(session, flows, int(customer.kyc_tier), available)
        if not most.is_positive():
            raise InsufficientFunds(f"{available} cannot cover the M-Pesa minimum and the fee")
        raise AmountOverLimit("amount_over_balance", most)
    return CashoutQuote(
        amount=whole, fee=fee, total=whole + fee, left=available - whole - fee, phone=customer.phone
    )


async def quote(flows: CoreFlows, *, customer_id: int, amount: Money) -> CashoutQuote:
    async with flows.rt.session_factory() as session:
        found = await _quote(session, flows, customer_id, amount)
        await session.commit()
        return found


async def confirm(
    flows: CoreFlows, *, customer_id: int, amount: Money, fee: Money, pin: str, idempotency_key: str
) -> Receipt:
    async with flows.rt.session_factory() as session:
        customer = await trading.authorise(flows, session, customer_id, pin)
        identity.assert_withdrawals_allowed(customer, clock=flows.rt.clock)
        existing = (
            await session.execute(select(Payout).where(Payout.idempotency_key == idempotency_key))
        ).scalar_one_or_none()
        if existing is None:
            terms = await _quote(session, flows, customer_id, amount)
            if terms.fee != fee:  # the fee rules changed since the customer read the fee
                raise QuoteExpired("the M-Pesa fee changed; ask again")
            check = MovementCheck(
                customer_id, "withdraw", terms.amount, terms.amount, counterparty=customer.phone,
                reference=idempotency_key,  # the payout's key: a refused payout reverses this
            )  # fmt: skip
            await trading.gate(flows, session, check)
        kes_account = await accounts.wallet_account_id(session, customer_id, Asset.KES)
        payout = await payments.create_payout(
            session=session, idempotency_key=idempotency_key, account_id=kes_account, phone=customer.phone,
            amount=amount, customer_id=customer_id, remarks=REMARKS, fee=fee,
        )  # fmt: skip
        if fee.is_positive():
            revenue = await ledger.system_account(
                session=session, kind=AccountKind.FEE_REVENUE, asset=Asset.KES
            )
            await ledger.transfer(
                session=session, idempotency_key=f"{FEE_KEY}{idempotency_key}", from_account_id=kes_account,
                to_account_id=revenue.id, amount=fee, kind="cashout_fee", memo=f"M-Pesa fee {payout.id[:12]}",
                details={"payout_id": payout.id, "fee_minor": fee.minor},
            )  # fmt: skip
        await session.commit()
        sent = Money.from_minor(payout.amount_minor, Asset.KES)
        return Receipt(reference=payout.id[:12], status="pending", amount=sent)
