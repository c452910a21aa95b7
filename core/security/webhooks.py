"""Signing our outbound merchant webhooks: HMAC-SHA256 over "<timestamp>.<body>".

Header value: ``t=<unix seconds>,v1=<hex digest>``. Receivers reject stale timestamps (replay).
"""

from __future__ import annotations

import hashlib
import hmac

from core.security.errors import WebhookSignatureInvalid

HEADER = "Kibeti-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(*, secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def verify(
    *, secret: str, body: bytes, header: str, now: int, tolerance: int = DEFAULT_TOLERANCE_SECONDS
) -> None:
    """Raise WebhookSignatureInvalid unless the header signs `body` within `tolerance` seconds."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError as exc:
        raise WebhookSignatureInvalid("signature timestamp missing") from exc
    if abs(now - timestamp) > tolerance:
        raise WebhookSignatureInvalid("signature timestamp outside tolerance")
    expected = _digest(secret, timestamp, body)
    if not hmac.compare_digest(fields.get("v1", "").encode(), expected.encode()):
        raise WebhookSignatureInvalid("signature mismatch")
