"""Signing and sending ERC20 transfers from the hot wallet; gas estimation; receipts.

The hot wallet is m/44'/60'/0'/1/0 (the BIP44 change chain, index 0) of the house seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from web3 import AsyncWeb3
from web3.types import Nonce, TxParams, Wei

from wallets.erc20.source import hex0x
from wallets.errors import NodeError

HOT_WALLET_CHAIN = 1
HOT_WALLET_INDEX = 0
GAS_LIMIT_MARGIN_PERCENT = 20
ETH_TRANSFER_GAS = 21_000
MIN_ABI = [
    {
        "name": "transfer",
        "type": "function",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
    {
        "name": "balanceOf",
        "type": "function",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
]


@dataclass(frozen=True)
class GasQuote:
    gas_limit: int
    gas_price_wei: int

    @property
    def max_fee_wei(self) -> int:
        return self.gas_limit * self.gas_price_wei


@dataclass(frozen=True)
class SignedTx:
    txid: str
    raw: str
    nonce: int
    gas: GasQuote


@dataclass(frozen=True)
class Receipt:
    height: int
    success: bool
    fee_wei: int  # gas used x effective gas price: what the hot wallet paid


class Erc20Sender:
    def __init__(self, w3: AsyncWeb3[Any], *, token: str, hot_private_key: bytes) -> None:
        self._w3 = w3
        self._token = w3.eth.contract(address=to_checksum_address(token), abi=MIN_ABI)
        self._account = Account.from_key(hot_private_key)

    @property
    def hot_address(self) -> str:
        return str(self._account.address)

    @property
    def w3(self) -> AsyncWeb3[Any]:
        return self._w3

    async def token_balance(self, address: str | None = None) -> int:
        try:
            return int(
                await self._token.functions.balanceOf(to_checksum_address(address or self.hot_address)).call()
            )
        except Exception as exc:
            raise NodeError(f"balanceOf failed: {exc}") from exc

    async def gas_balance(self) -> int:
        try:
            return int(await self._w3.eth.get_balance(self._account.address))
        except Exception as exc:
            raise NodeError(f"eth_getBalance failed: {exc}") from exc

    async def estimate(self, to: str, amount: int) -> GasQuote:
        """Gas limit from eth_estimateGas plus a margin; gas price from the node (eth_gasPrice)."""
        try:
            call = self._token.functions.transfer(to_checksum_address(to), amount)
            # gasPrice 0: estimate without requiring the sender to hold ETH yet (deposit addresses)
            estimated = int(await call.estimate_gas({"from": self._account.address, "gasPrice": Wei(0)}))
            price = int(await self._w3.eth.gas_price)
        except Exception as exc:
            raise NodeError(f"gas estimation failed: {exc}") from exc
        return GasQuote(gas_limit=estimated * (100 + GAS_LIMIT_MARGIN_PERCENT) // 100, gas_price_wei=price)

    async def next_nonce(self) -> int:
        try:
            return int(await self._w3.eth.get_transaction_count(self._account.address, "pending"))
        except Exception as exc:
            raise NodeError(f"eth_getTransactionCount failed: {exc}") from exc

    async def sign(self, *, to: str, amount: int, nonce: int, gas: GasQuote) -> SignedTx:
        try:
            chain_id = int(await self._w3.eth.chain_id)
        except Exception as exc:
            raise NodeError(f"eth_chainId failed: {exc}") from exc
        params: TxParams = {
            "from": self._account.address,
            "nonce": Nonce(nonce),
            "gas": gas.gas_limit,
            "gasPrice": Wei(gas.gas_price_wei),
            "chainId": chain_id,
        }
        tx = await self._token.functions.transfer(to_checksum_address(to), amount).build_transaction(params)
        signed = self._account.sign_transaction(tx)
        return SignedTx(txid=hex0x(signed.hash), raw=hex0x(signed.raw_transaction), nonce=nonce, gas=gas)

    async def sign_native(self, *, to: str, wei: int, nonce: int, gas_price_wei: int) -> SignedTx:
        """A plain ETH transfer (gas top-ups of deposit addresses)."""
        try:
            chain_id = int(await self._w3.eth.chain_id)
        except Exception as exc:
            raise NodeError(f"eth_chainId failed: {exc}") from exc
        gas = GasQuote(gas_limit=ETH_TRANSFER_GAS, gas_price_wei=gas_price_wei)
        tx: TxParams = {
            "to": to_checksum_address(to),
            "value": Wei(wei),
            "gas": gas.gas_limit,
            "gasPrice": Wei(gas_price_wei),
            "nonce": Nonce(nonce),
            "chainId": chain_id,
        }
        signed = self._account.sign_transaction(tx)
        return SignedTx(txid=hex0x(signed.hash), raw=hex0x(signed.raw_transaction), nonce=nonce, gas=gas)

    async def gas_price(self) -> int:
        try:
            return int(await self._w3.eth.gas_price)
        except Exception as exc:
            raise NodeError(f"eth_gasPrice failed: {exc}") from exc

    async def broadcast(self, raw: str) -> str:
        try:
            return hex0x(await self._w3.eth.send_raw_transaction(HexStr(raw)))
        except Exception as exc:
            if "already known" in str(exc).lower() or "nonce too low" in str(exc).lower():
                raise NodeError(f"already broadcast: {exc}") from exc
            raise NodeError(f"eth_sendRawTransaction failed: {exc}") from exc

    async def receipt(self, txid: str) -> Receipt | None:
        try:
            found = await self._w3.eth.get_transaction_receipt(txid)  # type: ignore[arg-type]
        except Exception as exc:
            if "not found" in str(exc).lower():
                return None
            raise NodeError(f"eth_getTransactionReceipt failed: {exc}") from exc
        if found is None:
            return None
        price = int(found.get("effectiveGasPrice") or 0)
        return Receipt(
            height=int(found["blockNumber"]),
            success=int(found["status"]) == 1,
            fee_wei=int(found["gasUsed"]) * price,
        )

    async def tip(self) -> int:
        try:
            return int(await self._w3.eth.block_number)
        except Exception as exc:
            raise NodeError(f"eth_blockNumber failed: {exc}") from exc
