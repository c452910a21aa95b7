"""Fixtures of the invoice tests: an active merchant, demo rates, the HD test wallet, and a simulated
TRON chain watched by the real DepositMonitor on the test's clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import FixedClock
from core.fx import service as fx
from core.fx.sources import DemoRateSource
from core.merchants import service as merchants
from simulators.chain import SimulatedChain, sim_path
from wallets.gateway import WalletGateway
from wallets.hd.derivation import AddressDeriver
from wallets.hd.keys import Seed, seed_from_mnemonic
from wallets.networks import Network
from wallets.scanning.monitor import DepositMonitor, MonitorConfig

MNEMONIC = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about"
Factory = async_sessionmaker[AsyncSession]


@pytest.fixture(scope="session")
def deriver() -> AddressDeriver:
    seed = Seed(seed_from_mnemonic(MNEMONIC))
    return AddressDeriver({network: seed.account_xpub(network) for network in Network})


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC))  # M-Pesa's collection rows are stamped with the real time


@dataclass
class Shop:
    factory: Factory
    clock: FixedClock
    merchant_id: int
    gateway: WalletGateway
    tmp: Path

    def chain(self, network: Network) -> SimulatedChain:
        return SimulatedChain(network, sim_path(self.tmp, network))

    def monitor(self, network: Network, confirmations: int | None = None) -> DepositMonitor:
        chain = self.chain(network)
        needed = confirmations or {Network.TRC20: 20}.get(network, 3)
        config = MonitorConfig(confirmations=needed, token=chain.token)
        return DepositMonitor(source=chain, session_factory=self.factory, config=config, clock=self.clock)


@pytest.fixture
async def shop(session_factory: Factory, clock: FixedClock, deriver: AddressDeriver, tmp_path: Path) -> Shop:
    async with session_factory() as session, session.begin():
        await fx.refresh(session=session, sources=[DemoRateSource()], clock=clock)
        merchant = await merchants.create_merchant(
            session=session, name="Duka la Mama", actor="test", clock=clock, fee_bps=150
        )
        merchant.status = "active"
    gateway = WalletGateway(session_factory=session_factory, deriver=deriver)
    return Shop(session_factory, clock, merchant.id, gateway, tmp_path)
