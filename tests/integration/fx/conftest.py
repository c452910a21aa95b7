"""Local fake FX providers: real HTTP servers on 127.0.0.1, each path scripted per test."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Script:
    status: int = 200
    body: str = ""
    delay: float = 0.0
    content_type: str = "application/json"


class FakeProvider:
    """One HTTP server; `set(path, ...)` decides what each path answers (query strings ignored)."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.hits: dict[str, int] = {}
        self.released = threading.Event()  # set at teardown: a slow answer never outlives its test
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                provider.hits[path] = provider.hits.get(path, 0) + 1
                script = provider.scripts.get(path, Script(status=404, body="not found"))
                if script.delay:
                    provider.released.wait(script.delay)
                payload = script.body.encode()
                try:
                    self.send_response(script.status)
                    self.send_header("Content-Type", script.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def set(self, path: str, body: object = None, *, status: int = 200, delay: float = 0.0,
            content_type: str = "application/json") -> None:  # fmt: skip
        text = body if isinstance(body, str) else json.dumps(body)
        self.scripts[path] = Script(status=status, body=text, delay=delay, content_type=content_type)

    def usd_kes(self, path: str, rate: str = "129.5", **kwargs: object) -> None:
        body = {"result": "success", "base_code": "USD", "conversion_rates": {"KES": rate, "USD": 1}}
        self.set(path, body, **kwargs)  # type: ignore[arg-type]

    def crypto(self, path: str, btc: str = "95000", usdt: str = "1.0", **kwargs: object) -> None:
        # Raw JSON numbers (not strings), as CoinGecko sends them: parsed to Decimal, never float.
        body = '{"bitcoin": {"usd": BTC}, "tether": {"usd": USDT}}'.replace("BTC", btc).replace("USDT", usdt)
        self.set(path, body, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider()
    fake.thread.start()
    yield fake
    fake.released.set()
    fake.server.shutdown()
    fake.server.server_close()
