"""The ERC20 monitor and a withdrawal against a real JSON-RPC node over HTTP (ganache 7.9.2),
including a reorg made with evm_snapshot / evm_revert. Runs on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.ledger.models import AccountKind
from core.money import Asset, Money
from tests.integration.wallets.evm import EvmChain
from tests.integration.wallets.test_erc20_withdrawal import (
    ETH_PRICE,
    RECIPIENT,
    _balance,
    _deposit,
    _processor,
    _request,
)
from wallets.erc20.source import Erc20Source
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed
from wallets.models import ChainDeposit, Withdrawal
from wallets.networks import Network
from wallets.scanning.monitor import DepositMonitor, MonitorConfig
from wallets.withdrawals.lifecycle import wei_to_asset

USDT = Asset.USDT_ERC20


async def test_reorg_over_http_then_credit_after_three_confirmations(
    pg_session_factory: async_sessionmaker[AsyncSession], deriver: AddressDeriver, ganache_evm: EvmChain
) -> None:
    evm, sf = ganache_evm, pg_session_factory
    gateway = WalletGateway(session_factory=sf, deriver=deriver)
    address = (await gateway.deposit_address(owner_type="customer", owner_id=1, asset=USDT)).address
    monitor = DepositMonitor(
        source=Erc20Source(evm.aw3, tokens=[evm.token.address]),
        session_factory=sf,
        config=MonitorConfig(token=evm.token.address, start_height=evm.height, batch_blocks=20),
    )
    await monitor.step()
    fork = evm.snapshot()
    evm.pay(address, 7_000_000)
    assert (await monitor.step()).detected == 1
    evm.reorg(fork, new_blocks=5)  # the deposit's block is replaced by a longer branch without it
    assert (await monitor.step()).reorg
    await monitor.step()
    assert await _balance(sf, kind=AccountKind.WALLET, customer=1) == Money.zero(USDT)
    evm.pay(address, 2_000_000)
    await monitor.step()
    evm.mine(1)
    assert (await monitor.step()).credited == 0  # 2 confirmations
    evm.mine(1)
    assert (await monitor.step()).credited == 1  # 3 confirmations
    assert await _balance(sf, kind=AccountKind.WALLET, customer=1) == Money.of(2, USDT)
    async with sf() as session:
        statuses = sorted((await session.execute(select(ChainDeposit.status))).scalars())
    assert statuses == ["credited", "orphaned"]


async def test_withdrawal_over_http_with_fees_in_the_ledger(
    pg_session_factory: async_sessionmaker[AsyncSession],
    deriver: AddressDeriver,
    ganache_evm: EvmChain,
    test_seed: Seed,
) -> None:
    evm, sf = ganache_evm, pg_session_factory
    await _deposit(sf, deriver, evm, 30_000_000)
    processor = _processor(sf, evm, test_seed)
    withdrawal = await _request(sf, "g-1", "12", fee="1.5")
    assert await processor.send(withdrawal.id) == "broadcast"
    evm.mine(2)
    assert await processor.track(withdrawal.id) == "confirmed"
    assert evm.token.functions.balanceOf(RECIPIENT).call() == 12_000_000
    async with sf() as session:
        row = await session.get(Withdrawal, withdrawal.id)
        assert row is not None
        network_fee = wei_to_asset(int(row.network_fee_native), native_price=ETH_PRICE, asset=USDT)
    assert network_fee.is_positive()
    assert await _balance(sf, kind=AccountKind.WALLET, customer=1) == Money.of("16.5", USDT)
    assert await _balance(sf, kind=AccountKind.NETWORK_FEES) == -network_fee
    assert await _balance(sf, kind=AccountKind.FX_LIQUIDITY) == network_fee
    assert await _balance(sf, kind=AccountKind.FEE_REVENUE) == Money.of("1.5", USDT)


async def test_stuck_withdrawal_is_replaced_not_paid_twice(
    pg_session_factory: async_sessionmaker[AsyncSession],
    deriver: AddressDeriver,
    ganache_evm: EvmChain,
    test_seed: Seed,
) -> None:
    evm, sf = ganache_evm, pg_session_factory
    await _deposit(sf, deriver, evm, 20_000_000)
    processor = _processor(sf, evm, test_seed)
    before = evm.token.functions.balanceOf(RECIPIENT).call()
    withdrawal = await _request(sf, "g-stuck", "5", fee="1")
    evm.w3.provider.make_request("miner_stop", [])  # type: ignore[arg-type]
    try:
        assert await processor.send(withdrawal.id) == "broadcast"
        assert await processor.track(withdrawal.id) == "broadcast"  # pending, not mined
        assert await processor.replace_stuck(withdrawal.id) == "broadcast"
    finally:
        evm.w3.provider.make_request("miner_start", [])  # type: ignore[arg-type]
    evm.mine(3)
    assert await processor.track(withdrawal.id) == "confirmed"
    assert evm.token.functions.balanceOf(RECIPIENT).call() - before == 5_000_000  # once, not twice
    async with sf() as session:
        row = await session.get(Withdrawal, withdrawal.id)
        assert row is not None and len(row.replaced_txids.split()) == 1
    assert await _balance(sf, kind=AccountKind.WALLET, customer=1) == Money.of(14, USDT)


async def test_signer_jobs_send_and_track_from_the_sealed_seed(
    pg_session_factory: async_sessionmaker[AsyncSession],
    deriver: AddressDeriver,
    ganache_evm: EvmChain,
    test_seed: Seed,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from core import runtime as runtime_module
    from core.clock import SystemClock
    from core.config import Settings, WalletSettings
    from core.runtime import Runtime
    from core.security.keyring import keyring_from_settings
    from wallets import jobs
    from wallets.erc20.sender import HOT_WALLET_CHAIN, HOT_WALLET_INDEX
    from wallets.hd.custody import seal_seed
    from wallets.hd.derivation import evm_address

    evm, sf = ganache_evm, pg_session_factory
    settings = Settings(
        database_url="postgresql+asyncpg://unused/unused",
        ethereum_rpc_url=evm.rpc_url or "",
        usdt_erc20_contract=evm.token.address,
        master_passphrase="a test master passphrase, not a real one",  # type: ignore[arg-type]
    )
    monkeypatch.setenv(
        "WALLET_SEED_SEALED", seal_seed(test_seed.value, keyring=keyring_from_settings(settings))
    )
    settings = settings.model_copy(update={"wallets": WalletSettings()})  # the section reads it now
    hot = evm_address(test_seed.account_xpub(Network.ERC20), HOT_WALLET_INDEX, chain=HOT_WALLET_CHAIN)
    evm.pay(hot, 50_000_000)  # 50 USDT: enough for this withdrawal, below the 1,000 USDT alert threshold
    evm.send_eth(hot, 10**18)
    await _deposit(sf, deriver, evm, 10_000_000)
    withdrawal = await _request(sf, "g-job", "4", fee="1")
    previous = runtime_module._current
    runtime_module.install(Runtime(settings=settings, session_factory=sf, clock=SystemClock(), queue=None))  # type: ignore[arg-type]
    try:
        assert await jobs.send_withdrawal(withdrawal.id) == "broadcast"
        evm.mine(2)
        assert await jobs.track_withdrawals() == {"confirmed": 1}
        assert await jobs.sweep_deposits() == {"erc20": 0}  # first pass: at most a gas top-up
    finally:
        runtime_module._current = previous
    assert evm.token.functions.balanceOf(RECIPIENT).call() >= 4_000_000
    assert await _balance(sf, kind=AccountKind.WALLET, customer=1) == Money.of(5, USDT)
    assert any("hot wallet below threshold" in r.getMessage() for r in caplog.records)
