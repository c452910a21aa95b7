"""A simulated chain for the embedded default (`make run`): no node, no network.

State lives in a small JSON file (under DATA_DIR) guarded by a file lock, so the web process, the
chain worker and the CLI (`kibeti chain simulate-deposit`) all see one chain. It implements the
ChainSource protocol, so the real DepositMonitor (confirmations, reorgs, crediting) runs on it.

Withdrawals leave from one simulated hot wallet, funded in the genesis block with a demo float.
The simulation keeps custody as one pool: deposits count towards the hot wallet's balance as soon
as they are mined (no sweeping), withdrawals spend from it (the amount, plus the network fee on
Bitcoin), and a withdrawal the pool cannot cover is refused, as a real hot wallet would be. It
does not simulate transactions that revert on chain, nor gas running out.
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

from wallets.errors import HotWalletInsufficient, NodeError
from wallets.networks import Network
from wallets.scanning.chain import BlockRef, Transfer

SIM_TOKENS = {
    Network.ERC20: "0xdAC17F958D2ee523a2206206994597C13D831ec7",  # USDT's mainnet address, as a label
    Network.TRC20: "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
    Network.BTC: "",
}

HOT_WALLET = "simulated-hot-wallet"
GENESIS_FLOAT = {  # base units: 100,000 USDT on each token network, 10 BTC
    Network.ERC20: 100_000 * 10**6,
    Network.TRC20: 100_000 * 10**6,
    Network.BTC: 10 * 10**8,
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
                state["blocks"].append(self._genesis())
            yield state
            if write:
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(state))
                os.replace(tmp, self.path)

    def _genesis(self) -> dict[str, Any]:
        funding = {
            "txid": _hash(f"{self.network.value}:float"),
            "to": HOT_WALLET,
            "amount": GENESIS_FLOAT[self.network],
            "token": self.token,
        }
        return {"height": 0, "hash": _hash(f"{self.network.value}:genesis"), "transfers": [funding]}

    # --- control (tests, the embedded runner, the CLI) ---------------------------------------

    def pay(self, to: str, amount: int, *, token: str | None = None) -> str:
        """Queue a transfer to `to` (base units, zero allowed as on a real token) for the next
        block; returns its txid."""
        if amount < 0:
            raise ValueError("a transfer moves a positive amount (or zero, as a token allows)")
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

    # --- the hot wallet (the simulated withdrawal sender) ---------------------------------------

    def send_from_hot(self, *, txid: str, to: str, amount: int, network_fee: int) -> None:
        """Queue a withdrawal for the next block. Idempotent on `txid`: a retried send after a
        crash never pays twice. On Bitcoin the network fee is spent from the same coins."""
        spent = amount + (network_fee if self.network is Network.BTC else 0)
        with self._state(write=True) as state:
            if any(t["txid"] == txid for t in _all_transfers(state)):
                return
            balance = _hot_balance(state, self.token)
            if balance < spent:
                raise HotWalletInsufficient(
                    f"the simulated {self.network.label} hot wallet holds {balance} base units, "
                    f"{spent} needed; staff alerted"
                )
            state["pending"].append(
                {"txid": txid, "to": to, "amount": amount, "token": self.token, "from": HOT_WALLET,
                 "spent": spent}
            )  # fmt: skip

    def height_of(self, txid: str) -> int | None:
        """The height of the block that holds `txid`; None while pending or unknown."""
        with self._state(write=False) as state:
            for block in state["blocks"]:
                if any(t["txid"] == txid for t in block["transfers"]):
                    return int(block["height"])
        return None

    def hot_balance(self) -> int:
        with self._state(write=False) as state:
            return _hot_balance(state, self.token)

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


def _all_transfers(state: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for block in state["blocks"]:
        yield from block["transfers"]
    yield from state["pending"]


def _hot_balance(state: dict[str, Any], token: str) -> int:
    """Mined inflows of our token (the float and every deposit) less every withdrawal sent."""
    mined_in = sum(
        int(t["amount"])
        for block in state["blocks"]
        for t in block["transfers"]
        if not t.get("from") and t["token"] == token
    )
    sent = sum(int(t["spent"]) for t in _all_transfers(state) if t.get("from") == HOT_WALLET)
    return mined_in - sent


def _hash(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def sim_path(data_dir: Path, network: Network) -> Path:
    return data_dir / "simchain" / f"{network.value}.json"
