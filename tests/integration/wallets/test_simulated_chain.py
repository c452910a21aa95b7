"""The embedded default's simulated chain: a deposit shows in the balance only after 3 blocks,
through the real monitor, with the CLI-style control (pay, produce) from another "process"."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import WalletSettings
from core.ledger import service as ledger
from core.ledger.models import AccountKind
from core.money import Asset, Money
from simulators.chain import SimulatedChain, sim_path
from simulators.chain_embedded import run_simulated_chains, simulated_monitor
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.networks import Network

USDT = Asset.USDT_ERC20


async def _balance(sf: async_sessionmaker[AsyncSession]) -> Money:
    async with sf() as session, session.begin():
        account = await ledger.get_or_open_account(
            session=session, owner_type="customer", owner_id=9, asset=USDT, kind=AccountKind.WALLET
        )
        return await ledger.balance(session=session, account_id=account.id)


async def test_simulated_deposit_confirms_after_three_blocks(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, tmp_path: Path
) -> None:
    gateway = WalletGateway(session_factory=session_factory, deriver=deriver)
    address = (await gateway.deposit_address(owner_type="customer", owner_id=9, asset=USDT)).address
    chain, monitor = simulated_monitor(
        Network.ERC20, data_dir=tmp_path, session_factory=session_factory, settings=WalletSettings()
    )
    SimulatedChain(Network.ERC20, sim_path(tmp_path, Network.ERC20)).pay(
        address, 25_000_000
    )  # the CLI's view
    seen = []
    for _ in range(4):
        chain.produce(1)
        await monitor.step()
        seen.append(await _balance(session_factory))
    assert seen == [Money.zero(USDT), Money.zero(USDT), Money.of(25, USDT), Money.of(25, USDT)]


async def test_embedded_runner_mines_and_credits(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, tmp_path: Path
) -> None:
    gateway = WalletGateway(session_factory=session_factory, deriver=deriver)
    address = (await gateway.deposit_address(owner_type="customer", owner_id=9, asset=USDT)).address
    SimulatedChain(Network.ERC20, sim_path(tmp_path, Network.ERC20)).pay(address, 1_500_000)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_simulated_chains(
            session_factory=session_factory,
            data_dir=tmp_path,
            stop=stop,
            block_seconds=0.01,
            networks=(Network.ERC20,),
        )
    )
    for _ in range(3000):  # a bound on the wait (60 s), not a timing assertion
        if await _balance(session_factory) == Money.of("1.5", USDT):
            break
        await asyncio.sleep(0.02)
    stop.set()
    await task
    assert await _balance(session_factory) == Money.of("1.5", USDT)


async def test_scheduler_job_mines_and_credits_on_the_embedded_default(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, tmp_path: Path
) -> None:
    from core import runtime as runtime_module
    from core.clock import SystemClock
    from core.config import Settings
    from core.runtime import Runtime
    from simulators.chain_simulation import ChainSimulation
    from wallets.jobs import scan_all_networks

    settings = Settings(data_dir=tmp_path, database_url="sqlite+aiosqlite:///unused.db")
    previous = runtime_module._current
    runtime_module.install(
        Runtime(
            settings=settings,
            session_factory=session_factory,
            clock=SystemClock(),
            queue=None,  # type: ignore[arg-type]
            chain_simulation=ChainSimulation(tmp_path),
        )
    )
    gateway = WalletGateway(session_factory=session_factory, deriver=deriver)
    address = (await gateway.deposit_address(owner_type="customer", owner_id=9, asset=USDT)).address
    SimulatedChain(Network.ERC20, sim_path(tmp_path, Network.ERC20)).pay(address, 2_000_000)
    balances = []
    try:
        for _ in range(4):
            reached = await scan_all_networks()
            balances.append(await _balance(session_factory))
    finally:
        runtime_module._current = previous
    assert set(reached) == {"btc", "erc20", "trc20"}
    assert balances == [Money.zero(USDT), Money.zero(USDT), Money.of(2, USDT), Money.of(2, USDT)]


async def test_a_zero_value_transfer_is_recorded_for_staff_and_blocks_nothing(
    session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, tmp_path: Path
) -> None:
    """Address poisoning sends zero-value token transfers to watched addresses: each is recorded in
    suspense for staff, nothing is booked, and real deposits behind it are credited as usual."""
    from sqlalchemy import select

    from wallets.models import ChainDeposit

    gateway = WalletGateway(session_factory=session_factory, deriver=deriver)
    address = (await gateway.deposit_address(owner_type="customer", owner_id=9, asset=USDT)).address
    chain, monitor = simulated_monitor(
        Network.ERC20, data_dir=tmp_path, session_factory=session_factory, settings=WalletSettings()
    )
    chain.pay(address, 0)
    chain.produce(1)
    chain.pay(address, 2_000_000)
    for _ in range(4):
        chain.produce(1)
        await monitor.step()
    assert await _balance(session_factory) == Money.of(2, USDT)
    async with session_factory() as session:
        rows = (
            await session.execute(select(ChainDeposit.amount_minor, ChainDeposit.status, ChainDeposit.reason))
        ).all()
        entries = (
            await session.execute(select(ChainDeposit.entry_id).where(ChainDeposit.amount_minor == 0))
        ).scalars()
        assert sorted(rows) == [(0, "suspense", "zero_value"), (2_000_000, "credited", "")]
        assert [e for e in entries if e] == []  # the zero transfer booked nothing


async def test_the_scanner_records_the_node_tip_for_its_lag(
    session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """The cursor keeps the tip the node reported, so /metrics can tell the lag in blocks."""
    from wallets import service as wallet_service

    chain, monitor = simulated_monitor(
        Network.ERC20, data_dir=tmp_path, session_factory=session_factory, settings=WalletSettings()
    )
    chain.produce(3)
    result = await monitor.step()
    async with session_factory() as session:
        cursor = await wallet_service.get_cursor(session=session, network=Network.ERC20)
    assert cursor is not None
    assert cursor.tip_height == result.tip
    assert cursor.height == result.scanned_to
