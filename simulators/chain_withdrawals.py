"""Withdrawals on the embedded default's simulated chains: the same states and ledger as on a real
node (held -> signed -> broadcast -> confirmed, the hold posted with the network fee booked), with
the simulated hot wallet (simulators.chain) as the sender. No key signs anything: the "signed"
transaction is a record of what the simulation will mine.

Network fees are fixed and typical: an ERC20 transfer's 65,000 gas at 20 gwei, a TRC20
transfer's 65,000 energy at 100 sun plus 345 bandwidth bytes at 1,000 sun, and a one-input
two-output segwit transaction of 141 vB at 10 sat/vB.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import clock_of
from core.ledger.types import AccountKind
from core.money import Money
from simulators.chain import SimulatedChain
from wallets.errors import WithdrawalStateError
from wallets.models import Withdrawal
from wallets.networks import Network
from wallets.withdrawals.lifecycle import (
    BROADCAST,
    CONFIRMED,
    HELD,
    SIGNED,
    broadcast_signed,
    lock_withdrawal,
    native_to_asset,
    post_confirmed,
)

SIMULATED_NETWORK_FEE = {  # in the network's native base unit: wei, sun, sat
    Network.ERC20: 65_000 * 20 * 10**9,
    Network.TRC20: 65_000 * 100 + 345 * 1_000,
    Network.BTC: 141 * 10,
}
NATIVE_DECIMALS = {Network.ERC20: 18, Network.TRC20: 6}


class SimulatedWithdrawals:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        chain: SimulatedChain,
        confirmations: int,
        native_price: Decimal | None = None,  # asset per native coin (ETH, TRX); unused on BTC
    ) -> None:
        self._sessions = session_factory
        self.chain = chain
        self.network = chain.network
        self._confirmations = confirmations
        self._native_price = native_price

    async def _load(self, session: AsyncSession, withdrawal_id: int) -> Withdrawal:
        return await lock_withdrawal(session, withdrawal_id, self.network)

    def _txid(self, request_key: str) -> str:
        digest = hashlib.sha256(f"simulated-withdrawal:{request_key}".encode()).hexdigest()
        return ("0x" if self.network is Network.ERC20 else "") + digest

    async def send(self, withdrawal_id: int) -> str:
        """Record the transaction once, then hand it to the simulated chain (idempotent on txid)."""
        async with self._sessions() as session, session.begin():
            row = await self._load(session, withdrawal_id)
            if row.status == HELD:
                fee = SIMULATED_NETWORK_FEE[self.network]
                row.txid, row.network_fee_native = self._txid(row.request_key), str(fee)
                row.raw_tx = json.dumps({"simulated": True, "to": row.address, "amount": row.amount_minor})
                row.status, row.updated_at = SIGNED, clock_of(session).now()
            txid, status = row.txid, row.status
            to, amount, fee_native = row.address, row.amount_minor, int(row.network_fee_native)
        if status != SIGNED:
            return status

        async def broadcast() -> None:
            self.chain.send_from_hot(txid=txid, to=to, amount=amount, network_fee=fee_native)

        return await broadcast_signed(
            self._sessions, withdrawal_id, self.network, txid=txid, broadcast=broadcast
        )

    async def track(self, withdrawal_id: int) -> str:
        """Post the hold, network fee booked, once the transaction has enough confirmations."""
        async with self._sessions() as session:
            row = await session.get(Withdrawal, withdrawal_id)
            if row is None or row.status != BROADCAST:
                return row.status if row else "missing"
            txid = row.txid
        height = self.chain.height_of(txid)
        if height is None or await self.chain.tip() - height + 1 < self._confirmations:
            return BROADCAST
        async with self._sessions() as session, session.begin():
            row = await self._load(session, withdrawal_id)
            if row.status != BROADCAST:
                return row.status
            row.block_height = height
            row.entry_id = str(await self._post(session, row))
            row.status, row.updated_at = CONFIRMED, clock_of(session).now()
            return row.status

    async def _post(self, session: AsyncSession, row: Withdrawal) -> int:
        asset, native = self.network.asset, int(row.network_fee_native)
        details = {"txid": row.txid, "network_fee_native": row.network_fee_native, "simulated": "yes"}
        if self.network is Network.BTC:
            fee = Money.from_minor(native, asset)
            return await post_confirmed(
                session, row, network_fee=fee, fee_paid_from=AccountKind.CUSTODY, details=details
            )
        if self._native_price is None:
            raise WithdrawalStateError(f"no native coin price to book {self.network.label} network fees")
        fee = native_to_asset(
            native, decimals=NATIVE_DECIMALS[self.network], native_price=self._native_price, asset=asset
        )
        return await post_confirmed(
            session, row, network_fee=fee, fee_paid_from=AccountKind.FX_LIQUIDITY, details=details
        )
