"""USDT-TRC20 withdrawals: hold -> build (node) + check + sign (tronpy) -> broadcast -> 20
confirmations -> post; reverted -> void. A TRON transaction expires about a minute after it is
built: one that expired unmined is rebuilt and re-signed (tracked across versions, paid once).

TRX burned for energy and bandwidth is the network fee; TRX is not a ledger asset, so it is booked
in USDT at TRX_PRICE_USDT against fx_liquidity (the house's TRX float), the sun in the details.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import clock_of
from core.ledger import service as ledger
from core.ledger.types import AccountKind
from wallets.models import Withdrawal
from wallets.networks import Network
from wallets.trc20.sender import Trc20Sender, TronReceipt
from wallets.withdrawals.lifecycle import (
    BROADCAST,
    CONFIRMED,
    FAILED,
    HELD,
    SIGNED,
    broadcast_signed,
    lock_withdrawal,
    native_to_asset,
    post_confirmed,
    stage_final_notice,
)

log = logging.getLogger(__name__)
SUN_DECIMALS = 6


class TronWithdrawals:
    network = Network.TRC20

    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        sender: Trc20Sender,
        confirmations: int = 20,
        native_price: Callable[[], Decimal],
    ) -> None:
        self._sessions = session_factory
        self.sender = sender
        self._confirmations = confirmations
        self._native_price = native_price

    async def _load(self, session: AsyncSession, withdrawal_id: int) -> Withdrawal:
        return await lock_withdrawal(session, withdrawal_id, self.network)

    async def _sign_into(self, row: Withdrawal, now: datetime) -> None:
        signed = await self.sender.sign_transfer(to=row.address, amount=row.amount_minor)
        if row.txid:
            row.replaced_txids = " ".join([*row.replaced_txids.split(), row.txid])
        row.raw_tx, row.txid, row.nonce = json.dumps(signed.payload), signed.txid, signed.expiration_ms
        row.status, row.updated_at = SIGNED, now

    async def send(self, withdrawal_id: int) -> str:
        async with self._sessions() as session, session.begin():
            row = await self._load(session, withdrawal_id)
            if row.status == HELD:
                await self._sign_into(row, clock_of(session).now())
            payload, txid, status = row.raw_tx, row.txid, row.status
        if status != SIGNED:
            return status
        return await broadcast_signed(
            self._sessions, withdrawal_id, self.network, txid=txid,
            broadcast=lambda: self.sender.broadcast(json.loads(payload)),
        )  # fmt: skip

    async def track(self, withdrawal_id: int) -> str:
        async with self._sessions() as session:
            row = await session.get(Withdrawal, withdrawal_id)
            if row is None or row.status != BROADCAST:
                return row.status if row else "missing"
            candidates, expiration = [row.txid, *row.replaced_txids.split()], row.nonce or 0
        found: tuple[str, TronReceipt] | None = None
        for txid in candidates:
            receipt = await self.sender.receipt(txid)
            if receipt is not None:
                found = (txid, receipt)
                break
        if found is None:
            if self.sender.expired(expiration):
                return await self._rebuild(withdrawal_id)
            return BROADCAST
        txid, receipt = found
        if await self.sender.tip() - receipt.height + 1 < self._confirmations:
            return BROADCAST
        async with self._sessions() as session, session.begin():
            row = await self._load(session, withdrawal_id)
            if row.status != BROADCAST:
                return row.status
            row.txid, row.block_height, row.network_fee_native = txid, receipt.height, str(receipt.fee_sun)
            if receipt.success:
                row.entry_id, row.status = str(await self._post(session, row, receipt.fee_sun)), CONFIRMED
            else:
                await ledger.void_hold(
                    session=session, hold_id=int(row.hold_id), reason=f"failed on chain: {txid}"
                )
                row.status, row.error = FAILED, "transaction failed on chain (energy or balance)"
                await stage_final_notice(session, row, FAILED)
            row.updated_at = clock_of(session).now()
            return row.status

    async def _rebuild(self, withdrawal_id: int) -> str:
        async with self._sessions() as session, session.begin():
            row = await self._load(session, withdrawal_id)
            if row.status != BROADCAST:
                return row.status
            await self._sign_into(row, clock_of(session).now())
        log.warning("TRON withdrawal expired unmined; rebuilt", extra={"withdrawal_id": withdrawal_id})
        return await self.send(withdrawal_id)

    async def _post(self, session: AsyncSession, row: Withdrawal, fee_sun: int) -> int:
        asset = self.network.asset
        cost = native_to_asset(fee_sun, decimals=SUN_DECIMALS, native_price=self._native_price(), asset=asset)
        return await post_confirmed(
            session,
            row,
            network_fee=cost,
            fee_paid_from=AccountKind.FX_LIQUIDITY,  # the house's TRX float
            details={"txid": row.txid, "network_fee_sun": str(fee_sun), "address": row.address},
        )
