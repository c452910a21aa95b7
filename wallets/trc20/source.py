"""TRC20 deposits from a TronGrid-style HTTP API.

Blocks: POST /wallet/getnowblock and /wallet/getblockbynum (java-tron full-node HTTP API).
Transfers: GET /v1/contracts/{contract}/events?event_name=Transfer between the range's first and
last block timestamps, paged by `meta.fingerprint`: one contract-wide query per range, whatever
the number of addresses watched.
"""

from __future__ import annotations

from typing import Any

import httpx

from wallets.errors import NodeError
from wallets.hd.encoding import b58check_encode
from wallets.networks import Network
from wallets.scanning.chain import BlockRef, Transfer

PAGE_SIZE = 200


def tron_address(value: str) -> str:
    """'0x' + 20-byte hex, '41' + 20-byte hex or base58 T... -> base58 T..."""
    text = value.strip()
    if text.startswith("T"):
        return text
    raw = text[2:] if text.startswith("0x") else text
    if len(raw) == 42 and raw.startswith("41"):
        raw = raw[2:]
    if len(raw) != 40:
        raise ValueError(f"not a TRON address: {value!r}")
    return b58check_encode(b"\x41" + bytes.fromhex(raw))


class Trc20Source:
    network = Network.TRC20

    def __init__(self, client: httpx.AsyncClient, *, contract: str, api_key: str = "") -> None:
        self._client = client
        self._contract = contract
        self._headers = {"TRON-PRO-API-KEY": api_key} if api_key else {}
        self._timestamps: dict[int, int] = {}

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._client.post(path, json=body, headers=self._headers)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise NodeError(f"TRON {path} failed: {exc}") from exc
        if not isinstance(data, dict):
            raise NodeError(f"TRON {path}: unexpected answer")
        return data

    @staticmethod
    def _header(block: dict[str, Any]) -> tuple[int, int, str]:
        try:
            raw = block["block_header"]["raw_data"]
            return int(raw["number"]), int(raw["timestamp"]), str(block["blockID"])
        except (KeyError, TypeError, ValueError) as exc:
            raise NodeError(f"malformed TRON block: {exc}") from exc

    async def tip(self) -> int:
        number, timestamp, _ = self._header(await self._post("/wallet/getnowblock", {}))
        self._timestamps[number] = timestamp
        return number

    async def block(self, height: int) -> BlockRef:
        data = await self._post("/wallet/getblockbynum", {"num": height})
        if not data:
            raise NodeError(f"TRON node has no block {height}")
        number, timestamp, block_id = self._header(data)
        if number != height:
            raise NodeError(f"TRON node returned block {number} for {height}")
        self._timestamps[height] = timestamp
        return BlockRef(height=height, hash=block_id)

    async def _timestamp(self, height: int) -> int:
        if height not in self._timestamps:
            await self.block(height)
        return self._timestamps[height]

    async def transfers(self, start: int, end: int) -> list[Transfer]:
        params: dict[str, Any] = {
            "event_name": "Transfer",
            "min_block_timestamp": await self._timestamp(start),
            "max_block_timestamp": await self._timestamp(end),
            "order_by": "block_timestamp,asc",
            "limit": PAGE_SIZE,
        }
        found: list[Transfer] = []
        while True:
            page = await self._events(params)
            for event in page.get("data", []):
                transfer = self._parse(event, start, end)
                if transfer is not None:
                    found.append(transfer)
            fingerprint = (page.get("meta") or {}).get("fingerprint")
            if not fingerprint:
                break
            params["fingerprint"] = fingerprint
        self._timestamps = {h: t for h, t in self._timestamps.items() if h >= start}
        return sorted(found, key=lambda t: (t.height, t.txid, t.index))

    async def _events(self, params: dict[str, Any]) -> dict[str, Any]:
        path = f"/v1/contracts/{self._contract}/events"
        try:
            response = await self._client.get(path, params=params, headers=self._headers)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise NodeError(f"TRON events query failed: {exc}") from exc
        if not isinstance(data, dict) or data.get("success") is False:
            raise NodeError(f"TRON events query refused: {str(data)[:200]}")
        return data

    def _parse(self, event: dict[str, Any], start: int, end: int) -> Transfer | None:
        try:
            if event.get("event_name") != "Transfer":
                return None
            height = int(event["block_number"])
            if not start <= height <= end:
                return None  # the timestamp window can touch neighbours; the cursor covers them
            result = event["result"]
            return Transfer(
                txid=str(event["transaction_id"]),
                index=int(event["event_index"]),
                height=height,
                block_hash="",  # filled from the block when confirming; events carry no hash
                token=tron_address(str(event["contract_address"])),
                to=tron_address(str(result["to"])),
                amount=int(result["value"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise NodeError(f"malformed TRON event: {exc}") from exc
