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
"""

from __future__ import annotations

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
