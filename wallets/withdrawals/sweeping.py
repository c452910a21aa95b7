"""The sweep pass the token networks share: move the tokens of each deposit address into the hot
wallet, topping up the native coin the transfer burns first.

A deposit address holds tokens but none of the chain's native coin (ETH, TRX), so it cannot pay
for its own transfer: the hot wallet sends it what one transfer will cost, and a later pass moves
the tokens. A sweep is made only when economical (its fee at most `max_fee_share` of the amount).
Custody does not change in the ledger (the tokens stay ours), but the coin spent is booked as an
expense: network_fees debited against fx_liquidity (the house's float of that coin), in the token's
asset at `native_price` (the native amount in the entry's details).

A network plugs in as a `SweepChain`; `TokenSweeper` runs the pass over it.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ledger import service as ledger
from core.ledger.types import AccountKind, PostingRequest
from core.money import Money
from wallets.errors import NodeError
from wallets.models import DepositAddress
from wallets.networks import Network
from wallets.withdrawals.lifecycle import native_to_asset

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    topped_up: list[str] = field(default_factory=list)
    swept: dict[str, int] = field(default_factory=dict)  # address -> token base units
    skipped_uneconomical: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # a node error: retried on the next pass
    native_spent: int = 0  # wei, sun: the coin the pass cost, as booked
    txids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Sent:
    txid: str
    native_spent: int  # what the transaction is booked as costing, in the native coin


@dataclass(frozen=True)
class FeeEntry:
    idempotency_key: str
    memo: str
    details: dict[str, Any]


class Quote(Protocol):
    @property
    def native_fee(self) -> int: ...


Q = TypeVar("Q", bound=Quote)


class SweepChain(ABC, Generic[Q]):
    """One token network as the sweep pass sees it; `Q` is its quote for one token transfer."""

    network: Network
    native_decimals: int

    @abstractmethod
    async def token_balance(self, address: str) -> int: ...

    @abstractmethod
    async def quote(self, address: str, index: int, amount: int) -> Q | None:
        """What moving `amount` from the address to the hot wallet needs; None to leave it be."""

    @abstractmethod
    async def native_balance(self, address: str) -> int: ...

    @abstractmethod
    async def top_up(self, address: str, units: int) -> Sent: ...

    @abstractmethod
    async def transfer(self, quote: Q) -> Sent: ...

    @abstractmethod
    def fee_entry(self, report: SweepReport) -> FeeEntry: ...


def digest(details: dict[str, Any]) -> str:
    """A fee entry's idempotency suffix: the pass's txids make it unique to that pass."""
    return hashlib.sha256(repr(details).encode()).hexdigest()


class TokenSweeper(Generic[Q]):
    def __init__(
        self,
        *,
        chain: SweepChain[Q],
        session_factory: async_sessionmaker[AsyncSession],
        native_price: Callable[[], Decimal],
        min_sweep_minor: int,
        max_fee_share: Decimal,
    ) -> None:
        self._chain = chain
        self._sessions = session_factory
        self._native_price = native_price
        self._min = min_sweep_minor
        self._max_share = max_fee_share

    async def sweep_once(self) -> SweepReport:
        """One pass. A node error on one address skips that address (the next pass retries it);
        whatever ends the pass, the coin already spent is booked before it ends."""
        report = SweepReport()
        try:
            for address, index in await self._deposit_addresses():
                try:
                    await self._sweep_address(address, index, report)
                except NodeError as exc:
                    report.failed.append(address)
                    log.warning(
                        "%s sweep of an address failed; skipped",
                        self._chain.network.name,
                        extra={"address": address, "error": str(exc)},
                    )
        finally:
            if report.native_spent:
                await self._book(report)
        return report

    async def _deposit_addresses(self) -> list[tuple[str, int]]:
        network = self._chain.network.value
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(DepositAddress)
                    .where(DepositAddress.network == network)
                    .order_by(DepositAddress.id)
                )
            ).scalars()
            return [(row.address, row.derivation_index) for row in rows]

    async def _sweep_address(self, address: str, index: int, report: SweepReport) -> None:
        chain = self._chain
        balance = await chain.token_balance(address)
        if balance < self._min:
            return
        quote = await chain.quote(address, index, balance)
        if quote is None:
            return
        if Decimal(self._in_asset(quote.native_fee).minor) > Decimal(balance) * self._max_share:
            report.skipped_uneconomical.append(address)
            return
        has = await chain.native_balance(address)
        if has < quote.native_fee:
            self._record(report, await chain.top_up(address, quote.native_fee - has))
            report.topped_up.append(address)
            return  # swept on a later pass, once the top-up has arrived
        self._record(report, await chain.transfer(quote))
        report.swept[address] = balance

    @staticmethod
    def _record(report: SweepReport, sent: Sent) -> None:
        report.txids.append(sent.txid)
        report.native_spent += sent.native_spent

    def _in_asset(self, native_units: int) -> Money:
        return native_to_asset(
            native_units,
            decimals=self._chain.native_decimals,
            native_price=self._native_price(),
            asset=self._chain.network.asset,
        )

    async def _book(self, report: SweepReport) -> None:
        asset = self._chain.network.asset
        cost = self._in_asset(report.native_spent)
        if not cost.is_positive():
            return
        entry = self._chain.fee_entry(report)
        async with self._sessions() as session, session.begin():
            fees = await ledger.system_account(session=session, kind=AccountKind.NETWORK_FEES, asset=asset)
            native_float = await ledger.system_account(
                session=session, kind=AccountKind.FX_LIQUIDITY, asset=asset
            )
            await ledger.post_entry(
                session=session,
                idempotency_key=entry.idempotency_key,
                kind="network_fee",
                postings=[PostingRequest(fees.id, -cost), PostingRequest(native_float.id, cost)],
                memo=entry.memo,
                details=entry.details,
            )
