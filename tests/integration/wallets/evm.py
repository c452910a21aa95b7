"""A real EVM in-process (py-evm through eth-tester) with the TestUSDT token deployed.

Tests drive block production and reorgs (snapshot/revert); the code under test reads it through
web3's AsyncWeb3, exactly as it reads a JSON-RPC node over HTTP.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from eth_tester import EthereumTester, PyEVMBackend
    from web3 import AsyncWeb3, Web3
    from web3.providers.eth_tester import AsyncEthereumTesterProvider, EthereumTesterProvider

ARTIFACT = json.loads((Path(__file__).parent / "contracts" / "TestUSDT.json").read_text())


class EvmChain:
    def __init__(self) -> None:
        self.tester = EthereumTester(PyEVMBackend())
        self.w3 = Web3(EthereumTesterProvider(self.tester))
        self.aw3: AsyncWeb3[Any] = AsyncWeb3(AsyncEthereumTesterProvider())
        self.aw3.provider.ethereum_tester = self.tester  # share the one chain
        self.owner = self.w3.eth.accounts[0]
        factory = self.w3.eth.contract(abi=ARTIFACT["abi"], bytecode=ARTIFACT["bytecode"])
        receipt = self.w3.eth.get_transaction_receipt(
            factory.constructor("Tether USD", "USDT").transact({"from": self.owner})
        )
        self.token = self.w3.eth.contract(address=receipt["contractAddress"], abi=ARTIFACT["abi"])
        self._salt = 0

    def deploy_other_token(self) -> Any:
        factory = self.w3.eth.contract(abi=ARTIFACT["abi"], bytecode=ARTIFACT["bytecode"])
        receipt = self.w3.eth.get_transaction_receipt(
            factory.constructor("Other", "OTH").transact({"from": self.owner})
        )
        return self.w3.eth.contract(address=receipt["contractAddress"], abi=ARTIFACT["abi"])

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
            {"from": self.owner, "gas": 30_000_000}
        )
        return "0x" + bytes(txid).hex()

    def mine(self, blocks: int = 1) -> None:
        self.tester.mine_blocks(blocks)

    def snapshot(self) -> Any:
        return self.tester.take_snapshot()

    def reorg(self, snapshot: Any, *, new_blocks: int) -> None:
        """Drop every block after the snapshot, then mine a different, longer branch."""
        self.tester.revert_to_snapshot(snapshot)
        self._salt += 1
        # a different transaction makes the new branch's block hashes differ from the old ones
        self.w3.eth.send_transaction(
            {"from": self.w3.eth.accounts[1], "to": self.w3.eth.accounts[2], "value": self._salt}
        )
        self.mine(max(new_blocks - 1, 0))
