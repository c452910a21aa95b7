"""Bitcoin deposits from an Esplora (electrs / Blockstream) HTTP API: every output of every block
in the range, matched by the monitor against our addresses (one index per vout).

GET /blocks/tip/height, /block-height/{h}, /block/{hash}, /block/{hash}/txs/{start} (25 per page).
"""

from __future__ import annotations

from typing import Any

import httpx

from wallets.errors import NodeError
from wallets.networks import Network
from wallets.scanning.chain import BlockRef, Transfer

TXS_PER_PAGE = 25


class EsploraSource:
    network = Network.BTC

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def _get(self, path: str) -> httpx.Response:
        try:
            response = await self._client.get(path)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise NodeError(f"Esplora {path} failed: {exc}") from exc
        return response

    async def _json(self, path: str) -> Any:
        try:
            return (await self._get(path)).json()
        except ValueError as exc:
            raise NodeError(f"Esplora {path}: not JSON") from exc

    async def tip(self) -> int:
        text = (await self._get("/blocks/tip/height")).text.strip()
        if not text.isdigit():
            raise NodeError(f"Esplora tip height is not a number: {text[:40]!r}")
        return int(text)

    async def block(self, height: int) -> BlockRef:
        block_hash = (await self._get(f"/block-height/{height}")).text.strip().lower()
        if len(block_hash) != 64 or any(c not in "0123456789abcdef" for c in block_hash):
            raise NodeError(f"Esplora block hash at {height} is malformed")
        return BlockRef(height=height, hash=block_hash)

    async def transfers(self, start: int, end: int) -> list[Transfer]:
        found: list[Transfer] = []
        for height in range(start, end + 1):
            ref = await self.block(height)
            header = await self._json(f"/block/{ref.hash}")
            try:
                if int(header["height"]) != height:
                    raise NodeError(f"Esplora block {ref.hash} is not at height {height}")
                tx_count = int(header["tx_count"])
            except (KeyError, TypeError, ValueError) as exc:
                raise NodeError(f"malformed Esplora block: {exc}") from exc
            for page_start in range(0, tx_count, TXS_PER_PAGE):
                for tx in await self._json(f"/block/{ref.hash}/txs/{page_start}"):
                    found.extend(self._outputs(tx, ref))
        return found

    @staticmethod
    def _outputs(tx: dict[str, Any], ref: BlockRef) -> list[Transfer]:
        try:
            txid = str(tx["txid"])
            outputs = []
            for n, vout in enumerate(tx["vout"]):
                address = vout.get("scriptpubkey_address")
                if not address:
                    continue  # OP_RETURN and other non-address outputs
                outputs.append(
                    Transfer(
                        txid=txid,
                        index=n,
                        height=ref.height,
                        block_hash=ref.hash,
                        token="",
                        to=str(address),
                        amount=int(vout["value"]),
                    )
                )
            return outputs
        except (KeyError, TypeError, ValueError) as exc:
            raise NodeError(f"malformed Esplora transaction: {exc}") from exc


class EsploraClient(EsploraSource):
    """The source plus what withdrawals need: broadcast and transaction status."""

    @property
    def client(self) -> httpx.AsyncClient:
        return self._client

    async def broadcast(self, raw_hex: str) -> str:
        try:
            response = await self._client.post("/tx", content=raw_hex)
        except httpx.HTTPError as exc:
            raise NodeError(f"Esplora broadcast failed: {exc}") from exc
        text = response.text.strip()
        if response.status_code != 200:
            if "already" in text.lower() or "txn-already-known" in text:
                raise NodeError(f"already broadcast: {text[:200]}")
            raise NodeError(f"Esplora refused the transaction: {text[:200]}")
        return text

    async def tx_height(self, txid: str) -> int | None:
        """The confirming block's height, or None while unconfirmed or unknown."""
        try:
            response = await self._client.get(f"/tx/{txid}/status")
        except httpx.HTTPError as exc:
            raise NodeError(f"Esplora tx status failed: {exc}") from exc
        if response.status_code == 404:
            return None
        try:
            response.raise_for_status()
            status = response.json()
            return int(status["block_height"]) if status.get("confirmed") else None
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise NodeError(f"malformed Esplora tx status: {exc}") from exc
