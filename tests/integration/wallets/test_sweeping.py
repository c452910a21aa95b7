"""The shared sweep pass (wallets.withdrawals.sweeping) over an in-memory chain: which addresses it tops up,
sweeps, leaves alone or skips; a node failure skips the address (every network); the native coin
spent is booked once per pass as the chain's fee entry, even when the pass ends early."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ledger import service as ledger
from core.ledger.models import AccountKind, JournalEntry
from core.money import Asset, Money
from wallets.errors import NodeError
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.networks import Network
from wallets.withdrawals.sweeping import FeeEntry, Sent, SweepChain, SweepReport, TokenSweeper, digest

USDT = Asset.USDT_ERC20
FEE = 2_000  # native units per token transfer; 0.002 USDT at a price of 1 per 10**6 units
TOP_UP_COST = 500


@dataclass(frozen=True)
class FakeQuote:
    address: str
    amount: int
    native_fee: int


class MemoryChain(SweepChain[FakeQuote]):
    network = Network.ERC20
    native_decimals = 6

    def __init__(self) -> None:
        self.tokens: dict[str, int] = {}
        self.native: dict[str, int] = {}
        self.broken: set[str] = set()  # the node fails on these addresses
        self.unquotable: set[str] = set()
        self.hot_tokens = 0
        self.sent = 0

    def _txid(self) -> str:
        self.sent += 1
        return f"tx{self.sent}"

    async def token_balance(self, address: str) -> int:
        if address in self.broken:
            raise NodeError("node down")
        return self.tokens.get(address, 0)

    async def quote(self, address: str, index: int, amount: int) -> FakeQuote | None:
        return None if address in self.unquotable else FakeQuote(address, amount, FEE)

    async def native_balance(self, address: str) -> int:
        return self.native.get(address, 0)

    async def top_up(self, address: str, units: int) -> Sent:
        self.native[address] = self.native.get(address, 0) + units
        return Sent(txid=self._txid(), native_spent=TOP_UP_COST)

    async def transfer(self, quote: FakeQuote) -> Sent:
        self.tokens[quote.address] -= quote.amount
        self.native[quote.address] -= quote.native_fee
        self.hot_tokens += quote.amount
        return Sent(txid=self._txid(), native_spent=quote.native_fee)

    def fee_entry(self, report: SweepReport) -> FeeEntry:
        details = {"spent": str(report.native_spent), "txids": report.txids}
        return FeeEntry(idempotency_key="sweep-test:" + digest(details), memo="test sweep", details=details)


async def _addresses(sf: async_sessionmaker[AsyncSession], deriver: AddressDeriver, count: int) -> list[str]:
    gateway = WalletGateway(session_factory=sf, deriver=deriver)
    return [
        (await gateway.deposit_address(owner_type="customer", owner_id=i, asset=USDT)).address
        for i in range(1, count + 1)
    ]


def _sweeper(chain: MemoryChain, sf: async_sessionmaker[AsyncSession]) -> TokenSweeper[FakeQuote]:
    return TokenSweeper(
        chain=chain,
        session_factory=sf,
        native_price=lambda: Decimal(1),
        min_sweep_minor=10_000,
        max_fee_share=Decimal("0.01"),
    )


async def _network_fees(sf: async_sessionmaker[AsyncSession]) -> Money:
    async with sf() as session, session.begin():
        account = await ledger.system_account(session=session, kind=AccountKind.NETWORK_FEES, asset=USDT)
        return await ledger.balance(session=session, account_id=account.id)


async def test_tops_up_then_sweeps_and_books_what_was_spent(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver
) -> None:
    big, dust, uneconomical, unquotable = await _addresses(session_factory, deriver, 4)
    chain = MemoryChain()
    chain.tokens = {big: 1_000_000, dust: 9_999, uneconomical: 150_000, unquotable: 1_000_000}
    chain.unquotable = {unquotable}
    sweeper = _sweeper(chain, session_factory)

    first = await sweeper.sweep_once()
    assert first.topped_up == [big] and not first.swept
    assert first.skipped_uneconomical == [uneconomical]  # 0.002 > 1% of 0.15; dust is under the minimum
    assert first.native_spent == TOP_UP_COST and first.txids == ["tx1"]
    second = await sweeper.sweep_once()
    assert second.swept == {big: 1_000_000} and not second.topped_up
    assert chain.hot_tokens == 1_000_000 and chain.tokens[unquotable] == 1_000_000

    assert await _network_fees(session_factory) == -Money.of("0.0025", USDT)  # 500 + 2_000 units at 10**-6
    async with session_factory() as session:
        memos = (await session.execute(select(JournalEntry.memo))).scalars().all()
    assert memos.count("test sweep") == 2


async def test_a_node_failure_skips_the_address(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver
) -> None:
    broken, fine = await _addresses(session_factory, deriver, 2)
    chain = MemoryChain()
    chain.tokens = {broken: 1_000_000, fine: 1_000_000}
    chain.native = {fine: FEE}
    chain.broken = {broken}
    report = await _sweeper(chain, session_factory).sweep_once()
    assert report.swept == {fine: 1_000_000} and not report.topped_up and report.failed == [broken]
    assert await _network_fees(session_factory) == -Money.of("0.002", USDT)


async def test_whatever_ends_the_pass_the_coin_spent_is_booked(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver
) -> None:
    fine, doomed = await _addresses(session_factory, deriver, 2)
    chain = MemoryChain()
    chain.tokens = {fine: 1_000_000, doomed: 1_000_000}
    chain.native = {fine: FEE, doomed: FEE}
    real_transfer = chain.transfer

    async def crash_on_doomed(quote: FakeQuote) -> Sent:
        if quote.address == doomed:
            raise RuntimeError("signer crashed")
        return await real_transfer(quote)

    chain.transfer = crash_on_doomed  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await _sweeper(chain, session_factory).sweep_once()
    assert await _network_fees(session_factory) == -Money.of("0.002", USDT)  # the first sweep's fee
