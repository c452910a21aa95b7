"""Withdraw crypto to an outside address: quote -> PIN -> cool-down check -> the chain gateway
screens the destination, holds amount + fee and stages the signer's send, in one transaction.

The quote is a send quote: the customer pays `pay`; the withdrawal fee is deducted and `receive`
leaves on chain. Gas is managed by the house: what the chain charges is booked as the house's
network-fee expense when the withdrawal confirms (wallets.withdrawals.post_confirmed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.flows import accounts, trading
from core.flows.errors import ServiceUnavailable
from core.flows.types import QuoteView, Receipt
from core.identity import service as identity
from core.ledger.errors import InsufficientFunds
from core.money import Asset, Money, format_money
from core.ports import ChainGateway
from core.quotes import service as quotes
from core.quotes.errors import UnsupportedQuote

if TYPE_CHECKING:
    from core.flows.service import CoreFlows


def _chains(flows: CoreFlows) -> ChainGateway:
    if flows.rt.chains is None:
        raise ServiceUnavailable("Runtime.chains (ChainGateway) is not wired")
    return flows.rt.chains


async def quote_withdraw(flows: CoreFlows, *, customer_id: int, amount: Money, address: str) -> QuoteView:
    """Validate the destination for the amount's network, then quote the withdrawal."""
    if amount.asset is Asset.KES:
        raise UnsupportedQuote("withdrawals to an address are in BTC or USDT; KES goes out through M-Pesa")
    _chains(flows).validate_address(asset=amount.asset, address=address)
    return await trading.quote_send(flows, customer_id=customer_id, to_phone="", amount=amount)


async def confirm_withdraw(
    flows: CoreFlows, *, customer_id: int, quote_id: str, address: str, pin: str, idempotency_key: str
) -> Receipt:
    chains = _chains(flows)
    async with flows.rt.session_factory() as session:
        row = await trading.open_quote(flows, session, customer_id, quote_id, "send")
        customer = await trading.authorise(flows, session, customer_id, pin)
        identity.assert_withdrawals_allowed(customer, clock=flows.rt.clock)
        asset = Asset(row.asset)
        paid = Money.from_minor(row.pay_minor, asset)
        available = await accounts.available(session, customer_id, asset)
        if available < paid:
            raise InsufficientFunds(f"{format_money(available)} available, {format_money(paid)} needed")
        kes_value = await accounts.kes_value(session, paid, flows.rt.clock) or Money.zero(Asset.KES)
        ticket = await chains.request_withdrawal(  # screens first; may end the read snapshot on SQLite
            session=session,
            request_key=idempotency_key,
            owner_type="customer",
            owner_id=customer_id,
            asset=asset,
            address=address,
            amount=Money.from_minor(row.receive_minor, asset),
            fee=Money.from_minor(row.fee_total_minor, asset),
            amount_kes=kes_value,
        )
        await quotes.use_quote(
            session=session, quote_id=row.id, idempotency_key=idempotency_key, clock=flows.rt.clock
        )
        await session.commit()
    sent, reference = Money.from_minor(row.receive_minor, asset), f"W{ticket.withdrawal_id}"
    await flows.notify(
        phone=customer.phone, code="sms.withdrawal_sent", language=customer.language,
        reference=f"{idempotency_key}:withdrawal", amount=format_money(sent, customer.language),
        address=short_address(ticket.address), ref=reference,
    )  # fmt: skip
    return Receipt(reference=reference, status="pending", amount=sent, details={"address": ticket.address})


def short_address(address: str) -> str:
    """Enough of an address to recognise it in an SMS: the first 8 and last 6 characters."""
    return address if len(address) <= 17 else f"{address[:8]}...{address[-6:]}"
