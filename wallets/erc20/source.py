"""ERC20 deposits via eth_getLogs over block ranges: one call per range, whatever the number of
addresses watched (the monitor matches the `to` of each Transfer against our address set).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_utils.address import to_checksum_address
from web3 import AsyncWeb3

from wallets.errors import NodeError
from wallets.networks import Network
from wallets.scanning.chain import BlockRef, Transfer

# keccak("Transfer(address,address,uint256)")
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def hex0x(value: Any) -> str:
    """HexBytes / bytes / str -> lowercase 0x-prefixed hex."""
    if isinstance(value, str):
        return value.lower() if value.startswith("0x") else "0x" + value.lower()
    return "0x" + bytes(value).hex()


def parse_transfer_log(log: Any, *, start: int, end: int) -> Transfer | None:
    """A Transfer log -> Transfer; None for logs that are not a standard ERC20 Transfer.

    Raises NodeError for logs that contradict the request (outside the range, malformed fields).
    """
    try:
        topics = [hex0x(t) for t in log["topics"]]
        height = int(log["blockNumber"])
        if not start <= height <= end:
            raise NodeError(f"node returned a log of block {height} for range {start}..{end}")
        if log.get("removed"):
            return None
        if len(topics) != 3 or topics[0] != TRANSFER_TOPIC:
            return None  # ERC721 (4 topics) or another event
        data = hex0x(log["data"])
        if len(data) != 66:
            return None
        return Transfer(
            txid=hex0x(log["transactionHash"]),
            index=int(log["logIndex"]),
            height=height,
            block_hash=hex0x(log["blockHash"]),
            token=to_checksum_address(hex0x(log["address"])),
            to=to_checksum_address("0x" + topics[2][-40:]),
            amount=int(data, 16),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise NodeError(f"malformed log from the node: {exc}") from exc


class Erc20Source:
    """Reads a node through web3 (HTTP in production, eth-tester in tests)."""

    network = Network.ERC20

    def __init__(self, w3: AsyncWeb3[Any], *, tokens: Sequence[str] | None) -> None:
        """`tokens`: contracts to watch; None watches Transfer events of every contract (unknown
        tokens sent to our addresses then land in suspense)."""
        self._w3 = w3
        self._tokens = [to_checksum_address(t) for t in tokens] if tokens is not None else None

    async def tip(self) -> int:
        try:
            return int(await self._w3.eth.block_number)
        except Exception as exc:  # any transport or node failure
            raise NodeError(f"eth_blockNumber failed: {exc}") from exc

    async def block(self, height: int) -> BlockRef:
        try:
            block = await self._w3.eth.get_block(height)
        except Exception as exc:
            raise NodeError(f"eth_getBlockByNumber({height}) failed: {exc}") from exc
        if block is None or int(block["number"]) != height:
            raise NodeError(f"node returned no or the wrong block for height {height}")
        return BlockRef(height=height, hash=hex0x(block["hash"]))

    async def transfers(self, start: int, end: int) -> list[Transfer]:
        params: dict[str, Any] = {"fromBlock": start, "toBlock": end, "topics": [TRANSFER_TOPIC]}
        if self._tokens is not None:
            params["address"] = self._tokens
        try:
            logs = await self._w3.eth.get_logs(params)  # type: ignore[arg-type]
        except Exception as exc:
            raise NodeError(f"eth_getLogs({start}..{end}) failed: {exc}") from exc
        found = (parse_transfer_log(log, start=start, end=end) for log in logs)
        return sorted((t for t in found if t is not None), key=lambda t: (t.height, t.index))
