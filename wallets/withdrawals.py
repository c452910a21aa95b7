"""Withdrawals: validate -> ledger hold -> sign -> broadcast -> confirmations -> post (or void).

The customer is charged `amount + fee` (fee per the fee schedule, in the asset). On confirmation
the hold is posted: custody gives up `amount` and `fee_revenue` earns `fee`. What the chain charged
is an expense: `network_fees` is debited with it. ERC20 gas is paid in ETH from the hot wallet's
gas float, which is not a ledger asset, so it is booked in the token at the configured ETH price
against the `fx_liquidity` account (the house's own funds); the exact wei amount is kept in the
entry's details. A failed transaction voids the hold.

A signed transaction is stored before it is broadcast, so a crash between the two re-broadcasts
the same bytes (same nonce, same txid) instead of paying twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.db.base import utcnow
from core.errors import CurrencyMismatch
from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from core.money import Asset, Money
from core.ports import ComplianceGate, MovementCheck
from wallets.addresses import validate
from wallets.erc20.sender import Erc20Sender, GasQuote
from wallets.errors import (
    AmountBelowDust,
    HotWalletInsufficient,
    NodeError,
    WalletNotConfigured,
    WithdrawalRefused,
    WithdrawalStateError,
)
from wallets.models import Withdrawal
from wallets.networks import BitcoinNet, Network

log = logging.getLogger(__name__)

HELD, SIGNED, BROADCAST, CONFIRMED, FAILED = "held", "signed", "broadcast", "confirmed", "failed"


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
    dust_minor: int = 0,
    btc_net: BitcoinNet = BitcoinNet.MAINNET,
    gate: ComplianceGate | None = None,
    amount_kes: Money | None = None,
    sendable: bool = True,
) -> Withdrawal:
    """Validate and hold `amount + fee` on the owner's wallet; idempotent per `request_key`.

    `sendable` False (no node for the network here) refuses after screening, before any hold:
    a sanctioned destination still opens its case."""
    existing = (
        await session.execute(select(Withdrawal).where(Withdrawal.request_key == request_key))
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    destination = validate(network, address, btc_net=btc_net)
    if amount.asset is not network.asset or fee.asset is not network.asset:
        raise CurrencyMismatch(f"a {network.label} withdrawal is paid in {network.asset.value}")
    if not amount.is_positive() or amount.minor < dust_minor:
        raise AmountBelowDust(
            f"the smallest {network.asset.value} withdrawal is {Money.from_minor(dust_minor, amount.asset)}"
        )
    if gate is not None:  # the destination and amount are screened before any money is held
        if session.bind is not None and session.bind.dialect.name == "sqlite":
            # The gate writes in its own session: on SQLite (the embedded default) it would wait on
            # this transaction's lock ("database is locked" after busy_timeout). End it first.
            await session.commit()
        decision = await gate.check(
            MovementCheck(
                customer_id=owner_id,
                kind="withdraw",
                amount=amount,
                amount_kes=amount_kes or Money.zero(Asset.KES),
                counterparty=destination,
            )
        )
        if not decision.allowed:
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
        idempotency_key=f"withdrawal:{request_key}",
        account_id=wallet.id,
        amount=amount + fee,
        memo=f"{network.asset.value} withdrawal",
        details={"network": network.value, "address": destination, "fee_minor": fee.minor},
    )
    row = Withdrawal(
        request_key=request_key,
        network=network.value,
        owner_type=owner_type,
        owner_id=owner_id,
        address=destination,
        amount_minor=amount.minor,
        fee_minor=fee.minor,
        hold_id=str(hold.hold_id),
        status=HELD,
    )
    session.add(row)
    await session.flush()
    return row


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
            row.status, row.updated_at = BROADCAST, utcnow()
        return row.status


class EvmWithdrawals:
    """Signs, broadcasts and tracks USDT-ERC20 withdrawals (runs in the signer worker)."""

    network = Network.ERC20

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        sender: Erc20Sender,
        confirmations: int = 3,
        native_price: Callable[[], Decimal],
    ) -> None:
        self._sessions = session_factory
        self.sender = self._sender = sender
        self._confirmations = confirmations
        self._native_price = native_price

    async def _load(self, session: AsyncSession, withdrawal_id: int) -> Withdrawal:
        return await lock_withdrawal(session, withdrawal_id, self.network)

    async def send(self, withdrawal_id: int) -> str:
        """Sign (once) and broadcast. Safe to call again after any failure."""
        async with self._sessions() as session, session.begin():
            row = await self._load(session, withdrawal_id)
            if row.status == HELD:
                if await self._sender.token_balance() < row.amount_minor:
                    log.error("hot wallet below a withdrawal", extra={"withdrawal_id": row.id})
                    raise HotWalletInsufficient(
                        "the hot wallet cannot cover this withdrawal yet; staff alerted"
                    )
                gas = await self._sender.estimate(row.address, row.amount_minor)
                if await self._sender.gas_balance() < gas.max_fee_wei:
                    raise HotWalletInsufficient("the hot wallet has too little ETH for gas; staff alerted")
                signed = await self._sender.sign(
                    to=row.address, amount=row.amount_minor, nonce=await self._sender.next_nonce(), gas=gas
                )
                row.raw_tx, row.txid, row.nonce, row.status = signed.raw, signed.txid, signed.nonce, SIGNED
                row.gas_price_wei, row.updated_at = str(gas.gas_price_wei), utcnow()
            raw, txid, status = row.raw_tx, row.txid, row.status
        if status != SIGNED:
            return status
        return await self._broadcast(withdrawal_id, raw, txid)

    async def _broadcast(self, withdrawal_id: int, raw: str, txid: str) -> str:
        return await broadcast_signed(
            self._sessions,
            withdrawal_id,
            self.network,
            txid=txid,
            broadcast=lambda: self._sender.broadcast(raw),
        )

    async def track(self, withdrawal_id: int) -> str:
        """Post the hold after N confirmations; void it if the transaction failed on chain."""
        async with self._sessions() as session:
            row = await session.get(Withdrawal, withdrawal_id)
            if row is None or row.status != BROADCAST:
                return row.status if row else "missing"
            candidates = [row.txid, *row.replaced_txids.split()]
        receipt, txid = None, candidates[0]
        for candidate in candidates:  # the replacement, or an earlier version that got mined first
            receipt = await self._sender.receipt(candidate)
            if receipt is not None:
                txid = candidate
                break
        if receipt is None:
            return BROADCAST  # pending; `replace_stuck` re-prices it
        tip = await self._sender.tip()
        if tip - receipt.height + 1 < self._confirmations:
            return BROADCAST
        async with self._sessions() as session, session.begin():
            row = await self._load(session, withdrawal_id)
            if row.status != BROADCAST:
                return row.status
            if row.txid != txid:  # an earlier version was mined: that one is the withdrawal
                row.replaced_txids = " ".join(t for t in [row.txid, *row.replaced_txids.split()] if t != txid)
                row.txid = txid
            row.block_height, row.network_fee_native = receipt.height, str(receipt.fee_wei)
            if not receipt.success:
                await ledger.void_hold(
                    session=session, hold_id=int(row.hold_id), reason=f"reverted on chain: {txid}"
                )
                row.status, row.error = FAILED, "transaction reverted on chain"
                row.entry_id = str(await self._book_failed_gas(session, row, receipt.fee_wei))
                log.error("withdrawal reverted on chain; hold voided", extra={"withdrawal_id": row.id})
            else:
                row.entry_id = str(await self._post(session, row, receipt.fee_wei))
                row.status = CONFIRMED
            row.updated_at = utcnow()
            return row.status

    async def replace_stuck(self, withdrawal_id: int, *, bump_percent: int = 25) -> str:
        """Re-sign a pending transaction with the same nonce and a higher gas price, and broadcast it.

        Nodes accept a replacement only if it pays at least ~10% more; whichever version is mined is
        the withdrawal (track() looks at all of them), so funds never leave twice.
        """
        async with self._sessions() as session, session.begin():
            row = await self._load(session, withdrawal_id)
            if row.status != BROADCAST or row.nonce is None:
                raise WithdrawalStateError(
                    f"withdrawal {withdrawal_id} is {row.status}, not pending on chain"
                )
            for txid in [row.txid, *row.replaced_txids.split()]:
                if await self._sender.receipt(txid) is not None:
                    return BROADCAST  # already mined: nothing to replace
            quote = await self._sender.estimate(row.address, row.amount_minor)
            bumped = int(row.gas_price_wei) * (100 + bump_percent) // 100
            gas = GasQuote(gas_limit=quote.gas_limit, gas_price_wei=max(bumped, quote.gas_price_wei))
            signed = await self._sender.sign(
                to=row.address, amount=row.amount_minor, nonce=row.nonce, gas=gas
            )
            row.replaced_txids = " ".join([*row.replaced_txids.split(), row.txid])
            row.raw_tx, row.txid, row.status = signed.raw, signed.txid, SIGNED
            row.gas_price_wei, row.updated_at = str(gas.gas_price_wei), utcnow()
            raw, txid = row.raw_tx, row.txid
        log.warning(
            "withdrawal re-priced", extra={"withdrawal_id": withdrawal_id, "gas_price_wei": gas.gas_price_wei}
        )
        return await self._broadcast(withdrawal_id, raw, txid)

    async def _book_failed_gas(self, session: AsyncSession, row: Withdrawal, fee_wei: int) -> int:
        """A reverted transaction still burned gas: the house's expense, booked like any other."""
        asset = self.network.asset
        cost = wei_to_asset(fee_wei, native_price=self._native_price(), asset=asset)
        if not cost.is_positive():
            return 0
        fees = await ledger.system_account(session=session, kind=AccountKind.NETWORK_FEES, asset=asset)
        gas_float = await ledger.system_account(session=session, kind=AccountKind.FX_LIQUIDITY, asset=asset)
        result = await ledger.post_entry(
            session=session,
            idempotency_key=f"withdrawal-failed-gas:{row.request_key}",
            kind="network_fee",
            postings=[PostingRequest(fees.id, -cost), PostingRequest(gas_float.id, cost)],
            memo="gas of a reverted withdrawal",
            details={"txid": row.txid, "network_fee_wei": str(fee_wei)},
        )
        return result.entry_id

    async def _post(self, session: AsyncSession, row: Withdrawal, fee_wei: int) -> int:
        network_fee = wei_to_asset(fee_wei, native_price=self._native_price(), asset=self.network.asset)
        return await post_confirmed(
            session,
            row,
            network_fee=network_fee,
            fee_paid_from=AccountKind.FX_LIQUIDITY,  # the house's ETH gas float
            details={"txid": row.txid, "network_fee_wei": str(fee_wei), "address": row.address},
        )


async def post_confirmed(
    session: AsyncSession,
    row: Withdrawal,
    *,
    network_fee: Money,
    fee_paid_from: AccountKind,
    details: dict[str, str],
) -> int:
    """Post a confirmed withdrawal's hold: custody gives up the amount, fee_revenue earns the fee,
    network_fees (an expense) is debited with what the chain charged, paid from `fee_paid_from`:
    CUSTODY when the network fee is the asset itself (BTC), else the house's native-coin float."""
    asset = Network(row.network).asset
    amount, fee = Money.from_minor(row.amount_minor, asset), Money.from_minor(row.fee_minor, asset)
    custody = await ledger.system_account(session=session, kind=AccountKind.CUSTODY, asset=asset)
    revenue = await ledger.system_account(session=session, kind=AccountKind.FEE_REVENUE, asset=asset)
    fees = await ledger.system_account(session=session, kind=AccountKind.NETWORK_FEES, asset=asset)
    legs = [PostingRequest(revenue.id, fee), PostingRequest(fees.id, -network_fee)]
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
    return result.entry_id


__all__ = ["EvmWithdrawals", "post_confirmed", "request_withdrawal", "wei_to_asset"]
