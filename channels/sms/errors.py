"""SMS errors."""

from __future__ import annotations

from core.errors import KibetiError


class SmsNotSent(KibetiError):
    """Africa's Talking refused a recipient. `retryable` says whether trying again may help."""

    code = "sms_not_sent"

    def __init__(self, message: str, *, status_code: int, retryable: bool) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retryable = retryable


class SmsNotConfigured(KibetiError):
    code = "sms_not_configured"
