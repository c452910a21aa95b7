"""Sweep USDT from TRC20 deposit addresses into the TRON hot wallet, topping up their TRX first.

The pass itself is `wallets.withdrawals.sweeping`; this is the TRON side of it. A deposit address has no TRX
to burn for energy and bandwidth: the hot wallet sends it what the transfer will burn (estimated
from the chain parameters). The TRX the transfers burn is booked, in USDT at the configured TRX
price (sun in the details).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from wallets.hd.keys import Seed
from wallets.networks import Network
from wallets.trc20.fees import estimate_transfer
from wallets.trc20.sender import Trc20Sender
from wallets.withdrawals.sweeping import FeeEntry, Sent, SweepChain, SweepReport, TokenSweeper, digest

SUN_DECIMALS = 6


@dataclass(frozen=True)
class TronTransfer:
    index: int  # the deposit address's derivation index, for its key
    amount: int
    native_fee: int  # sun the transfer will burn


class Trc20Chain(SweepChain[TronTransfer]):
    network = Network.TRC20
    native_decimals = SUN_DECIMALS

    def __init__(self, *, client: httpx.AsyncClient, contract: str, seed: Seed, hot: Trc20Sender) -> None:
        self._client = client
        self._contract = contract
        self._seed = seed
        self._hot = hot

    async def token_balance(self, address: str) -> int:
        return await self._hot.token_balance(address)

    async def quote(self, address: str, index: int, amount: int) -> TronTransfer:
        fee = await estimate_transfer(
            self._client, owner=address, contract=self._contract, to=self._hot.hot_address, amount=amount
        )
        return TronTransfer(index=index, amount=amount, native_fee=fee.sun)

    async def native_balance(self, address: str) -> int:
        return await self._hot.trx_balance(address)

    async def top_up(self, address: str, units: int) -> Sent:
        signed = await self._hot.sign_trx_transfer(to=address, sun=units)
        await self._hot.broadcast(signed.payload)
        return Sent(txid=signed.txid, native_spent=0)  # only the sweeps' burn is booked

    async def transfer(self, quote: TronTransfer) -> Sent:
        owner = Trc20Sender(
            self._client,
            contract=self._contract,
            hot_private_key=self._seed.private_key(Network.TRC20, quote.index),
        )
        signed = await owner.sign_transfer(to=self._hot.hot_address, amount=quote.amount)
        await owner.broadcast(signed.payload)
        return Sent(txid=signed.txid, native_spent=quote.native_fee)

    def fee_entry(self, report: SweepReport) -> FeeEntry:
        details = {"burned_sun": str(report.native_spent), "swept": report.swept, "txids": report.txids}
        return FeeEntry(
            idempotency_key="sweep-trx:" + digest(details),
            memo="TRX burned by TRC20 sweeps",
            details=details,
        )


class Trc20Sweeper(TokenSweeper[TronTransfer]):
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        client: httpx.AsyncClient,
        contract: str,
        seed: Seed,
        hot: Trc20Sender,
        native_price: Callable[[], Decimal],
        min_sweep_minor: int = 10_000_000,
        max_fee_share: Decimal = Decimal("0.05"),
    ) -> None:
        super().__init__(
            chain=Trc20Chain(client=client, contract=contract, seed=seed, hot=hot),
            session_factory=session_factory,
            native_price=native_price,
            min_sweep_minor=min_sweep_minor,
            max_fee_share=max_fee_share,
        )
