"""Sweep USDT from TRC20 deposit addresses into the TRON hot wallet, topping up their TRX first.

A deposit address has no TRX to burn for energy and bandwidth: the hot wallet sends it what the
transfer will burn (estimated from the chain parameters), and the next pass moves the tokens,
when economical. TRX burned is booked like every network fee: network_fees debited against
fx_liquidity (the house's TRX float), in USDT at the configured TRX price (sun in the details).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ledger import service as ledger
from core.ledger.models import AccountKind, PostingRequest
from wallets.errors import NodeError
from wallets.keys import Seed
from wallets.models import DepositAddress
from wallets.networks import Network
from wallets.trc20.fees import estimate_transfer
from wallets.trc20.sender import Trc20Sender
from wallets.withdrawals import native_to_asset

log = logging.getLogger(__name__)


@dataclass
class TronSweepReport:
    topped_up: list[str] = field(default_factory=list)
    swept: dict[str, int] = field(default_factory=dict)
    skipped_uneconomical: list[str] = field(default_factory=list)
    burned_sun: int = 0
    txids: list[str] = field(default_factory=list)


class Trc20Sweeper:
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
        self._sessions = session_factory
        self._client = client
        self._contract = contract
        self._seed = seed
        self._hot = hot
        self._native_price = native_price
        self._min = min_sweep_minor
        self._max_share = max_fee_share

    async def sweep_once(self) -> TronSweepReport:
        report = TronSweepReport()
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(DepositAddress).where(DepositAddress.network == Network.TRC20.value)
                )
            ).scalars()
            addresses = [(row.address, row.derivation_index) for row in rows]
        for address, index in addresses:
            try:
                await self._sweep_address(address, index, report)
            except NodeError as exc:
                log.warning("TRC20 sweep of an address failed", extra={"address": address, "error": str(exc)})
        if report.burned_sun:
            await self._book(report)
        return report

    async def _sweep_address(self, address: str, index: int, report: TronSweepReport) -> None:
        balance = await self._hot.token_balance(address)
        if balance < self._min:
            return
        quote = await estimate_transfer(
            self._client, owner=address, contract=self._contract, to=self._hot.hot_address, amount=balance
        )
        cost = native_to_asset(
            quote.sun, decimals=6, native_price=self._native_price(), asset=Network.TRC20.asset
        )
        if Decimal(cost.minor) > Decimal(balance) * self._max_share:
            report.skipped_uneconomical.append(address)
            return
        has = await self._hot.trx_balance(address)
        if has < quote.sun:
            signed = await self._hot.sign_trx_transfer(to=address, sun=quote.sun - has)
            await self._hot.broadcast(signed.payload)
            report.topped_up.append(address)
            report.txids.append(signed.txid)
            return  # swept on a later pass, once the TRX has arrived
        owner = Trc20Sender(
            self._client,
            contract=self._contract,
            hot_private_key=self._seed.private_key(Network.TRC20, index),
        )
        signed = await owner.sign_transfer(to=self._hot.hot_address, amount=balance)
        await owner.broadcast(signed.payload)
        report.swept[address] = balance
        report.burned_sun += quote.sun
        report.txids.append(signed.txid)

    async def _book(self, report: TronSweepReport) -> None:
        asset = Network.TRC20.asset
        cost = native_to_asset(report.burned_sun, decimals=6, native_price=self._native_price(), asset=asset)
        details = {"burned_sun": str(report.burned_sun), "swept": report.swept, "txids": report.txids}
        async with self._sessions() as session, session.begin():
            fees = await ledger.system_account(session=session, kind=AccountKind.NETWORK_FEES, asset=asset)
            trx_float = await ledger.system_account(
                session=session, kind=AccountKind.FX_LIQUIDITY, asset=asset
            )
            await ledger.post_entry(
                session=session,
                idempotency_key="sweep-trx:" + hashlib.sha256(repr(details).encode()).hexdigest(),
                kind="network_fee",
                postings=[PostingRequest(fees.id, -cost), PostingRequest(trx_float.id, cost)],
                memo="TRX burned by TRC20 sweeps",
                details=details,
            )
