"""Errors the customer use cases raise. Channels translate them by `code` (``error.<code>``)."""

from __future__ import annotations

from core.errors import KibetiError


class ServiceUnavailable(KibetiError):
    """A part the use case needs is not wired or not built yet (`missing` names it, for the logs)."""

    code = "service_unavailable"

    def __init__(self, missing: str) -> None:
        super().__init__(f"service unavailable: {missing}")
        self.missing = missing


class NotRegistered(KibetiError):
    code = "not_registered"


class AlreadyRegistered(KibetiError):
    code = "phone_taken"


class InvalidName(KibetiError, ValueError):
    code = "invalid_name"


class InvalidNationalId(KibetiError, ValueError):
    code = "invalid_national_id"


class SelfSend(KibetiError, ValueError):
    code = "self_send"


class Refused(KibetiError):
    """The compliance gate said no (or review); `reason_code` is the gate's."""

    code = "compliance_denied"

    def __init__(self, reason_code: str, *, review: bool = False) -> None:
        super().__init__(reason_code or "denied")
        self.reason_code = reason_code
        if review:
            self.code = "compliance_review"
