"""Sending through Africa's Talking's official SDK (synchronous, `requests`-based: run it in a worker).

The SDK hard-codes its base URL; the documented hook is the service's `_baseUrl`, which we point at
the configured base URL (production/sandbox) or at the local fake. HTTP 200 is not success: every
recipient's `statusCode` is checked (100 Processed, 101 Sent, 102 Queued are the good ones).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from africastalking.SMS import SMSService

from channels.sms.errors import SmsNotSent
from core.i18n import gsm7_safe

log = logging.getLogger(__name__)

SENT_CODES = frozenset({100, 101, 102})
RETRYABLE_CODES = frozenset({405, 500, 501, 502})  # insufficient balance, AT/gateway trouble
TIMEOUT = (3.05, 9.05)


@dataclass(frozen=True)
class SentMessage:
    phone: str
    message_id: str
    status_code: int
    cost: str


def make_service(*, username: str, api_key: str, base_url: str) -> SMSService:
    service = SMSService(username, api_key)
    if base_url:
        service._baseUrl = base_url.rstrip("/") + "/version1"
    return service


def check_response(body: Any, phone: str) -> SentMessage:
    """Find `phone`'s recipient entry and raise SmsNotSent unless it was accepted."""
    if not isinstance(body, dict):
        raise SmsNotSent(
            f"unexpected Africa's Talking response: {str(body)[:120]!r}", status_code=0, retryable=True
        )
    recipients = body.get("SMSMessageData", {}).get("Recipients") or []
    for item in recipients:
        if item.get("number") == phone:
            code = int(item.get("statusCode", 0))
            if code not in SENT_CODES:
                status = item.get("status", "")
                raise SmsNotSent(
                    f"SMS refused: {code} {status}", status_code=code, retryable=code in RETRYABLE_CODES
                )
            return SentMessage(phone, str(item.get("messageId", "")), code, str(item.get("cost", "")))
    message = body.get("SMSMessageData", {}).get("Message", "")
    raise SmsNotSent(f"no recipient entry for the number: {message[:120]}", status_code=0, retryable=False)


def send(service: SMSService, *, phone: str, text: str, sender_id: str = "") -> SentMessage:
    """Send one SMS (blocking). Raises SmsNotSent; the SDK's own exception on HTTP errors."""
    body = service.send(gsm7_safe(text), [phone], sender_id=sender_id or None, timeout=TIMEOUT)
    return check_response(body, phone)
