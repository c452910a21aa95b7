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
        self.upstream_status = http_status  # what Daraja answered (0: no answer)
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


class DarajaOutcomeUnknown(DarajaError):
    """Daraja may have acted on the request: a 5xx without a Daraja error body, an error code that
    does not say "not processed", an unreadable answer. Never a failure: a status query decides."""

    code = "mpesa_outcome_unknown"


class DarajaTimeout(DarajaOutcomeUnknown):
    """The request may or may not have reached Daraja (read timeout, connection lost after sending)."""

    code = "mpesa_timeout"


class DarajaRejected(DarajaError):
    """A documented Daraja refusal: the request was not processed (a bad field, a wrong endpoint,
    STK's merchant/credentials/subscriber-lock refusal). The only error that may release funds."""

    code = "mpesa_rejected"


class StkPending(DarajaError):
    """STK query: the customer has not answered yet ("The transaction is being processed")."""

    code = "mpesa_stk_pending"


class InvalidMsisdn(KibetiError, ValueError):
    code = "invalid_msisdn"


# errorCode -> meaning, for the synchronous error envelope (PROTOCOLS.md 1.0, 1.5). Codes not listed,
# and any 5xx without one, leave the outcome unknown.
BUSY_CODES = frozenset({"500.003.02", "500.003.03"})
REJECTED_CODES = frozenset(
    {
        "400.002.02",  # Bad Request - Invalid <field>
        "400.002.05",  # Invalid Request Payload
        "404.001.01",  # wrong endpoint
        "404.002.01",
        "404.003.01",
        "405.001",  # not a POST
        "400.008.01",  # OAuth: not Basic
        "400.008.02",  # OAuth: bad grant_type
        "500.001.1001",  # STK: merchant does not exist / wrong credentials / unable to lock subscriber
    }
)
AUTH_CODES = frozenset({"401.002.01", "404.001.03", "400.003.01", "404.001.04"})
DUPLICATE_CODES = frozenset({"500.002.1001"})
