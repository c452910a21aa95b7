"""Start and stop a local ganache 7.9.2 JSON-RPC node (npm, runs offline), installed under node/.

Missing node or a failed install is a test FAILURE, not a skip: CI must run the EVM-node tests.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

NODE_DIR = Path(__file__).parent / "node"
CLI = NODE_DIR / "node_modules" / "ganache" / "dist" / "node" / "cli.js"


class GanacheUnavailable(RuntimeError):
    pass


def ensure_installed() -> str:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        raise GanacheUnavailable(
            "node and npm are needed for the EVM-node tests (apt-get install nodejs npm)"
        )
    if not CLI.exists():
        subprocess.run(
            [npm, "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"], check=True, timeout=600
        )
    return node


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(url: str) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return "result" in json.loads(response.read())
    except OSError:
        return False


class Ganache:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> str:
        node = ensure_installed()
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [
                node,
                str(CLI),
                "--server.host=127.0.0.1",
                f"--server.port={port}",
                "--wallet.deterministic",
                "--chain.chainId=1337",
                "--logging.quiet",
                "--miner.instamine=eager",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise GanacheUnavailable(f"ganache exited: {err[-2000:]}")
            if _ready(self.url):
                return self.url
            time.sleep(0.2)
        self.stop()
        raise GanacheUnavailable("ganache did not answer within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stderr:
            self.process.stderr.close()
        self.process = None
