"""Protocol-faithful local HTTP fakes of a TronGrid-style TRON API and an Esplora Bitcoin API.

Each serves a chain the test controls: `produce(n)` mines blocks (pending transfers go into the
next one), `reorg(depth, new_blocks)` replaces the newest blocks with a different branch, and
`down = True` makes every request fail with 503 like a node that is unreachable.
Bitcoin transactions are real, built and signed with bitcoinlib; TRON transfers are TRC20
transfer(address,uint256) calls signed with tronpy keys.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from tronpy.keys import PrivateKey

from wallets.hd._bitcoinlib import Key
from wallets.hd.encoding import b58check_decode, b58check_encode


@dataclass
class Block:
    height: int
    hash: str
    parent: str
    timestamp: int
    items: list[Any] = field(default_factory=list)


class FakeChain:
    def __init__(self, *, genesis_time: int, block_seconds: int) -> None:
        self.lock = threading.Lock()
        self.block_seconds = block_seconds
        self.blocks = [Block(0, self._hash("genesis"), "0" * 64, genesis_time)]
        self.pending: list[Any] = []
        self.down = False
        self._branch = 0

    @staticmethod
    def _hash(seed: str) -> str:
        return hashlib.sha256(seed.encode()).hexdigest()

    @property
    def height(self) -> int:
        return self.blocks[-1].height

    def produce(self, count: int = 1) -> None:
        with self.lock:
            for _ in range(count):
                parent = self.blocks[-1]
                height = parent.height + 1
                items, self.pending = self.pending, []
                block_hash = self._hash(f"{parent.hash}:{height}:{self._branch}:{len(items)}")
                self.blocks.append(
                    Block(height, block_hash, parent.hash, parent.timestamp + self.block_seconds, items)
                )

    def reorg(self, depth: int, new_blocks: int, *, keep_transactions: bool = False) -> None:
        """Drop the newest `depth` blocks and mine `new_blocks` on a new branch."""
        with self.lock:
            dropped = self.blocks[-depth:]
            del self.blocks[-depth:]
            self._branch += 1
            if keep_transactions:
                self.pending = [item for block in dropped for item in block.items] + self.pending
        self.produce(new_blocks)

    def at(self, height: int) -> Block | None:
        with self.lock:
            return self.blocks[height] if 0 <= height < len(self.blocks) else None


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: Any, *, text: bool = False) -> None:
        payload = (str(body) if text else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if text else "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _dispatch(self, method: str) -> None:
        if self.fake.chain.down:
            self._send(503, {"error": "service unavailable"})
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            body = raw.decode()  # Esplora's POST /tx takes the raw hex as plain text
        url = urlparse(self.path)
        status, answer, text = self.fake.handle(method, url.path, parse_qs(url.query), body)
        self._send(status, answer, text=text)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")


class FakeServer:
    chain: FakeChain

    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any, bool]:
        raise NotImplementedError


# --- TRON (TronGrid-style) ----------------------------------------------------------------------


def _abi_address(address: str) -> str:
    return b58check_decode(address)[1:].hex().rjust(64, "0")


@dataclass
class TronTransfer:
    txid: str
    contract: str
    sender: str
    to: str
    value: int
    signature: str


@dataclass
class TrxTransfer:
    txid: str
    sender: str
    to: str
    value: int
    contract: str = ""  # not a token: never in contract events


class FakeTron(FakeServer):
    """POST /wallet/getnowblock, /wallet/getblockbynum; GET /v1/contracts/{c}/events (paged)."""

    def __init__(self, *, page_size: int = 3) -> None:
        self.chain = FakeChain(genesis_time=1_700_000_000_000, block_seconds=3_000)
        self.page_size = page_size
        self._nonce = 0
        self.chain_parameters = {
            "getEnergyFee": 420,
            "getTransactionFee": 1000,
            "getMaintenanceTimeInterval": 21600000,
        }
        self.resources: dict[str, dict[str, int]] = {}
        self.transfer_energy = 64_285
        self.expiration_ms = 60_000
        self.swallow_broadcasts = False
        self.trx: dict[str, int] = {}  # TRX balances in sun
        self.enforce_trx = False  # when set, a TRC20 transfer burns the sender's TRX (or fails)

    def transfer(self, *, key: PrivateKey, contract: str, to: str, value: int) -> str:
        """A signed TRC20 transfer(to, value), queued for the next block; returns its txid."""
        self._nonce += 1
        raw = {
            "contract": [
                {
                    "type": "TriggerSmartContract",
                    "parameter": {
                        "value": {
                            "owner_address": key.public_key.to_hex_address(),
                            "contract_address": b58check_decode(contract).hex(),
                            "data": "a9059cbb" + _abi_address(to) + hex(value)[2:].rjust(64, "0"),
                        }
                    },
                }
            ],
            "ref_block_bytes": f"{self.chain.height & 0xFFFF:04x}",
            "timestamp": self.chain.blocks[-1].timestamp + self._nonce,
            "fee_limit": 30_000_000,
        }
        raw_bytes = json.dumps(raw, sort_keys=True).encode()
        txid = hashlib.sha256(raw_bytes).hexdigest()
        signature = key.sign_msg_hash(bytes.fromhex(txid)).hex()
        sender = key.public_key.to_base58check_address()
        self.chain.pending.append(TronTransfer(txid, contract, sender, to, value, signature))
        return txid

    def _block_json(self, block: Block) -> dict[str, Any]:
        return {
            "blockID": block.hash,
            "block_header": {
                "raw_data": {"number": block.height, "timestamp": block.timestamp, "parentHash": block.parent}
            },
            "transactions": [{"txID": t.txid, "signature": [t.signature]} for t in block.items],
        }

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any, bool]:
        if method == "POST" and path == "/wallet/getnowblock":
            return 200, self._block_json(self.chain.blocks[-1]), False
        if method == "POST" and path == "/wallet/getblockbynum":
            block = self.chain.at(int(body.get("num", -1)))
            return 200, (self._block_json(block) if block else {}), False
        if method == "POST" and path == "/wallet/getchainparameters":
            return (
                200,
                {"chainParameter": [{"key": k, "value": v} for k, v in self.chain_parameters.items()]},
                False,
            )
        if method == "POST" and path == "/wallet/getaccountresource":
            return 200, self.resources.get(body.get("address", ""), {"freeNetLimit": 600}), False
        if method == "POST" and path == "/wallet/getaccount":
            address = str(body.get("address", ""))
            return (
                200,
                ({"address": address, "balance": self.trx[address]} if address in self.trx else {}),
                False,
            )
        if method == "POST" and path == "/wallet/createtransaction":
            return 200, self._build_trx(body), False
        if (
            method == "POST"
            and path == "/wallet/triggerconstantcontract"
            and body.get("function_selector") == "balanceOf(address)"
        ):
            holder = b58check_encode(b"\x41" + bytes.fromhex(str(body["parameter"])[24:64]))
            balance = self.token_balance(str(body["contract_address"]), holder)
            return 200, {"result": {"result": True}, "constant_result": [format(balance, "064x")]}, False
        if method == "POST" and path == "/wallet/triggerconstantcontract":
            if not body.get("parameter") or len(body["parameter"]) != 128:
                return 200, {"result": {"code": "CONTRACT_VALIDATE_ERROR"}}, False
            return (
                200,
                {
                    "result": {"result": True},
                    "energy_used": self.transfer_energy,
                    "constant_result": ["0" * 63 + "1"],
                },
                False,
            )
        if method == "POST" and path == "/wallet/triggersmartcontract":
            return 200, self._build(body), False
        if method == "POST" and path == "/wallet/broadcasttransaction":
            return 200, self._broadcast(body), False
        if method == "POST" and path == "/wallet/gettransactioninfobyid":
            return 200, self._info(str(body.get("value", ""))), False
        parts = path.strip("/").split("/")
        if method == "GET" and len(parts) == 4 and parts[:2] == ["v1", "contracts"] and parts[3] == "events":
            return 200, self._events(parts[2], query), False
        return 404, {"Error": f"no route {method} {path}"}, False

    def _build(self, body: dict[str, Any]) -> dict[str, Any]:
        """Like java-tron: an unsigned TriggerSmartContract transaction, expiring in 60 s.

        (Simplification: raw_data_hex is the canonical JSON's bytes, not protobuf; txID is its sha256.)
        """
        parameter = str(body.get("parameter", ""))
        if len(parameter) != 128:
            return {"result": {"code": "CONTRACT_VALIDATE_ERROR", "message": "bad parameter"}}
        now = int(time.time() * 1000)
        raw_data = {
            "contract": [
                {
                    "type": "TriggerSmartContract",
                    "parameter": {
                        "value": {
                            "data": "a9059cbb" + parameter,
                            "owner_address": body["owner_address"],
                            "contract_address": body["contract_address"],
                        },
                        "type_url": "type.googleapis.com/protocol.TriggerSmartContract",
                    },
                }
            ],
            "ref_block_bytes": f"{self.chain.height & 0xFFFF:04x}",
            "ref_block_hash": self.chain.blocks[-1].hash[16:32],
            "expiration": now + self.expiration_ms,
            "fee_limit": int(body.get("fee_limit", 0)),
            "timestamp": now,
        }
        raw_hex = json.dumps(raw_data, sort_keys=True).encode().hex()
        txid = hashlib.sha256(bytes.fromhex(raw_hex)).hexdigest()
        transaction = {"visible": True, "txID": txid, "raw_data": raw_data, "raw_data_hex": raw_hex}
        return {"result": {"result": True}, "transaction": transaction}

    def token_balance(self, contract: str, holder: str) -> int:
        total = 0
        with self.chain.lock:
            for block in self.chain.blocks:
                for t in block.items:
                    if isinstance(t, TronTransfer) and t.contract == contract:
                        total += t.value if t.to == holder else 0
                        total -= t.value if t.sender == holder else 0
        return total

    def _build_trx(self, body: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time() * 1000)
        raw_data = {
            "contract": [
                {
                    "type": "TransferContract",
                    "parameter": {
                        "value": {
                            "owner_address": body["owner_address"],
                            "to_address": body["to_address"],
                            "amount": int(body["amount"]),
                        },
                        "type_url": "type.googleapis.com/protocol.TransferContract",
                    },
                }
            ],
            "ref_block_bytes": f"{self.chain.height & 0xFFFF:04x}",
            "expiration": now + self.expiration_ms,
            "timestamp": now,
        }
        raw_hex = json.dumps(raw_data, sort_keys=True).encode().hex()
        txid = hashlib.sha256(bytes.fromhex(raw_hex)).hexdigest()
        return {"visible": True, "txID": txid, "raw_data": raw_data, "raw_data_hex": raw_hex}

    def _broadcast(self, body: dict[str, Any]) -> dict[str, Any]:
        from tronpy.keys import Signature

        txid = str(body.get("txID", ""))
        if hashlib.sha256(bytes.fromhex(body.get("raw_data_hex", ""))).hexdigest() != txid:
            return {"code": "TRANSACTION_EXPIRATION_ERROR", "message": "txid mismatch"}
        if int(body["raw_data"]["expiration"]) < int(time.time() * 1000):
            return {"code": "TRANSACTION_EXPIRATION_ERROR", "message": "expired"}
        value = body["raw_data"]["contract"][0]["parameter"]["value"]
        try:
            signature = Signature.fromhex(body["signature"][0])
            signer = signature.recover_public_key_from_msg_hash(bytes.fromhex(txid)).to_base58check_address()
        except (KeyError, IndexError, ValueError) as exc:
            return {"code": "SIGERROR", "message": str(exc)}
        if signer != value["owner_address"]:
            return {"code": "SIGERROR", "message": "signature does not match the owner"}
        known = {t.txid for b in self.chain.blocks for t in b.items} | {t.txid for t in self.chain.pending}
        if txid in known:
            return {"code": "DUP_TRANSACTION_ERROR", "message": "dup transaction"}
        if self.swallow_broadcasts:
            return {"result": True, "txid": txid}  # accepted, then lost (never mined)
        if body["raw_data"]["contract"][0]["type"] == "TransferContract":
            amount = int(value["amount"])
            if self.trx.get(signer, 0) < amount:
                return {"code": "CONTRACT_VALIDATE_ERROR", "message": "balance is not sufficient"}
            self.trx[signer] -= amount
            self.trx[value["to_address"]] = self.trx.get(value["to_address"], 0) + amount
            self.chain.pending.append(TrxTransfer(txid, signer, value["to_address"], amount))
            return {"result": True, "txid": txid}
        if self.enforce_trx:
            burn = self.transfer_energy * self.chain_parameters["getEnergyFee"]
            if self.trx.get(signer, 0) < burn:
                return {"code": "CONTRACT_VALIDATE_ERROR", "message": "account has no TRX for energy"}
            self.trx[signer] -= burn
        data = value["data"]
        to = b58check_encode(b"\x41" + bytes.fromhex(data[8 + 24 : 8 + 64]))
        self.chain.pending.append(
            TronTransfer(
                txid, value["contract_address"], signer, to, int(data[8 + 64 :], 16), signature.hex()
            )
        )
        return {"result": True, "txid": txid}

    def _info(self, txid: str) -> dict[str, Any]:
        with self.chain.lock:
            for block in self.chain.blocks:
                if any(t.txid == txid for t in block.items):
                    energy_fee = self.transfer_energy * self.chain_parameters["getEnergyFee"]
                    return {
                        "id": txid,
                        "blockNumber": block.height,
                        "blockTimeStamp": block.timestamp,
                        "fee": energy_fee + 345_000,
                        "receipt": {
                            "energy_usage_total": self.transfer_energy,
                            "energy_fee": energy_fee,
                            "net_fee": 345_000,
                            "result": "SUCCESS",
                        },
                    }
        return {}

    def _events(self, contract: str, query: dict[str, list[str]]) -> dict[str, Any]:
        low = int(query.get("min_block_timestamp", ["0"])[0])
        high = int(query.get("max_block_timestamp", [str(2**62)])[0])
        offset = int(query.get("fingerprint", ["0"])[0])
        limit = min(int(query.get("limit", ["20"])[0]), self.page_size)
        events = []
        with self.chain.lock:
            for block in self.chain.blocks:
                if not low <= block.timestamp <= high:
                    continue
                for index, t in enumerate(block.items):
                    if t.contract != contract:
                        continue
                    events.append(
                        {
                            "block_number": block.height,
                            "block_timestamp": block.timestamp,
                            "caller_contract_address": t.contract,
                            "contract_address": t.contract,
                            "event_index": 0,
                            "event_name": "Transfer",
                            "event": "Transfer(address indexed from, address indexed to, uint256 value)",
                            "transaction_id": t.txid,
                            "result": {
                                "0": "0x" + _abi_address(t.sender)[-40:],
                                "1": "0x" + _abi_address(t.to)[-40:],
                                "2": str(t.value),
                                "from": "0x" + _abi_address(t.sender)[-40:],
                                "to": "0x" + _abi_address(t.to)[-40:],
                                "value": str(t.value),
                            },
                            "result_type": {"from": "address", "to": "address", "value": "uint256"},
                            "_index": index,
                        }
                    )
        page = events[offset : offset + limit]
        meta: dict[str, Any] = {"at": 0, "page_size": len(page)}
        if offset + limit < len(events):
            meta["fingerprint"] = str(offset + limit)
        return {"data": page, "success": True, "meta": meta}


# --- Bitcoin (Esplora) --------------------------------------------------------------------------


class FakeEsplora(FakeServer):
    """GET /blocks/tip/height, /block-height/{h}, /block/{hash}, /block/{hash}/txs/{start}."""

    def __init__(self, *, network: str = "regtest") -> None:
        self.chain = FakeChain(genesis_time=1_700_000_000, block_seconds=600)
        self.network = network
        self._funding = 0
        self.broadcasts: list[Any] = []
        # as Esplora sends it: JSON numbers with decimals (target blocks -> sat/vB)
        self.fee_estimates_json = '{"1": 25.312, "2": 20.5, "3": 12.008, "6": 8.1, "144": 1.02}'

    def pay(self, outputs: list[tuple[str, int]]) -> str:
        """A real signed transaction (bitcoinlib) paying `outputs`, queued for the next block."""
        from bitcoinlib.transactions import Transaction

        self._funding += 1
        key = Key(hashlib.sha256(f"funder-{self._funding}".encode()).digest(), network=self.network)
        tx = Transaction(network=self.network, witness_type="segwit")
        prev = hashlib.sha256(f"prev-{self._funding}".encode()).hexdigest()
        total = sum(value for _, value in outputs)
        tx.add_input(prev, 0, keys=key, value=total + 1_000, witness_type="segwit")
        for address, value in outputs:
            tx.add_output(value, address)
        tx.sign(key)
        assert tx.verify()
        signed = Transaction.parse_hex(tx.raw_hex(), network=self.network)  # txid of the signed bytes
        self.chain.pending.append(signed)
        return str(signed.txid)

    def _broadcast(self, raw_hex: Any) -> tuple[int, Any, bool]:
        from bitcoinlib.transactions import Transaction

        try:
            tx = Transaction.parse_hex(str(raw_hex).strip(), network=self.network)
        except Exception as exc:
            return 400, f"sendrawtransaction RPC error: TX decode failed ({exc})", True
        outputs = {t.txid: t for b in self.chain.blocks for t in b.items} | {
            t.txid: t for t in self.chain.pending
        }
        for tx_input in tx.inputs:  # segwit signatures commit to the spent amounts: look them up
            previous = outputs.get(tx_input.prev_txid.hex())
            if previous is None:
                return 400, "sendrawtransaction RPC error: bad-txns-inputs-missingorspent", True
            tx_input.value = previous.outputs[tx_input.output_n_int].value
        if not tx.verify():
            return 400, "sendrawtransaction RPC error: non-mandatory-script-verify-flag", True
        known = set(outputs)
        if tx.txid in known:
            return 400, "sendrawtransaction RPC error: txn-already-known", True
        self.chain.pending.append(tx)
        self.broadcasts.append(tx)
        return 200, tx.txid, True

    def _status(self, txid: str) -> tuple[int, Any, bool]:
        with self.chain.lock:
            for block in self.chain.blocks:
                if any(t.txid == txid for t in block.items):
                    return (
                        200,
                        {"confirmed": True, "block_height": block.height, "block_hash": block.hash},
                        False,
                    )
            if any(t.txid == txid for t in self.chain.pending):
                return 200, {"confirmed": False}, False
        return 404, "Transaction not found", True

    def _tx_json(self, tx: Any) -> dict[str, Any]:
        return {
            "txid": tx.txid,
            "version": tx.version_int,
            "vin": [{"txid": i.prev_txid.hex(), "vout": i.output_n_int} for i in tx.inputs],
            "vout": [
                {
                    "scriptpubkey": o.lock_script.hex(),
                    "scriptpubkey_address": o.address,
                    "scriptpubkey_type": "v0_p2wpkh",
                    "value": o.value,
                }
                for o in tx.outputs
            ],
            "status": {"confirmed": True},
        }

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any, bool]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["tx"]:
            return self._broadcast(body)
        if len(parts) == 3 and parts[0] == "tx" and parts[2] == "status":
            return self._status(parts[1])
        if parts == ["fee-estimates"]:
            return 200, self.fee_estimates_json, True
        if parts == ["blocks", "tip", "height"]:
            return 200, self.chain.height, True
        if len(parts) == 2 and parts[0] == "block-height":
            block = self.chain.at(int(parts[1]))
            return (200, block.hash, True) if block else (404, "Block not found", True)
        if parts[0] == "block" and len(parts) >= 2:
            with self.chain.lock:
                block = next((b for b in self.chain.blocks if b.hash == parts[1]), None)
            if block is None:
                return 404, "Block not found", True
            if len(parts) == 2:
                return (
                    200,
                    {
                        "id": block.hash,
                        "height": block.height,
                        "tx_count": len(block.items),
                        "timestamp": block.timestamp,
                        "previousblockhash": block.parent,
                    },
                    False,
                )
            if len(parts) == 4 and parts[2] == "txs":
                start = int(parts[3])
                return 200, [self._tx_json(tx) for tx in block.items[start : start + 25]], False
        return 404, "not found", True
