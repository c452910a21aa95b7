"""What a deposit monitor needs from a chain: blocks (height + hash) and the transfers in a range.

Each network's source (erc20/trc20/btc) adapts its node's protocol to this; the monitor does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from wallets.networks import Network


@dataclass(frozen=True)
class BlockRef:
    height: int
    hash: str


@dataclass(frozen=True)
class Transfer:
    """One incoming transfer: a token Transfer log (ERC20/TRC20) or a transaction output (BTC)."""

    txid: str
    index: int  # log index (ERC20), event index (TRC20) or vout (BTC)
    height: int
    block_hash: str
    token: str  # contract address; "" for the chain's native coin (BTC)
    to: str
    amount: int  # integer base units


class ChainSource(Protocol):
    network: Network

    async def tip(self) -> int:
        """The node's current best height."""
        ...

    async def block(self, height: int) -> BlockRef:
        """The node's block at `height` (raises NodeError if it has none)."""
        ...

    async def transfers(self, start: int, end: int) -> list[Transfer]:
        """Every candidate incoming transfer in blocks start..end (inclusive), in chain order."""
        ...


class SimulatedSource(ChainSource, Protocol):
    token: str

    def produce(self, blocks: int) -> int:
        """Mine `blocks` blocks; returns the new height."""
        ...


class ChainSimulation(Protocol):
    """The simulated chains of the embedded default and tests (simulators.chain_simulation),
    injected by webapp.bootstrap as `Runtime.chain_simulation`; never present in production."""

    def chain(self, network: Network) -> SimulatedSource: ...

    def network_fee(self, network: Network) -> int:
        """The fixed network fee of a simulated withdrawal, in the network's native base unit."""
        ...

    def withdrawals(
        self,
        *,
        session_factory: Any,
        network: Network,
        confirmations: int,
        native_price: Decimal | None,
    ) -> Any: ...
