"""Sentry reports are scrubbed like the logs (issue 21 item 6): a raised error whose message, request
and stack-frame variables hold a phone number, a PIN, a national ID and the callback path token
produces an event with none of them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import sentry_sdk
from fastapi import FastAPI
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from core.config import Settings
from webapp.observability.errors import init_error_reporting

AT_TOKEN = "error-report-at-callback-token-0123456789"
PHONE = "254712345678"
PIN = "7391"
NATIONAL_ID = "31234567"


class CapturingTransport(Transport):
    """Keeps envelopes in memory instead of sending them (no network in tests)."""

    sent: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        for item in envelope.items:
            if item.type == "event":
                CapturingTransport.sent.append(json.loads(item.payload.get_bytes()))


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/ussd/{token}")
    async def failing(token: str) -> None:
        phone = f"+{PHONE}"
        pin, national_id = PIN, NATIONAL_ID
        raise RuntimeError(f"could not serve {phone} (token {token}), pin={pin} national_id={national_id}")

    return app


async def test_a_report_carries_no_phone_pin_id_or_token() -> None:
    settings = Settings(
        kibeti_env="test", sentry_dsn="https://public@sentry.example.invalid/1", at_callback_token=AT_TOKEN
    )
    CapturingTransport.sent.clear()
    assert init_error_reporting(settings, transport=CapturingTransport)
    try:
        transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post(
                f"/ussd/{AT_TOKEN}", data={"phoneNumber": f"+{PHONE}", "text": f"1*{PIN}"}
            )
        assert response.status_code == 500
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init()  # back to a disabled client for the rest of the session
    assert CapturingTransport.sent, "no event was reported"
    text = json.dumps(CapturingTransport.sent)
    assert "RuntimeError" in text  # the report is useful: the error type and its frames are there
    for secret in (PHONE, "712345678", f"pin={PIN}", f"1*{PIN}", NATIONAL_ID, AT_TOKEN):
        assert secret not in text, secret
    frames = CapturingTransport.sent[0]["exception"]["values"][0]["stacktrace"]["frames"]
    local_vars = frames[-1].get("vars", {})
    assert local_vars.get("pin") == "[REDACTED]" and local_vars.get("national_id") == "[REDACTED]"


def test_no_dsn_starts_nothing() -> None:
    assert init_error_reporting(Settings(kibeti_env="test")) is False
