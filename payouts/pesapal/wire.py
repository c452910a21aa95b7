"""PesaPal API 3.0 wire format: paths, status codes and redaction (field names exactly as PesaPal's).

    POST Auth/RequestToken      {consumer_key, consumer_secret} -> {token, expiryDate, error, status, message}
    POST URLSetup/RegisterIPN   {url, ipn_notification_type: GET|POST} -> {url, created_date, ipn_id, ...}
    GET  URLSetup/GetIpnList         -> [{url, created_date, ipn_id, ...}]
    POST Transactions/SubmitOrderRequest  {id, currency, amount, description, callback_url,
         notification_id, billing_address{phone_number, country_code, ...}}
         -> {order_tracking_id, merchant_reference, redirect_url, error, status}
    GET  Transactions/GetTransactionStatus?orderTrackingId=  -> {payment_method, amount, created_date,
         confirmation_code, payment_status_description, description, message, payment_account,
         call_back_url, status_code, merchant_reference, currency, error, status}
    POST Transactions/RefundRequest  {confirmation_code, amount, username, remarks} -> {status, message}
    POST Transactions/CancelOrder    {order_tracking_id} -> {status, message}
    IPN (GET query or POST JSON)     OrderTrackingId, OrderMerchantReference, OrderNotificationType;
         answered {orderNotificationType, orderTrackingId, orderMerchantReference, status: 200|500}

`status` in bodies is a string ("200"); `status_code` of a transaction: 0 INVALID, 1 COMPLETED,
2 FAILED, 3 REVERSED.

Errors come in the body, often with HTTP 200: {"error": {"error_type", "code", "message"}, "status":
"500"}. PesaPal publishes no list of codes, and its Refund Request documents status "500" only as
"Refund rejected ... refer to the error message", which a failure inside PesaPal wears too. So a
RefundRequest's answer is read by `refund_answer`: accepted only with status "200", no error at all
and no word of rejection in its message; a refusal (nothing was done) only when the error's code is
one in REFUND_REFUSALS, each naming a request PesaPal could not act on, or its error_type is an
authentication error with no code or an auth code; any other code (refund_failed whatever its
error_type), no code, a 5xx, a status "200" with an error or saying rejected, or a body we cannot
read is unknown (the money stays held; the transaction's status decides). A code seen from the real
PesaPal that surely means "not done" is added here, with where it was seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.ports import CollectionState

REQUEST_TOKEN = "/api/Auth/RequestToken"  # noqa: S105 - a path
REGISTER_IPN = "/api/URLSetup/RegisterIPN"
IPN_LIST = "/api/URLSetup/GetIpnList"
SUBMIT_ORDER = "/api/Transactions/SubmitOrderRequest"
TRANSACTION_STATUS = "/api/Transactions/GetTransactionStatus"
REFUND = "/api/Transactions/RefundRequest"
CANCEL = "/api/Transactions/CancelOrder"

INVALID, COMPLETED, FAILED, REVERSED = 0, 1, 2, 3
STATE_BY_CODE = {
    INVALID: CollectionState.PENDING,
    COMPLETED: CollectionState.COMPLETED,
    FAILED: CollectionState.FAILED,
    REVERSED: CollectionState.REVERSED,
}
DESCRIPTION_BY_CODE = {INVALID: "INVALID", COMPLETED: "COMPLETED", FAILED: "FAILED", REVERSED: "REVERSED"}
STATE_BY_DESCRIPTION = {v: STATE_BY_CODE[k] for k, v in DESCRIPTION_BY_CODE.items()}

NOTIFICATION_IPN = "IPNCHANGE"
NOTIFICATION_CALLBACK = "CALLBACKURL"
SECRET_FIELDS = ("consumer_key", "consumer_secret", "token")
MERCHANT_REFERENCE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:")
MERCHANT_REFERENCE_MAX = 50


def redact(value: Any) -> Any:
    """A copy with secrets (credentials, bearer token) replaced, for the stored call."""
    if isinstance(value, dict):
        return {k: ("***" if k in SECRET_FIELDS and v else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def state_of(body: dict[str, Any]) -> CollectionState:
    """A transaction's state from its status_code, else its description; unknown is pending."""
    code = body.get("status_code")
    if isinstance(code, int) and code in STATE_BY_CODE:
        return STATE_BY_CODE[code]
    description = str(body.get("payment_status_description") or "").upper()
    return STATE_BY_DESCRIPTION.get(description, CollectionState.PENDING)


def ipn_answer(
    *, notification_type: str, tracking_id: str, merchant_reference: str, ok: bool
) -> dict[str, Any]:
    """What PesaPal expects back from an IPN URL (status 200 received, 500 not)."""
    return {
        "orderNotificationType": notification_type,
        "orderTrackingId": tracking_id,
        "orderMerchantReference": merchant_reference,
        "status": 200 if ok else 500,
    }


