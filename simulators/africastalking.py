"""A local Africa's Talking-compatible SMS server, for the embedded default and the tests.

Speaks the wire format of POST /version1/messaging (form fields username, to, message, from,
bulkSMSMode, enqueue; `apiKey` header; JSON answer with one entry per recipient). Keeps every
message in an outbox that GET /outbox?phone=... returns (the phone simulator page shows it).
Fault injection: `server.fail[phone] = (statusCode, status)` refuses that recipient.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from core.i18n import sms_segments

COST_PER_PART = "0.8000"


@dataclass
class FakeMessage:
    id: str
    to: str
    message: str
    sender: str
    at: str
    parts: int


@dataclass
class FakeAfricasTalking:
    host: str = "127.0.0.1"
    port: int = 0
    outbox: list[FakeMessage] = field(default_factory=list)
    fail: dict[str, tuple[int, str]] = field(default_factory=dict)
    requests: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> FakeAfricasTalking:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="at-fake", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def messages_for(self, phone: str) -> list[FakeMessage]:
        with self._lock:
            return [m for m in self.outbox if m.to == phone]

    def accept(self, form: dict[str, str]) -> dict[str, Any]:
        recipients = []
        numbers = [n.strip() for n in form.get("to", "").split(",") if n.strip()]
        message = form.get("message", "")
        parts = sms_segments(message)
        with self._lock:
            self.requests += 1
            for number in numbers:
                if number in self.fail:
                    code, status = self.fail[number]
                    recipients.append(
                        {
                            "statusCode": code,
                            "number": number,
                            "status": status,
                            "cost": "0",
                            "messageId": "None",
                        }
                    )
                    continue
                message_id = f"ATXid_{uuid.uuid4().hex}"
                at = datetime.now(UTC).isoformat(timespec="seconds")
                self.outbox.append(FakeMessage(message_id, number, message, form.get("from", ""), at, parts))
                cost = f"KES {float(COST_PER_PART) * parts:.4f}"
                recipients.append(
                    {
                        "statusCode": 101,
                        "number": number,
                        "status": "Success",
                        "cost": cost,
                        "messageId": message_id,
                    }
                )
        sent = sum(1 for r in recipients if r["statusCode"] == 101)
        summary = f"Sent to {sent}/{len(numbers)} Total Cost: KES {float(COST_PER_PART) * parts * sent:.4f}"
        return {"SMSMessageData": {"Message": summary, "Recipients": recipients}}


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeAfricasTalking

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _json(self, status: int, body: Any) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode()
        if urlparse(self.path).path != "/version1/messaging":
            self._json(404, {"error": "not found"})
            return
        if self.headers.get("apiKey") is None:
            self.send_response(401)
            self.end_headers()
            self.wfile.write(b"The supplied authentication is invalid")
            return
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        if not form.get("username") or not form.get("to"):
            self.send_response(400)
            self.end_headers()
            self.wfile.write(b"Request is missing required form field 'to'")
            return
        self._json(201, self.server_fake.accept(form))

    def do_GET(self) -> None:
        parsed = urlparse(self.path)
        if parsed.path != "/outbox":
            self._json(404, {"error": "not found"})
            return
        phone = parse_qs(parsed.query).get("phone", [""])[0]
        with self.server_fake._lock:
            items = [asdict(m) for m in self.server_fake.outbox if not phone or m.to == phone]
        self._json(200, {"messages": items})

    def do_DELETE(self) -> None:
        with self.server_fake._lock:
            self.server_fake.outbox.clear()
        self._json(200, {"ok": True})


_shared: FakeAfricasTalking | None = None
_shared_lock = threading.Lock()


def shared_server() -> FakeAfricasTalking:
    """The process-wide fake (embedded default), started on first use on a free port."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FakeAfricasTalking().start()
        return _shared
