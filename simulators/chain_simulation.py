"""The embedded default's simulated chains behind wallets' ChainSimulation hook: one JSON-file chain per
network under DATA_DIR, and their withdrawal processors. webapp.bootstrap injects it outside production."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from simulators.chain import SimulatedChain, sim_path
from simulators.chain_withdrawals import SIMULATED_NETWORK_FEE, SimulatedWithdrawals
from wallets.networks import Network


class ChainSimulation:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def chain(self, network: Network) -> SimulatedChain:
        return SimulatedChain(network, sim_path(self.data_dir, network))

    def network_fee(self, network: Network) -> int:
        return SIMULATED_NETWORK_FEE[network]

    def withdrawals(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        network: Network,
        confirmations: int,
        native_price: Decimal | None,
    ) -> SimulatedWithdrawals:
        return SimulatedWithdrawals(
            session_factory=session_factory,
            chain=self.chain(network),
            confirmations=confirmations,
            native_price=native_price,
        )
