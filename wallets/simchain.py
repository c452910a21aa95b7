"""A simulated chain for the embedded default (`make run`): no node, no network.

State lives in a small JSON file (under DATA_DIR) guarded by a file lock, so the web process, the
chain worker and the CLI (`kibeti chain simulate-deposit`) all see one chain. It implements the
ChainSource protocol, so the real DepositMonitor (confirmations, reorgs, crediting) runs on it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wallets.chain import BlockRef, Transfer
from wallets.errors import NodeError
from wallets.networks import Network

SIM_TOKENS = {
    Network.ERC20: "0xdAC17F958D2ee523a2206206994597C13D831ec7",  # USDT's mainnet address, as a label
    Network.TRC20: "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
    Network.BTC: "",
}


class SimulatedChain:
    def __init__(self, network: Network, path: Path) -> None:
        self.network = network
        self.path = path
        self.token = SIM_TOKENS[network]

    @contextmanager
    def _state(self, *, write: bool) -> Iterator[dict[str, Any]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if write else fcntl.LOCK_SH)
            state: dict[str, Any] = {"blocks": [], "pending": []}
            if self.path.exists() and self.path.stat().st_size:
                state = json.loads(self.path.read_text())
            if not state["blocks"]:
                state["blocks"].append(
                    {"height": 0, "hash": _hash(f"{self.network.value}:genesis"), "transfers": []}
                )
            yield state
            if write:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(state))
                os.replace(tmp, self.path)

    # --- control (tests, the embedded runner, the CLI) ---------------------------------------

    def pay(self, to: str, amount: int, *, token: str | None = None) -> str:
        """Queue a transfer to `to` (base units) for the next block; returns its txid."""
        txid = ("0x" if self.network is Network.ERC20 else "") + secrets.token_hex(32)
        with self._state(write=True) as state:
            state["pending"].append(
                {"txid": txid, "to": to, "amount": amount, "token": self.token if token is None else token}
            )
        return txid

    def produce(self, count: int = 1) -> int:
        with self._state(write=True) as state:
            for _ in range(count):
                parent = state["blocks"][-1]
                transfers, state["pending"] = state["pending"], []
                height = parent["height"] + 1
                digest = _hash(f"{parent['hash']}:{height}:{json.dumps(transfers, sort_keys=True)}")
                state["blocks"].append({"height": height, "hash": digest, "transfers": transfers})
            return int(state["blocks"][-1]["height"])

    # --- ChainSource ---------------------------------------------------------------------------

    async def tip(self) -> int:
        with self._state(write=False) as state:
            return int(state["blocks"][-1]["height"])

    async def block(self, height: int) -> BlockRef:
        with self._state(write=False) as state:
            if not 0 <= height < len(state["blocks"]):
                raise NodeError(f"simulated {self.network.value} chain has no block {height}")
            return BlockRef(height=height, hash=state["blocks"][height]["hash"])

    async def transfers(self, start: int, end: int) -> list[Transfer]:
        found = []
        with self._state(write=False) as state:
            for block in state["blocks"][start : end + 1]:
                for index, t in enumerate(block["transfers"]):
                    found.append(
                        Transfer(
                            txid=t["txid"],
                            index=index,
                            height=block["height"],
                            block_hash=block["hash"],
                            token=t["token"],
                            to=t["to"],
                            amount=int(t["amount"]),
                        )
                    )
        return found


def _hash(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def sim_path(data_dir: Path, network: Network) -> Path:
    return data_dir / "simchain" / f"{network.value}.json"
