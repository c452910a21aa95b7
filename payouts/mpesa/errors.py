"""Named Daraja errors, flat. Each carries the Daraja `errorCode` when there is one."""

from __future__ import annotations

from core.errors import KibetiError


class DarajaError(KibetiError):
    """A synchronous Daraja error envelope (HTTP 4xx/5xx) or a transport failure."""

    code = "mpesa_error"

    def __init__(
        self, message: str, *, http_status: int = 0, error_code: str = "", request_id: str = ""
    ) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.error_code = error_code
        self.request_id = request_id


class DarajaBusy(DarajaError):
    """Spike arrest (500.003.02), quota (500.003.03) or system busy: back off and retry."""

    code = "mpesa_busy"


class DarajaAuthError(DarajaError):
    """The access token was refused (expired, or invalidated by a newer one)."""

    code = "mpesa_auth"


class DuplicateOriginatorConversationID(DarajaError):
    """500.002.1001: Daraja already has a request with this OriginatorConversationID."""

    code = "mpesa_duplicate"


class DarajaUnavailable(DarajaError):
    """The request never reached Daraja (connection refused, DNS): safe to send again."""

    code = "mpesa_unavailable"


class DarajaTimeout(DarajaError):
    """The request may or may not have reached Daraja: the outcome is unknown."""

    code = "mpesa_timeout"


class StkPending(DarajaError):
    """STK query: the customer has not answered yet ("The transaction is being processed")."""

    code = "mpesa_stk_pending"


class InvalidMsisdn(KibetiError, ValueError):
    code = "invalid_msisdn"


BUSY_CODES = frozenset({"500.003.02", "500.003.03"})
AUTH_CODES = frozenset({"401.002.01", "404.001.03", "400.003.01", "404.001.04"})
DUPLICATE_CODES = frozenset({"500.002.1001"})
