"""A merchant's webhook receiver on 127.0.0.1 (a threaded http.server), scripted per test: answer
given status codes in turn (or drop the connection), then 200. It verifies signatures on its own,
the way a merchant's Stripe-style code would (no Kibeti code involved)."""

from __future__ import annotations

import hashlib
import hmac
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DROP = -1  # close the connection without answering (a network error for the sender)


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """Stripe's scheme: comma-separated key=value pairs; t once, v1 possibly several times."""
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise ValueError("no timestamp or no v1 signature")
    return timestamp, signatures


def verify(secret: str, body: bytes, header: str, *, now: float, tolerance: int = 300) -> bool:
    timestamp, signatures = parse_signature_header(header)
    if abs(now - timestamp) > tolerance:
        return False
    signed_payload = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode("utf-8"), signed_payload, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a sender that gave up (timeout) closed its end: nothing to report


@dataclass
class Received:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    script: list[int] = field(default_factory=list)  # answers before the first 200
    requests: list[Received] = field(default_factory=list)
    host: str = "127.0.0.1"
    retry_after: dict[int, str] = field(default_factory=dict)  # status -> Retry-After header value
    delay: float = 0.0  # seconds the receiver takes to answer
    tls: ssl.SSLContext | None = None  # serve https (then `url` names the host "localhost")
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        if self.tls is not None:
            return f"https://localhost:{self.server.server_address[1]}/hooks/kibeti"
        return f"http://{self.host}:{self.server.server_address[1]}/hooks/kibeti"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    status = receiver.script.pop(0) if receiver.script else 200
                    receiver.requests.append(Received(status, dict(self.headers.items()), body))
                if status == DROP:
                    self.close_connection = True
                    self.connection.close()
                    return
                payload = b'{"ok": true}' if status == 200 else b"receiver says no"
                self.send_response(status)
                if status in receiver.retry_after:
                    self.send_header("Retry-After", receiver.retry_after[status])
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = QuietServer((self.host, 0), Handler)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def delivered(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.status == 200]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.delivered()) >= count:
                return self.delivered()
            time.sleep(0.05)
        return self.delivered()
