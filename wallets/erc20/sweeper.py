"""Sweep USDT from ERC20 deposit addresses into the hot wallet, topping up their gas first.

A deposit address holds tokens but no ETH, so it cannot pay for its own transfer: the hot wallet
sends it just enough ETH for one transfer, and the next pass moves the tokens. A sweep is made
only when economical (gas at most `max_fee_share` of the amount). Custody does not change in the
ledger (the tokens stay ours), but every gas payment is booked as an expense: network_fees is
debited g against fx_liquidity (the house's ETH gas float), in USDT at the configured ETH price
(the wei amount in the entry's details).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from web3 import AsyncWeb3

from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from wallets.erc20.sender import Erc20Sender, GasQuote
from wallets.errors import NodeError
from wallets.keys import Seed
from wallets.models import DepositAddress
from wallets.networks import Network
from wallets.withdrawals import wei_to_asset

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    topped_up: list[str] = field(default_factory=list)
    swept: dict[str, int] = field(default_factory=dict)  # address -> token base units
    skipped_uneconomical: list[str] = field(default_factory=list)
    gas_wei: int = 0
    txids: list[str] = field(default_factory=list)


class Erc20Sweeper:
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
        self._sessions = session_factory
        self._w3 = w3
        self._token = token
        self._seed = seed
        self._hot = hot
        self._native_price = native_price
        self._min = min_sweep_minor
        self._max_share = max_fee_share
        self._txids: list[str] = []

    async def sweep_once(self) -> SweepReport:
        report = SweepReport()
        self._txids = report.txids
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(DepositAddress).where(DepositAddress.network == Network.ERC20.value)
                )
            ).scalars()
            addresses = [(row.address, row.derivation_index) for row in rows]
        for address, index in addresses:
            await self._sweep_address(address, index, report)
        if report.gas_wei:
            await self._book_gas(report)
        return report

    async def _sweep_address(self, address: str, index: int, report: SweepReport) -> None:
        balance = await self._hot.token_balance(address)
        if balance < self._min:
            return
        key = self._seed.private_key(Network.ERC20, index)
        sender = Erc20Sender(self._w3, token=self._token, hot_private_key=key)
        try:
            gas = await sender.estimate(self._hot.hot_address, balance)
        except NodeError as exc:
            log.warning("cannot estimate a sweep", extra={"address": address, "error": str(exc)})
            return
        cost = wei_to_asset(gas.max_fee_wei, native_price=self._native_price(), asset=Network.ERC20.asset)
        if Decimal(cost.minor) > Decimal(balance) * self._max_share:
            report.skipped_uneconomical.append(address)
            return
        has = int(await self._w3.eth.get_balance(to_checksum_address(address)))
        if has < gas.max_fee_wei:
            report.gas_wei += await self._top_up(address, gas.max_fee_wei - has)
            report.topped_up.append(address)
            return  # swept on a later pass, once the top-up is mined
        signed = await sender.sign(
            to=self._hot.hot_address, amount=balance, nonce=await sender.next_nonce(), gas=gas
        )
        await sender.broadcast(signed.raw)
        report.txids.append(signed.txid)
        receipt = await sender.receipt(signed.txid)
        report.gas_wei += receipt.fee_wei if receipt else gas.max_fee_wei
        report.swept[address] = balance

    async def _top_up(self, address: str, wei: int) -> int:
        price = await self._hot.gas_price()
        signed = await self._hot.sign_native(
            to=address, wei=wei, nonce=await self._hot.next_nonce(), gas_price_wei=price
        )
        await self._hot.broadcast(signed.raw)
        self._txids.append(signed.txid)
        log.info("gas top-up sent", extra={"address": address, "wei": wei})
        return signed.gas.max_fee_wei

    async def _book_gas(self, report: SweepReport) -> None:
        asset = Network.ERC20.asset
        cost = wei_to_asset(report.gas_wei, native_price=self._native_price(), asset=asset)
        if not cost.is_positive():
            return
        details = {
            "gas_wei": str(report.gas_wei),
            "swept": report.swept,
            "topped_up": report.topped_up,
            "txids": report.txids,
        }
        async with self._sessions() as session, session.begin():
            fees = await ledger.system_account(session=session, kind=AccountKind.NETWORK_FEES, asset=asset)
            gas_float = await ledger.system_account(
                session=session, kind=AccountKind.FX_LIQUIDITY, asset=asset
            )
            await ledger.post_entry(
                session=session,
                idempotency_key="sweep-gas:" + hashlib.sha256(repr(details).encode()).hexdigest(),
                kind="network_fee",
                postings=[PostingRequest(fees.id, -cost), PostingRequest(gas_float.id, cost)],
                memo="gas for sweeps and top-ups",
                details={
                    "gas_wei": str(report.gas_wei),
                    "swept": report.swept,
                    "topped_up": report.topped_up,
                },
            )


__all__ = ["Erc20Sweeper", "GasQuote", "SweepReport"]
