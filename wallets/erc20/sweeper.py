"""Sweep USDT from ERC20 deposit addresses into the hot wallet, topping up their gas (ETH) first.

The pass itself is `wallets.withdrawals.sweeping`; this is the Ethereum side of it. Every gas payment, the
top-ups' included, is booked, in USDT at the configured ETH price (the wei amount in the details).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from web3 import AsyncWeb3

from wallets.erc20.sender import Erc20Sender, GasQuote
from wallets.errors import NodeError
from wallets.hd.keys import Seed
from wallets.networks import Network
from wallets.withdrawals.sweeping import FeeEntry, Sent, SweepChain, SweepReport, TokenSweeper, digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Erc20Transfer:
    sender: Erc20Sender  # signs with the deposit address's own key
    amount: int
    gas: GasQuote

    @property
    def native_fee(self) -> int:
        return self.gas.max_fee_wei


class Erc20Chain(SweepChain[Erc20Transfer]):
    network = Network.ERC20
    native_decimals = 18

    def __init__(self, *, w3: AsyncWeb3[Any], token: str, seed: Seed, hot: Erc20Sender) -> None:
        self._w3 = w3
        self._token = token
        self._seed = seed
        self._hot = hot

    async def token_balance(self, address: str) -> int:
        return await self._hot.token_balance(address)

    async def quote(self, address: str, index: int, amount: int) -> Erc20Transfer | None:
        key = self._seed.private_key(Network.ERC20, index)
        sender = Erc20Sender(self._w3, token=self._token, hot_private_key=key)
        try:
            gas = await sender.estimate(self._hot.hot_address, amount)
        except NodeError as exc:
            log.warning("cannot estimate a sweep", extra={"address": address, "error": str(exc)})
            return None
        return Erc20Transfer(sender=sender, amount=amount, gas=gas)

    async def native_balance(self, address: str) -> int:
        return int(await self._w3.eth.get_balance(to_checksum_address(address)))

    async def top_up(self, address: str, units: int) -> Sent:
        price = await self._hot.gas_price()
        signed = await self._hot.sign_native(
            to=address, wei=units, nonce=await self._hot.next_nonce(), gas_price_wei=price
        )
        await self._hot.broadcast(signed.raw)
        log.info("gas top-up sent", extra={"address": address, "wei": units})
        return Sent(txid=signed.txid, native_spent=signed.gas.max_fee_wei)

    async def transfer(self, quote: Erc20Transfer) -> Sent:
        sender = quote.sender
        signed = await sender.sign(
            to=self._hot.hot_address, amount=quote.amount, nonce=await sender.next_nonce(), gas=quote.gas
        )
        await sender.broadcast(signed.raw)
        try:
            receipt = await sender.receipt(signed.txid)
        except NodeError:  # it was broadcast: book the most it can cost rather than nothing
            receipt = None
        return Sent(txid=signed.txid, native_spent=receipt.fee_wei if receipt else quote.gas.max_fee_wei)

    def fee_entry(self, report: SweepReport) -> FeeEntry:
        details = {
            "gas_wei": str(report.native_spent),
            "swept": report.swept,
            "topped_up": report.topped_up,
        }
        return FeeEntry(
            idempotency_key="sweep-gas:" + digest({**details, "txids": report.txids}),
            memo="gas for sweeps and top-ups",
            details=details,
        )


class Erc20Sweeper(TokenSweeper[Erc20Transfer]):
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        w3: AsyncWeb3[Any],
        token: str,
        seed: Seed,
        hot: Erc20Sender,
        native_price: Callable[[], Decimal],
        min_sweep_minor: int = 10_000_000,
        max_fee_share: Decimal = Decimal("0.02"),
    ) -> None:
        super().__init__(
            chain=Erc20Chain(w3=w3, token=token, seed=seed, hot=hot),
            session_factory=session_factory,
            native_price=native_price,
            min_sweep_minor=min_sweep_minor,
            max_fee_share=max_fee_share,
        )


__all__ = ["Erc20Sweeper", "GasQuote", "SweepReport"]
