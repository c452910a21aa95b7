"""The embedded default's chains: simulated chains that produce a block every few seconds, each
watched by the real DepositMonitor, running inside the web process (`make run`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.config import WalletSettings
from simulators.chain import SimulatedChain, sim_path
from wallets.networks import Network
from wallets.scanning.monitor import DepositMonitor, MonitorConfig

log = logging.getLogger(__name__)


def simulated_monitor(
    network: Network,
    *,
    data_dir: Path,
    session_factory: async_sessionmaker[AsyncSession],
    settings: WalletSettings,
) -> tuple[SimulatedChain, DepositMonitor]:
    chain = SimulatedChain(network, sim_path(data_dir, network))
    monitor = DepositMonitor(
        source=chain,
        session_factory=session_factory,
        config=MonitorConfig(
            confirmations=settings.confirmations(network),
            token=chain.token,
            dust_minor={Network.BTC: settings.btc_dust_sat}.get(network, settings.erc20_dust_minor),
        ),
    )
    return chain, monitor


async def run_simulated_chains(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    data_dir: Path,
    stop: asyncio.Event,
    block_seconds: float = 5.0,
    networks: tuple[Network, ...] = tuple(Network),
) -> None:
    """Mine one block per network every `block_seconds` and let each monitor scan and credit."""
    settings = WalletSettings()
    pairs = [
        simulated_monitor(n, data_dir=data_dir, session_factory=session_factory, settings=settings)
        for n in networks
    ]
    while not stop.is_set():
        for chain, monitor in pairs:
            chain.produce(1)
            try:
                result = await monitor.step()
            except Exception:  # keep the demo alive; the error is logged
                log.exception("simulated chain step failed", extra={"network": chain.network.value})
                continue
            if result.credited:
                log.info(
                    "simulated deposit credited",
                    extra={"network": chain.network.value, "count": result.credited},
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=block_seconds)
