"""A real EVM with the TestUSDT token deployed: in-process (py-evm through eth-tester) or a local
ganache JSON-RPC node over HTTP (see ganache.py).

Tests drive block production and reorgs (snapshot/revert); the code under test reads the chain
through web3's AsyncWeb3, exactly as it reads a production node.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import AsyncHTTPProvider, AsyncWeb3, HTTPProvider, Web3
    from web3.providers.eth_tester import AsyncEthereumTesterProvider, EthereumTesterProvider

ARTIFACT = json.loads((Path(__file__).parent / "contracts" / "TestUSDT.json").read_text())


class EvmChain:
    """eth-tester (default) or, with `rpc_url`, a JSON-RPC node that supports evm_* test methods."""

    def __init__(self, rpc_url: str | None = None) -> None:
        self.rpc_url = rpc_url
        if rpc_url is None:
            self.tester: Any = EthereumTester(PyEVMBackend())
            self.w3 = Web3(EthereumTesterProvider(self.tester))
            self.aw3: AsyncWeb3[Any] = AsyncWeb3(AsyncEthereumTesterProvider())
            self.aw3.provider.ethereum_tester = self.tester  # type: ignore[attr-defined]  # one chain
        else:
            self.tester = None
            self.w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
            self.aw3 = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        self.owner = self.w3.eth.accounts[0]
        self.token = self._deploy("Tether USD", "USDT")
        self._salt = 0

    async def close(self) -> None:
        """Close the HTTP client sessions (aiohttp warns about unclosed ones)."""
        if self.rpc_url is not None:
            await self.aw3.provider.disconnect()  # type: ignore[attr-defined]

    def _deploy(self, name: str, symbol: str) -> Any:
        factory = self.w3.eth.contract(abi=ARTIFACT["abi"], bytecode=ARTIFACT["bytecode"])
        txid = factory.constructor(name, symbol).transact({"from": self.owner})
        receipt = self.w3.eth.wait_for_transaction_receipt(txid)
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=ARTIFACT["abi"])

    def deploy_other_token(self) -> Any:
        return self._deploy("Other", "OTH")

    @property
    def height(self) -> int:
        return int(self.w3.eth.block_number)

    def pay(self, to: str, amount: int, *, token: Any = None) -> str:
        """Mint `amount` base units to `to` in a new block; returns the txid."""
        contract = token or self.token
        txid = contract.functions.mint(Web3.to_checksum_address(to), amount).transact({"from": self.owner})
        return "0x" + bytes(txid).hex()

    def pay_many(self, to: list[str], amount: int) -> str:
        txid = self.token.functions.batchMint([Web3.to_checksum_address(a) for a in to], amount).transact(
            {"from": self.owner, "gas": 3_000_000}
        )
        return "0x" + bytes(txid).hex()

    def send_eth(self, to: str, wei: int) -> None:
        self.w3.eth.send_transaction({"from": self.owner, "to": Web3.to_checksum_address(to), "value": wei})

    def mine(self, blocks: int = 1) -> None:
        if self.tester is not None:
            self.tester.mine_blocks(blocks)
            return
        for _ in range(blocks):
            self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def snapshot(self) -> Any:
        if self.tester is not None:
            return self.tester.take_snapshot()
        return self.w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]

    def revert(self, snapshot: Any) -> None:
        if self.tester is not None:
            self.tester.revert_to_snapshot(snapshot)
            return
        assert self.w3.provider.make_request("evm_revert", [snapshot])["result"]  # type: ignore[arg-type]

    def reorg(self, snapshot: Any, *, new_blocks: int) -> None:
        """Drop every block after the snapshot, then mine a different, longer branch."""
        self.revert(snapshot)
        self._salt += 1
        # a different transaction makes the new branch's block hashes differ from the old ones
        accounts = self.w3.eth.accounts
        self.w3.eth.send_transaction({"from": accounts[1], "to": accounts[2], "value": self._salt})
        self.mine(max(new_blocks - 1, 0))
