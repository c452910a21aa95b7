"""Withdraw crypto to an outside address: quote -> PIN -> cool-down check -> the chain gateway
screens the destination, holds amount + fee and stages the signer's send, in one transaction.

The quote is a send quote: the customer pays `pay`; the withdrawal fee and the network fee (the
chain gateway's current estimate, passed on per the fee schedule's network rule) are deducted and
`receive` leaves on chain. Both fees are held with the amount; when the withdrawal confirms, the
difference between the network fee charged and what the chain took is booked to the network-fee
gain/loss account (wallets.withdrawals.lifecycle.post_confirmed).

Channels (USSD, Telegram, the CLI) show the quote through `QuoteView` (`fee` is the total,
`network_fee` the estimate within it) or `withdrawal_quote_text`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from core.errors import RecordedRefusal
from core.flows import accounts, trading
from core.flows.errors import ServiceUnavailable
from core.flows.types import QuoteView, Receipt
from core.identity import service as identity
from core.ledger.errors import InsufficientFunds
from core.money import Asset, Money, format_money
from core.ports import ChainGateway
from core.quotes import service as quotes
from core.quotes.errors import QuoteNotFound, UnsupportedQuote
from core.quotes.maths import Given, QuoteKind, QuoteRequest, Rail
from core.quotes.models import Quote

if TYPE_CHECKING:
    from core.flows.service import CoreFlows


def _chains(flows: CoreFlows) -> ChainGateway:
    if flows.rt.chains is None:
        raise ServiceUnavailable("Runtime.chains (ChainGateway) is not wired")
    return flows.rt.chains


NETWORK_LINE = "network"


def network_fee_of(row: Quote) -> Money | None:
    """The network fee line of a withdrawal quote; None for any other quote (e.g. a send to a phone)."""
    for line in row.fees:
        if line.get("kind") == NETWORK_LINE:
            return Money.from_minor(int(line["minor"]), Asset(row.fee_asset))
    return None


async def quote_withdraw(flows: CoreFlows, *, customer_id: int, amount: Money, address: str) -> QuoteView:
    """Validate the destination for the amount's network, estimate the network fee now, and quote
    the withdrawal with both fees (the customer pays `amount`; `receive` leaves on chain)."""
    if amount.asset is Asset.KES:
        raise UnsupportedQuote("withdrawals to an address are in BTC or USDT; KES goes out through M-Pesa")
    chains = _chains(flows)
    destination = chains.validate_address(asset=amount.asset, address=address)
    estimate = await chains.network_fee(asset=amount.asset, address=destination, amount=amount)
    request = QuoteRequest(
        kind=QuoteKind.SEND, asset=amount.asset, amount=amount, given=Given.PAY, rail=Rail.WALLET,
        chain_fee=estimate,
    )  # fmt: skip
    async with flows.rt.session_factory() as session:
        customer = await identity.get_customer(session=session, customer_id=customer_id)
        row = await quotes.create_quote(
            session=session, request=request, clock=flows.rt.clock, customer_id=customer_id,
            kyc_tier=customer.kyc_tier,
        )  # fmt: skip
        await session.commit()
        return replace(trading.view_of(flows, row), network_fee=network_fee_of(row))


def withdrawal_quote_text(quote: QuoteView, *, address: str, network: str) -> str:
    """The quote in one line (CLI; English): what is paid, each fee, what arrives where."""
    network_fee = quote.network_fee or Money.zero(quote.fee.asset)
    withdrawal_fee = quote.fee - network_fee
    return (
        f"Pay {format_money(quote.pay)}: withdrawal fee {format_money(withdrawal_fee)}, network fee "
        f"{format_money(network_fee)} (estimated now; the house bears any difference), total fees "
        f"{format_money(quote.fee)}. {format_money(quote.receive)} arrives at {address} on {network}."
    )


async def confirm_withdraw(
    flows: CoreFlows, *, customer_id: int, quote_id: str, address: str, pin: str, idempotency_key: str
) -> Receipt:
    chains = _chains(flows)
    async with flows.rt.session_factory() as session:
        row = await trading.open_quote(flows, session, customer_id, quote_id, "send")
        network_fee = network_fee_of(row)
        if network_fee is None:  # a send-to-phone quote carries no network fee: never a withdrawal's
            raise QuoteNotFound(f"no withdrawal quote {quote_id} for this customer")
        customer = await trading.authorise(flows, session, customer_id, pin)
        identity.assert_withdrawals_allowed(customer, clock=flows.rt.clock)
        asset = Asset(row.asset)
        paid = Money.from_minor(row.pay_minor, asset)
        available = await accounts.available(session, customer_id, asset)
        if available < paid:
            raise InsufficientFunds(f"{format_money(available)} available, {format_money(paid)} needed")
        kes_value = await accounts.limit_value(session, paid, flows.rt.clock)  # none fresh: refused
        try:
            ticket = await chains.request_withdrawal(  # screens first, in this transaction
                session=session,
                request_key=idempotency_key,
                owner_type="customer",
                owner_id=customer_id,
                asset=asset,
                address=address,
                amount=Money.from_minor(row.receive_minor, asset),
                fee=Money.from_minor(row.fee_total_minor, asset),
                amount_kes=kes_value,
                network_fee=network_fee,
            )
        except RecordedRefusal as refusal:  # the gate's record of the refusal (movement, case) is kept
            if refusal.acted_on:  # held for review: the quote is spent, a second confirm holds nothing
                await quotes.use_quote(
                    session=session, quote_id=row.id, idempotency_key=idempotency_key, clock=flows.rt.clock
                )
            await session.commit()
            raise
        await quotes.use_quote(
            session=session, quote_id=row.id, idempotency_key=idempotency_key, clock=flows.rt.clock
        )
        await session.commit()
    sent, reference = Money.from_minor(row.receive_minor, asset), f"W{ticket.withdrawal_id}"
    await flows.notify(
        phone=customer.phone, code="sms.withdrawal_sent", language=customer.language,
        reference=f"{idempotency_key}:withdrawal", amount=trading.on_network(sent, customer.language),
        address=short_address(ticket.address), ref=reference,
    )  # fmt: skip
    return Receipt(reference=reference, status="pending", amount=sent, details={"address": ticket.address})


def short_address(address: str) -> str:
    """Enough of an address to recognise it in an SMS: the first 8 and last 6 characters."""
    return address if len(address) <= 17 else f"{address[:8]}...{address[-6:]}"
