"""Building, signing (tronpy) and sending TRC20 transfers from the TRON hot wallet, through the
java-tron HTTP API: /wallet/triggersmartcontract, /wallet/broadcasttransaction,
/wallet/gettransactioninfobyid. The hot wallet is m/44'/195'/0'/1/0.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from tronpy.keys import PrivateKey
from tronpy.tron import Transaction

from wallets.errors import NodeError
from wallets.trc20.fees import tron_hex_parameter

HOT_WALLET_CHAIN = 1
HOT_WALLET_INDEX = 0
TRANSFER_SELECTOR = "a9059cbb"
DEFAULT_FEE_LIMIT_SUN = 30_000_000  # at most 30 TRX of energy burn per transfer


@dataclass(frozen=True)
class SignedTronTx:
    txid: str
    payload: dict[str, Any]  # what /wallet/broadcasttransaction takes
    expiration_ms: int


@dataclass(frozen=True)
class TronReceipt:
    height: int
    success: bool
    fee_sun: int


class Trc20Sender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        contract: str,
        hot_private_key: bytes,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.now_ms = now_ms
        self._client = client
        self._contract = contract
        self._key = PrivateKey(hot_private_key)

    @property
    def hot_address(self) -> str:
        return str(self._key.public_key.to_base58check_address())

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post(path, json=body)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise NodeError(f"TRON {path} failed: {exc}") from exc
        if not isinstance(data, dict):
            raise NodeError(f"TRON {path}: unexpected answer")
        return data

    async def sign_transfer(
        self, *, to: str, amount: int, fee_limit: int = DEFAULT_FEE_LIMIT_SUN
    ) -> SignedTronTx:
        parameter = tron_hex_parameter(to, amount)
        built = await self._post(
            "/wallet/triggersmartcontract",
            {
                "owner_address": self.hot_address,
                "contract_address": self._contract,
                "function_selector": "transfer(address,uint256)",
                "parameter": parameter,
                "fee_limit": fee_limit,
                "call_value": 0,
                "visible": True,
            },
        )
        if not (built.get("result") or {}).get("result") or "transaction" not in built:
            raise NodeError(f"TRON node would not build the transfer: {str(built)[:200]}")
        tx = built["transaction"]
        self._check_built(tx, parameter)
        signed = Transaction.from_json(
            {"txID": tx["txID"], "raw_data": tx["raw_data"], "signature": [], "permission": None}
        ).sign(self._key)
        payload = {**signed.to_json(), "raw_data_hex": tx["raw_data_hex"], "visible": True}
        payload.pop("permission", None)
        return SignedTronTx(txid=tx["txID"], payload=payload, expiration_ms=int(tx["raw_data"]["expiration"]))

    def _check_built(self, tx: dict[str, Any], parameter: str) -> None:
        """Never sign what we did not ask for: the id must hash the bytes, the call must be ours."""
        try:
            if hashlib.sha256(bytes.fromhex(tx["raw_data_hex"])).hexdigest() != tx["txID"]:
                raise NodeError("TRON node returned a transaction whose id does not match its bytes")
            value = tx["raw_data"]["contract"][0]["parameter"]["value"]
            if value["data"] != TRANSFER_SELECTOR + parameter or value["contract_address"] != self._contract:
                raise NodeError("TRON node returned a different call than the one asked for")
            if value["owner_address"] != self.hot_address:
                raise NodeError("TRON node returned a transaction of another owner")
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise NodeError(f"malformed TRON transaction: {exc}") from exc

    async def token_balance(self, address: str | None = None) -> int:
        """balanceOf(address) through a constant call (no transaction)."""
        owner = address or self.hot_address
        answer = await self._post(
            "/wallet/triggerconstantcontract",
            {
                "owner_address": owner,
                "contract_address": self._contract,
                "function_selector": "balanceOf(address)",
                "parameter": tron_hex_parameter(owner, 0)[:64],
                "visible": True,
            },
        )
        try:
            return int(answer["constant_result"][0] or "0", 16)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise NodeError(f"malformed TRON balanceOf answer: {exc}") from exc

    async def trx_balance(self, address: str | None = None) -> int:
        """The account's TRX in sun (0 for an account not yet on chain)."""
        account = await self._post(
            "/wallet/getaccount", {"address": address or self.hot_address, "visible": True}
        )
        return int(account.get("balance", 0))

    async def sign_trx_transfer(self, *, to: str, sun: int) -> SignedTronTx:
        """A plain TRX transfer from this key (energy/bandwidth top-ups of deposit addresses)."""
        built = await self._post(
            "/wallet/createtransaction",
            {"owner_address": self.hot_address, "to_address": to, "amount": sun, "visible": True},
        )
        try:
            value = built["raw_data"]["contract"][0]["parameter"]["value"]
            if hashlib.sha256(bytes.fromhex(built["raw_data_hex"])).hexdigest() != built["txID"]:
                raise NodeError("TRON node returned a transaction whose id does not match its bytes")
            if (value["owner_address"], value["to_address"], int(value["amount"])) != (
                self.hot_address,
                to,
                sun,
            ):
                raise NodeError("TRON node returned a different transfer than the one asked for")
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise NodeError(f"malformed TRON transaction: {exc}") from exc
        signed = Transaction.from_json(
            {"txID": built["txID"], "raw_data": built["raw_data"], "signature": [], "permission": None}
        ).sign(self._key)
        payload = {**signed.to_json(), "raw_data_hex": built["raw_data_hex"], "visible": True}
        payload.pop("permission", None)
        return SignedTronTx(
            txid=built["txID"], payload=payload, expiration_ms=int(built["raw_data"]["expiration"])
        )

    async def broadcast(self, payload: dict[str, Any]) -> None:
        answer = await self._post("/wallet/broadcasttransaction", payload)
        if answer.get("result") is True:
            return
        if answer.get("code") == "DUP_TRANSACTION_ERROR":
            raise NodeError("already broadcast")
        raise NodeError(f"TRON broadcast refused: {answer.get('code')} {answer.get('message', '')}"[:300])

    async def receipt(self, txid: str) -> TronReceipt | None:
        info = await self._post("/wallet/gettransactioninfobyid", {"value": txid})
        if not info or "blockNumber" not in info:
            return None
        result = (info.get("receipt") or {}).get("result", "SUCCESS")
        return TronReceipt(
            height=int(info["blockNumber"]), success=result == "SUCCESS", fee_sun=int(info.get("fee", 0))
        )

    async def tip(self) -> int:
        block = await self._post("/wallet/getnowblock", {})
        try:
            return int(block["block_header"]["raw_data"]["number"])
        except (KeyError, TypeError, ValueError) as exc:
            raise NodeError(f"malformed TRON block: {exc}") from exc

    def expired(self, signed_expiration_ms: int) -> bool:
        return self.now_ms() > signed_expiration_ms
