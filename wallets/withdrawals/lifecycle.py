"""Withdrawals, shared by every network: validate -> ledger hold -> sign -> broadcast ->
confirmations -> post (or void). The per-network processors are erc20/withdrawals.py,
trc20/withdrawals.py, btc/withdrawals.py and, on the embedded default, simulators/chain_withdrawals.py.

The customer is charged `amount + fee` (fee per the fee schedule, in the asset): the withdrawal fee
plus `network_fee`, the quote's estimate of the chain's fee (wallets.withdrawals.fees). On
confirmation the hold is posted (`post_confirmed`): custody gives up `amount`, `fee_revenue` earns
the withdrawal fee, and what the chain charged is paid from custody when the fee is the asset itself
(BTC), else from the house's native-coin float (`fx_liquidity`, booked in the token at the
configured coin price; ETH and TRX are not ledger assets). The charged estimate covers it and the
difference (estimate minus actual) goes to the `network_fee_gain_loss` account; with no estimate
charged, what the chain charged is the house's expense (`network_fees`), as sweeps are. A failed
transaction voids the hold.

A signed transaction is stored before it is broadcast, so a crash between the two re-broadcasts
the same bytes (same nonce, same txid) instead of paying twice.

A customer's withdrawal the compliance gate sends to review is held all the same and waits in status
`review` (the caller commits it and tells the customer: WithdrawalHeldForReview); staff approval
sends it, refusal or expiry gives the money back (wallets.withdrawals.review).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import clock_of
from core.errors import CurrencyMismatch
from core.ledger import service as ledger
from core.ledger.types import AccountKind, PostingRequest
from core.money import Asset, Money
from core.outbox import service as outbox
from core.ports import ComplianceGate, Decision, GateResult, MovementCheck
from wallets.errors import (
    AmountBelowDust,
    NodeError,
    WalletNotConfigured,
    WithdrawalHeldForReview,
    WithdrawalRefused,
    WithdrawalStateError,
)
from wallets.hd.addresses import validate
from wallets.models import Withdrawal
from wallets.networks import BitcoinNet, Network

log = logging.getLogger(__name__)

HELD, SIGNED, BROADCAST, CONFIRMED, FAILED = "held", "signed", "broadcast", "confirmed", "failed"
REVIEW = "review"  # held, waiting for a compliance decision before it goes to the signer
FINAL_NOTICE_JOB = "core.flows.notices.withdrawal_final"  # issue 19: the customer hears the outcome
REFUND_FINAL_JOB = "core.settlements.jobs.refund_withdrawal_final"  # issue 16: a merchant's refund


async def stage_final_notice(session: AsyncSession, row: Withdrawal, outcome: str) -> None:
    """An SMS once the withdrawal is final (`outcome`: confirmed | failed), in the same transaction."""
    if row.owner_type == "merchant":  # a merchant's refund to a payer (core.settlements.refunds)
        await outbox.enqueue(
            session=session,
            job=REFUND_FINAL_JOB,
            kwargs={"withdrawal_id": row.id, "outcome": outcome, "txid": row.txid or ""},
            dedupe_key=f"withdrawal-final:{row.id}",
        )
        return
    if row.owner_type != "customer":
        return
    await outbox.enqueue(
        session=session,
        job=FINAL_NOTICE_JOB,
        kwargs={
            "customer_id": row.owner_id,
            "withdrawal_id": row.id,
            "asset": Network(row.network).asset.value,
            "amount_minor": row.amount_minor,
            "outcome": outcome,
            "txid": row.txid or "",
        },
        dedupe_key=f"withdrawal-final:{row.id}",
    )


def native_to_asset(units: int, *, decimals: int, native_price: Decimal, asset: Asset) -> Money:
    """A native-coin amount (wei, sun) in `asset` at `native_price` (asset per coin), rounded up."""
    return Money.round_up(Decimal(units) * native_price / Decimal(10**decimals), asset)


def wei_to_asset(wei: int, *, native_price: Decimal, asset: Asset) -> Money:
    return native_to_asset(wei, decimals=18, native_price=native_price, asset=asset)


async def request_withdrawal(
    *,
    session: AsyncSession,
    request_key: str,
    network: Network,
    owner_type: str,
    owner_id: int,
    address: str,
    amount: Money,
    fee: Money,
    network_fee: Money | None = None,
    dust_minor: int = 0,
    btc_net: BitcoinNet = BitcoinNet.MAINNET,
    gate: ComplianceGate | None = None,
    amount_kes: Money | None = None,
    sendable: bool = True,
) -> Withdrawal:
    """Validate and hold `amount + fee` on the owner's wallet; idempotent per `request_key`.
    `network_fee` is the part of `fee` charged for the network fee (the quote's estimate).

    `sendable` False (no node for the network here) refuses after screening, before any hold:
    a sanctioned destination still opens its case. A customer's withdrawal sent to review is held
    and raises WithdrawalHeldForReview (again on a retry of the same request)."""
    existing = (
        await session.execute(select(Withdrawal).where(Withdrawal.request_key == request_key))
    ).scalar_one_or_none()
    if existing is not None and existing.status == REVIEW:
        raise WithdrawalHeldForReview(existing.id)
    if existing is not None:
        return existing
    destination = validate(network, address, btc_net=btc_net)
    charged = network_fee if network_fee is not None else Money.zero(network.asset)
    if (
        amount.asset is not network.asset
        or fee.asset is not network.asset
        or charged.asset is not network.asset
    ):
        raise CurrencyMismatch(f"a {network.label} withdrawal is paid in {network.asset.value}")
    if charged.amount < 0 or charged > fee:
        raise ValueError("the network fee charged is a part of the fee")
    if not amount.is_positive() or amount.minor < dust_minor:
        raise AmountBelowDust(
            f"the smallest {network.asset.value} withdrawal is {Money.from_minor(dust_minor, amount.asset)}"
        )
    decision: GateResult | None = None
    if gate is not None:  # the destination and amount are screened before any money is held, in the
        # caller's transaction (its unit of work commits the record, a refusal's too: RecordedRefusal)
        decision = await gate.check(
            MovementCheck(
                customer_id=owner_id,
                kind="withdraw",
                amount=amount,
                amount_kes=amount_kes or Money.zero(Asset.KES),
                counterparty=destination,
                # the hold's key: compliance.reviews voids it when staff refuse
                reference=hold_key(request_key),
                owner_type=owner_type,
            ),
            session=session,
        )
        # a customer's review is held and waits; a merchant's refund has no staff review to wait for
        held_for_review = decision.decision is Decision.REVIEW and owner_type == "customer"
        if not decision.allowed and not held_for_review:
            raise WithdrawalRefused(
                decision.reason_code or "compliance_refused", decision=decision.decision.value
            )
    if not sendable:
        raise WalletNotConfigured(
            f"{network.label} withdrawals are not available on this server (no node configured); "
            "your funds were not touched"
        )
    wallet = await ledger.get_or_open_account(
        session=session,
        owner_type=owner_type,
        owner_id=owner_id,
        asset=network.asset,
        kind=AccountKind.WALLET,
    )
    hold = await ledger.place_hold(
        session=session,
        idempotency_key=hold_key(request_key),
        account_id=wallet.id,
        amount=amount + fee,
        memo=f"{network.asset.value} withdrawal",
        details={
            "network": network.value,
            "address": destination,
            "fee_minor": fee.minor,
            "network_fee_minor": charged.minor,
        },
    )
    row = Withdrawal(
        request_key=request_key,
        network=network.value,
        owner_type=owner_type,
        owner_id=owner_id,
        address=destination,
        amount_minor=amount.minor,
        fee_minor=fee.minor,
        network_fee_minor=charged.minor,
        hold_id=str(hold.hold_id),
        status=HELD,
    )
    if decision is not None and decision.decision is Decision.REVIEW:
        row.status = REVIEW
    session.add(row)
    await session.flush()
    if row.status == REVIEW:
        raise WithdrawalHeldForReview(row.id)
    return row


def hold_key(request_key: str) -> str:
    """The ledger hold of a withdrawal; also its compliance movement's reference."""
    return f"withdrawal:{request_key}"


async def lock_withdrawal(session: AsyncSession, withdrawal_id: int, network: Network) -> Withdrawal:
    row = (
        await session.execute(select(Withdrawal).where(Withdrawal.id == withdrawal_id).with_for_update())
    ).scalar_one_or_none()
    if row is None or row.network != network.value:
        raise WithdrawalStateError(f"no {network.label} withdrawal {withdrawal_id}")
    return row


async def broadcast_signed(
    sessions: async_sessionmaker[AsyncSession],
    withdrawal_id: int,
    network: Network,
    *,
    txid: str,
    broadcast: Callable[[], Awaitable[object]],
) -> str:
    """Broadcast the stored signed transaction (a node that already has it is fine), then mark it
    broadcast unless it was replaced meanwhile; returns the withdrawal's status."""
    try:
        await broadcast()
    except NodeError as exc:
        if "already broadcast" not in str(exc):
            raise
    async with sessions() as session, session.begin():
        row = await lock_withdrawal(session, withdrawal_id, network)
        if row.status == SIGNED and row.txid == txid:
            row.status, row.updated_at = BROADCAST, clock_of(session).now()
        return row.status


async def post_confirmed(
    session: AsyncSession,
    row: Withdrawal,
    *,
    network_fee: Money,
    fee_paid_from: AccountKind,
    details: dict[str, str],
) -> int:
    """Post a confirmed withdrawal's hold: custody gives up the amount, fee_revenue earns the
    withdrawal fee, and what the chain charged (`network_fee`) is paid from `fee_paid_from`: CUSTODY
    when the network fee is the asset itself (BTC), else the house's native-coin float. The network
    fee the customer was charged covers it, the difference going to network_fee_gain_loss; when none
    was charged, network_fees (an expense) is debited with it."""
    asset = Network(row.network).asset
    amount, charged = (
        Money.from_minor(row.amount_minor, asset),
        Money.from_minor(row.network_fee_minor, asset),
    )
    fee = Money.from_minor(row.fee_minor, asset) - charged
    custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=asset)
    revenue = await ledger.system_account(session=session, kind=AccountKind.FEE_REVENUE, asset=asset)
    if charged.is_positive():
        gain_loss = await ledger.system_account(
            session=session, kind=AccountKind.NETWORK_FEE_GAIN_LOSS, asset=asset
        )
        legs = [PostingRequest(revenue.id, fee), PostingRequest(gain_loss.id, charged - network_fee)]
        details = {
            **details,
            "network_fee_charged_minor": str(charged.minor),
            "network_fee_minor": str(network_fee.minor),
        }
    else:
        expense = await ledger.system_account(session=session, kind=AccountKind.NETWORK_FEES, asset=asset)
        legs = [PostingRequest(revenue.id, fee), PostingRequest(expense.id, -network_fee)]
    if fee_paid_from is AccountKind.CUSTODY:
        legs.append(PostingRequest(custody.id, amount + network_fee))
    else:
        payer = await ledger.system_account(session=session, kind=fee_paid_from, asset=asset)
        legs += [PostingRequest(custody.id, amount), PostingRequest(payer.id, network_fee)]
    result = await ledger.post_hold(
        session=session,
        hold_id=int(row.hold_id),
        postings=[leg for leg in legs if leg.amount.minor != 0],
        idempotency_key=f"withdrawal-post:{row.request_key}",
        kind="withdrawal",
        memo=f"{asset.value} withdrawal",
        details=details,
    )
    await stage_final_notice(session, row, CONFIRMED)
    return result.entry_id


__all__ = ["broadcast_signed", "lock_withdrawal", "post_confirmed", "request_withdrawal", "wei_to_asset"]