def valid_merchant_reference(reference: str) -> bool:
    return 0 < len(reference) <= MERCHANT_REFERENCE_MAX and set(reference) <= MERCHANT_REFERENCE_CHARS


# error_type values that say the request was never acted on (PesaPal's authentication failures):
# counted only when the error's code is empty or itself an auth code (AUTH_REFUSALS); any other code
# under them (e.g. refund_failed) is read by its code, not by its type
REFUSAL_ERROR_TYPES = frozenset({"authentication_error"})
# Codes that say PesaPal did not act on a RefundRequest, one per reason (the simulator answers with
# these; PesaPal's Refund Request rules in brackets). Anything else is an unknown outcome.
REFUND_REFUSALS: dict[str, str] = {
    "invalid_api_credentials_provided": "our credentials were refused: nothing was looked at",
    "invalid_consumer_key_or_secret_provided": "our credentials were refused: nothing was looked at",
    "invalid_access_token": "our token was refused: nothing was looked at",
    "invalid_token": "our token was refused: nothing was looked at",
    "invalid_confirmation_code": "no payment has this confirmation code",
    "payment_not_completed": "only a COMPLETED payment can be refunded",
    "invalid_refund_amount": "zero, or more than was collected",
    "partial_refund_not_allowed": "a mobile-money payment is refunded in full only",
    "refund_already_requested": "one refund per payment: one was requested or made already",
}
# the codes above that refuse our credentials or token (nothing was looked at)
AUTH_REFUSALS = frozenset(
    {
        "invalid_api_credentials_provided",
        "invalid_consumer_key_or_secret_provided",
        "invalid_access_token",
        "invalid_token",
    }
)
# words in an answer's text that say the request was not taken: never read as accepted
REJECTION_WORDS = ("reject", "declin", "fail", "refus", "denied", "not allowed", "unsuccessful")
ACCEPTED, REFUSED, UNKNOWN = "accepted", "refused", "unknown"


@dataclass(frozen=True)
class RefundAnswer:
    outcome: str  # ACCEPTED | REFUSED | UNKNOWN
    said: str  # for the refund's outcome and staff: the code and PesaPal's message, or why unknown
    code: str = ""  # PesaPal's error code, when it gave one


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _empty(error: Any) -> bool:
    """No error at all: absent, null, "", {} or an object whose fields are all empty."""
    if isinstance(error, dict):
        return not any(
            v not in (None, "") and not (isinstance(v, str) and not v.strip()) for v in error.values()
        )
    return error is None or (isinstance(error, (str, list)) and not error)


def _says_rejected(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in REJECTION_WORDS)


def refund_answer(http_status: int, body: Any) -> RefundAnswer:
    """What a RefundRequest's HTTP status and (decoded) body say: accepted (HTTP 2xx, status "200",
    no error at all and no word of rejection in its message), refused (a code in REFUND_REFUSALS, or
    an authentication_error whose code is empty or an auth code, with a status other than "200",
    below HTTP 500), or unknown (everything else: the money stays held, the status decides)."""
    if http_status >= 500:
        return RefundAnswer(UNKNOWN, f"HTTP {http_status}: PesaPal may have acted before failing")
    if not isinstance(body, dict):
        return RefundAnswer(UNKNOWN, f"HTTP {http_status}: unreadable answer {body!r:.120}")
    status = str(body.get("status", "")).strip()
    error = body.get("error")
    said_text = _text(body.get("message"))
    if _empty(error) and status == "200" and 200 <= http_status < 300:
        if not _says_rejected(said_text):
            return RefundAnswer(ACCEPTED, said_text or "accepted")
        return RefundAnswer(UNKNOWN, f"HTTP {http_status} status '200' but it says: {said_text:.160}")
    if error is not None and not isinstance(error, dict):
        shown = error if isinstance(error, str) else repr(error)
        return RefundAnswer(
            UNKNOWN, f"HTTP {http_status} status {status!r}: error without a code: {shown:.120}"
        )
    error = error or {}
    code, kind, message = (
        _text(error.get("code")),
        _text(error.get("error_type")),
        _text(error.get("message")),
    )
    said = ": ".join(x for x in (code, message) if x) or said_text
    refusing = code in REFUND_REFUSALS or (
        kind in REFUSAL_ERROR_TYPES and (not code or code in AUTH_REFUSALS)
    )
    if status != "200" and 200 <= http_status < 500 and refusing:
        return RefundAnswer(REFUSED, f"HTTP {http_status} {said}".strip(), code)
    if code:
        why = f"code {code!r} does not say it was not done"
    else:
        why = "an error with no code" if status == "200" else "no error code"
    return RefundAnswer(
        UNKNOWN, f"HTTP {http_status} status {status!r}, {why}: {said:.160}".rstrip(": "), code
    )
