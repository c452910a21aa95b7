"""USDT-ERC20 withdrawals (runs in the signer worker): sign once with the hot wallet's key, broadcast,
wait for confirmations, post the hold with the gas booked; a stuck transaction is re-priced with the
same nonce (whichever version is mined is the withdrawal, paid once); a reverted one voids the hold
and its burned gas is still booked as the house's expense.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import clock_of
from core.ledger import service as ledger
from core.ledger.types import AccountKind, PostingRequest
from wallets.erc20.sender import Erc20Sender, GasQuote
from wallets.errors import HotWalletInsufficient, WithdrawalStateError
from wallets.models import Withdrawal
from wallets.networks import Network
from wallets.withdrawals.lifecycle import (
    BROADCAST,
    CONFIRMED,
    FAILED,
    HELD,
    SIGNED,
    broadcast_signed,
    lock_withdrawal,
    post_confirmed,
    stage_final_notice,
    wei_to_asset,
)

log = logging.getLogger(__name__)


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
                row.gas_price_wei, row.updated_at = str(gas.gas_price_wei), clock_of(session).now()
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
                await stage_final_notice(session, row, FAILED)
                row.entry_id = str(await self._book_failed_gas(session, row, receipt.fee_wei))
                log.error("withdrawal reverted on chain; hold voided", extra={"withdrawal_id": row.id})
            else:
                row.entry_id = str(await self._post(session, row, receipt.fee_wei))
                row.status = CONFIRMED
            row.updated_at = clock_of(session).now()
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
            row.gas_price_wei, row.updated_at = str(gas.gas_price_wei), clock_of(session).now()
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
