"""A local Africa's Talking-compatible SMS server, for the embedded default and the tests.

Speaks the wire format of POST /version1/messaging (form fields username, to, message, from,
bulkSMSMode, enqueue; `apiKey` header; JSON answer with one entry per recipient). Keeps every
message in an outbox that GET /outbox?phone=... returns (the phone simulator page shows it).
Fault injection: `server.fail[phone] = (statusCode, status)` refuses that recipient.
Delivery reports: with `delivery_report_url` set, each accepted message gets its reports posted
form-encoded, as AT does, per `delivery_plans` (late, repeated, out of order, failed or never).
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

import httpx

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
    # Delivery reports, as AT posts them to the DLR URL set in its dashboard: None sends none. A
    # number's plan lists the reports in the order they are posted, e.g. [("Success", ""), ("Sent", "")]
    # for out-of-order reports, a repeated one, [] for a report that never comes, or
    # [("Failed", "DeliveryFailure")]; other numbers get Sent then Success.
    delivery_report_url: str | None = None
    delivery_plans: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    delivery_delay_seconds: float = 0.2
    reports_posted: list[tuple[str, str]] = field(default_factory=list)  # (messageId, status)
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
                self._schedule_reports(message_id, number)
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

    def _schedule_reports(self, message_id: str, number: str) -> None:
        if self.delivery_report_url is None:
            return
        plan = self.delivery_plans.get(number, [("Sent", ""), ("Success", "")])
        timer = threading.Timer(
            self.delivery_delay_seconds, self._post_reports, (message_id, number, list(plan))
        )
        timer.daemon = True
        timer.start()

    def _post_reports(self, message_id: str, number: str, plan: list[tuple[str, str]]) -> None:
        for status, reason in plan:
            form = {"id": message_id, "status": status, "phoneNumber": number, "networkCode": "63902"}
            if reason:
                form["failureReason"] = reason
            try:
                httpx.post(str(self.delivery_report_url), data=form, timeout=5.0)
            except httpx.HTTPError:
                return  # AT gives up too; the status stays where it was
            with self._lock:
                self.reports_posted.append((message_id, status))


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
DELIVERY_REPORT_URL: str | None = None  # where the shared fake posts delivery reports (bootstrap sets it)


def shared_server() -> FakeAfricasTalking:
    """The process-wide fake (embedded default), started on first use on a free port."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FakeAfricasTalking(delivery_report_url=DELIVERY_REPORT_URL).start()
        return _shared
