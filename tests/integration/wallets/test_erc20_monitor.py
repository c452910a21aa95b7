"""ERC20 deposit monitor on a real EVM (py-evm): confirmations, reorgs, exactly-once credit,
back-off and backfill, suspense for unknown tokens and dust. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.money import Asset, Money
from tests.integration.wallets.evm import EvmChain
from wallets.erc20.source import TRANSFER_TOPIC, Erc20Source
from wallets.errors import NodeError
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.models import ChainDeposit
from wallets.networks import Network
from wallets.scanning.chain import BlockRef, Transfer
from wallets.scanning.monitor import DepositMonitor, MonitorConfig, StepResult, backoff_delay

USDT = Asset.USDT_ERC20


async def _address(sf: async_sessionmaker[AsyncSession], deriver: AddressDeriver, customer: int) -> str:
    gateway = WalletGateway(session_factory=sf, deriver=deriver)
    return (await gateway.deposit_address(owner_type="customer", owner_id=customer, asset=USDT)).address


def _monitor(sf: async_sessionmaker[AsyncSession], evm: EvmChain, **config: int) -> DepositMonitor:
    source = Erc20Source(evm.aw3, tokens=None)
    defaults = {"confirmations": 3, "batch_blocks": 50, "dust_minor": 10_000}
    defaults.update(config)
    return DepositMonitor(
        source=source,
        session_factory=sf,
        config=MonitorConfig(token=evm.token.address, **defaults),  # type: ignore[arg-type]
    )


async def _balance(sf: async_sessionmaker[AsyncSession], customer: int) -> Money:
    async with sf() as session, session.begin():
        account = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=customer, asset=USDT, kind=AccountKind.WALLET
        )
        return await ledger.balance(session=session, account_id=account.id)


async def _deposits(sf: async_sessionmaker[AsyncSession]) -> list[ChainDeposit]:
    async with sf() as session:
        return list((await session.execute(select(ChainDeposit).order_by(ChainDeposit.id))).scalars())


async def test_credited_only_after_three_confirmations(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain
) -> None:
    address = await _address(session_factory, deriver, 1)
    monitor = _monitor(session_factory, evm)
    evm.pay(address, 25_500_000)  # 25.5 USDT, in its own block: 1 confirmation
    first = await monitor.step()
    assert (first.detected, first.credited) == (1, 0)
    evm.mine(1)  # 2 confirmations
    assert (await monitor.step()).credited == 0
    assert await _balance(session_factory, 1) == Money.zero(USDT)
    evm.mine(1)  # 3 confirmations
    assert (await monitor.step()).credited == 1
    assert await _balance(session_factory, 1) == Money.of("25.5", USDT)
    [deposit] = await _deposits(session_factory)
    assert deposit.status == "credited" and deposit.amount_minor == 25_500_000


async def test_reorg_before_confirmation_means_no_credit(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain
) -> None:
    address = await _address(session_factory, deriver, 1)
    monitor = _monitor(session_factory, evm)
    await monitor.step()
    fork = evm.snapshot()
    evm.pay(address, 5_000_000)
    assert (await monitor.step()).detected == 1
    evm.reorg(fork, new_blocks=6)  # the deposit's block is gone; the new branch is longer
    result = await monitor.step()
    assert result.reorg and result.orphaned == 1
    for _ in range(3):
        await monitor.step()
    assert await _balance(session_factory, 1) == Money.zero(USDT)
    [deposit] = await _deposits(session_factory)
    assert deposit.status == "orphaned"


async def test_reorg_that_reincludes_the_transfer_credits_it_once(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain
) -> None:
    address = await _address(session_factory, deriver, 1)
    monitor = _monitor(session_factory, evm)
    fork = evm.snapshot()
    evm.pay(address, 1_000_000)
    await monitor.step()
    evm.revert(fork)
    evm.w3.eth.send_transaction({"from": evm.w3.eth.accounts[1], "to": evm.w3.eth.accounts[2], "value": 1})
    evm.pay(address, 1_000_000)  # same payment mined again, in a different block
    evm.mine(3)
    for _ in range(3):
        await monitor.step()
    assert await _balance(session_factory, 1) == Money.of(1, USDT)


async def test_repeated_scans_and_two_monitors_credit_once(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain
) -> None:
    address = await _address(session_factory, deriver, 7)
    evm.pay(address, 3_000_000)
    evm.pay(address, 4_000_000)
    evm.mine(5)
    one, two = _monitor(session_factory, evm), _monitor(session_factory, evm)
    for _ in range(3):
        await one.step()
        await two.step()
    # forget the cursor: a full rescan sees every transfer again
    async with session_factory() as session, session.begin():
        from wallets.models import ChainBlock, ChainCursor

        await session.execute(ChainCursor.__table__.delete())
        await session.execute(ChainBlock.__table__.delete())
    await _monitor(session_factory, evm).step()
    assert await _balance(session_factory, 7) == Money.of(7, USDT)
    assert [d.status for d in await _deposits(session_factory)] == ["credited", "credited"]


async def test_unknown_token_dust_and_strangers(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain
) -> None:
    address = await _address(session_factory, deriver, 1)
    other = evm.deploy_other_token()
    evm.pay(address, 9_000_000, token=other)  # not USDT: recorded, suspense, never credited
    evm.pay(address, 5_000)  # 0.005 USDT: dust -> suspense account
    evm.pay("0x000000000000000000000000000000000000dEaD", 8_000_000)  # not ours: ignored
    evm.mine(3)
    monitor = _monitor(session_factory, evm)
    await monitor.step()
    await monitor.step()
    assert await _balance(session_factory, 1) == Money.zero(USDT)
    deposits = await _deposits(session_factory)
    assert sorted((d.reason, d.status) for d in deposits) == [
        ("dust", "suspense"),
        ("unknown_token", "suspense"),
    ]
    async with session_factory() as session, session.begin():
        suspense = await ledger.system_account(session=session, kind=AccountKind.SUSPENSE, asset=USDT)
        assert await ledger.balance(session=session, account_id=suspense.id) == Money.of("0.005", USDT)


async def test_catch_up_in_batches_with_progress(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain
) -> None:
    addresses = [await _address(session_factory, deriver, c) for c in range(1, 4)]
    for address in addresses:
        evm.pay(address, 2_000_000)
        evm.mine(20)
    progress: list[StepResult] = []
    monitor = _monitor(session_factory, evm, batch_blocks=10)
    monitor._on_progress = progress.append
    while not (await monitor.step()).caught_up:
        pass
    await monitor.step()
    assert len(progress) >= 6 and progress[-1].scanned_to == evm.height
    assert [r.scanned_to for r in progress] == sorted(r.scanned_to for r in progress)
    for customer in range(1, 4):
        assert await _balance(session_factory, customer) == Money.of(2, USDT)


class FlakySource:
    """Wraps a source; fails the next `failures` calls like a node that is down."""

    def __init__(self, inner: Erc20Source, failures: int) -> None:
        self.inner, self.failures, self.network = inner, failures, inner.network

    def _maybe_fail(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise NodeError("connection refused")

    async def tip(self) -> int:
        self._maybe_fail()
        return await self.inner.tip()

    async def block(self, height: int) -> BlockRef:
        self._maybe_fail()
        return await self.inner.block(height)

    async def transfers(self, start: int, end: int) -> list[Transfer]:
        self._maybe_fail()
        return await self.inner.transfers(start, end)


async def test_node_down_then_back_backs_off_and_backfills(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain
) -> None:
    import asyncio

    address = await _address(session_factory, deriver, 1)
    evm.pay(address, 6_000_000)
    evm.mine(30)
    source = FlakySource(Erc20Source(evm.aw3, tokens=[evm.token.address]), failures=4)
    monitor = DepositMonitor(
        source=source,
        session_factory=session_factory,
        config=MonitorConfig(token=evm.token.address, batch_blocks=8, backoff_base=1.0, backoff_cap=10.0),
    )
    stop = asyncio.Event()
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) > 4:  # an idle pause after the failures: caught up
            stop.set()

    await monitor.run(stop=stop, rng=random.Random(7), sleep=fake_sleep)
    assert len(delays) == 5
    caps = [min(10.0, 2.0**n) for n in range(1, 5)]
    assert all(0 <= d <= cap for d, cap in zip(delays, caps, strict=False))
    assert await _balance(session_factory, 1) == Money.of(6, USDT)


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    samples = [max(backoff_delay(n, base=1, cap=30, rng=rng) for _ in range(200)) for n in range(1, 8)]
    assert samples[0] <= 2 and samples[2] <= 8 and samples[-1] <= 30
    assert samples[-1] > 20  # reaches near the cap


@pytest.mark.parametrize(
    "log",
    [
        {
            "topics": [TRANSFER_TOPIC, "0x" + "0" * 64, "0x" + "0" * 64],
            "blockNumber": 5,
            "data": "0x" + "0" * 64,
        },
        {"topics": [TRANSFER_TOPIC, "0x1", "0x2"], "blockNumber": "five", "data": "0x"},
        {"blockNumber": 999, "topics": [], "removed": False},
    ],
)
def test_malformed_or_contradictory_logs_raise(log: dict[str, object]) -> None:
    from wallets.erc20.source import parse_transfer_log

    with pytest.raises(NodeError):
        parse_transfer_log(log, start=1, end=10)


def test_network_of_source() -> None:
    assert Erc20Source.network is Network.ERC20


class LaggingSource(FlakySource):
    """A node that reports an older tip than one we already scanned (a lagging replica)."""

    def __init__(self, inner: Erc20Source, lag: int) -> None:
        super().__init__(inner, failures=0)
        self.lag = lag

    async def tip(self) -> int:
        return await self.inner.tip() - self.lag


async def test_lagging_node_is_an_error_not_a_reorg(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, evm: EvmChain
) -> None:
    address = await _address(session_factory, deriver, 1)
    evm.pay(address, 3_000_000)
    monitor = _monitor(session_factory, evm)
    assert (await monitor.step()).detected == 1
    lagging = DepositMonitor(
        source=LaggingSource(Erc20Source(evm.aw3, tokens=None), lag=1),
        session_factory=session_factory,
        config=monitor.config,
    )
    with pytest.raises(NodeError, match="behind our cursor"):
        await lagging.step()
    [deposit] = await _deposits(session_factory)
    assert deposit.status == "detected"  # nothing orphaned, nothing credited on doubt


def test_a_token_monitor_needs_the_token_contract(evm: EvmChain) -> None:
    from wallets.errors import WalletNotConfigured

    with pytest.raises(WalletNotConfigured, match="contract"):
        DepositMonitor(source=Erc20Source(evm.aw3, tokens=None), session_factory=None, config=MonitorConfig())  # type: ignore[arg-type]
