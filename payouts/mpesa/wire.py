"""Daraja wire helpers: MSISDNs, STK passwords, defensive result parsing, redaction.

Parsing follows PROTOCOLS.md 1.3: ResultCode normalised with str(), ResultParameter as a dict or a
list, values of mixed types, Value sometimes missing.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from payouts.mpesa.errors import InvalidMsisdn

EAT = timezone(timedelta(hours=3), "EAT")
_MSISDN = re.compile(r"^254[17]\d{8}$")
REDACTED = "***"
SECRET_FIELDS = frozenset(
    {"SecurityCredential", "Password", "access_token", "Authorization", "authorization"}
)


def to_msisdn(phone: str) -> str:
    """A Kenyan mobile number in any usual form -> Daraja's 12-digit MSISDN 2547XXXXXXXX / 2541XXXXXXXX."""
    digits = re.sub(r"[\s\-()]", "", phone)
    if digits.startswith("+"):
        digits = digits[1:]
    if digits.startswith("0") and len(digits) == 10:
        digits = "254" + digits[1:]
    elif len(digits) == 9 and digits[0] in "17":
        digits = "254" + digits
    if not _MSISDN.match(digits):
        raise InvalidMsisdn(f"{phone!r} is not a Kenyan mobile number (2547XXXXXXXX or 2541XXXXXXXX)")
    return digits


def stk_timestamp(now: datetime) -> str:
    """YYYYMMDDHHmmss in Nairobi time; generate once and use for Password and Timestamp alike."""
    return now.astimezone(EAT).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode()


def redact(value: Any, *, hide: str = "") -> Any:
    """A deep copy with secrets replaced, and `hide` (the callback path token inside every callback
    URL) masked wherever it appears; safe to store in the API-call audit table."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if k in SECRET_FIELDS else redact(v, hide=hide)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, hide=hide) for v in value]
    if hide and isinstance(value, str) and hide in value:
        return value.replace(hide, REDACTED)
    return value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def key_values(container: Any, *, list_key: str, name_key: str) -> dict[str, Any]:
    """{"ResultParameter": [{"Key":..,"Value":..}]} (or a bare dict) -> {Key: Value}."""
    if not isinstance(container, Mapping):
        return {}
    out: dict[str, Any] = {}
    for item in _as_list(container.get(list_key)):
        if isinstance(item, Mapping) and name_key in item:
            out[str(item[name_key])] = item.get("Value")
    return out


def to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


class MalformedCallback(ValueError):
    """A callback body missing what we need to process it (recorded and flagged, never a crash)."""


@dataclass(frozen=True)
class B2CResult:
    """A B2C / Transaction Status / Account Balance result callback, parsed."""

    result_code: str
    result_desc: str
    originator_conversation_id: str
    conversation_id: str
    transaction_id: str
    result_type: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"

    @property
    def amount(self) -> Decimal | None:
        return to_decimal(self.parameters.get("TransactionAmount", self.parameters.get("Amount")))


def parse_result(body: Any) -> B2CResult:
    if not isinstance(body, Mapping) or not isinstance(body.get("Result"), Mapping):
        raise MalformedCallback("missing Result object")
    result = body["Result"]
    if "ResultCode" not in result:
        raise MalformedCallback("missing Result.ResultCode")
    ocid = str(result.get("OriginatorConversationID") or "")
    params = key_values(result.get("ResultParameters"), list_key="ResultParameter", name_key="Key")
    if not ocid:
        ocid = str(params.get("OriginatorConversationID") or "")
    return B2CResult(
        result_code=str(result["ResultCode"]).strip(),
        result_desc=str(result.get("ResultDesc") or ""),
        originator_conversation_id=ocid,
        conversation_id=str(result.get("ConversationID") or ""),
        transaction_id=str(result.get("TransactionID") or ""),
        result_type=str(result.get("ResultType", "0")),
        parameters=params,
    )


@dataclass(frozen=True)
class StkCallback:
    merchant_request_id: str
    checkout_request_id: str
    result_code: str
    result_desc: str
    items: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.result_code == "0"

    @property
    def amount(self) -> Decimal | None:
        return to_decimal(self.items.get("Amount"))

    @property
    def receipt(self) -> str:
        return str(self.items.get("MpesaReceiptNumber") or "")

    @property
    def phone(self) -> str:
        value = self.items.get("PhoneNumber")
        return "" if value is None else str(value).strip()


def parse_stk_callback(body: Any) -> StkCallback:
    outer = body.get("Body") if isinstance(body, Mapping) else None
    stk = outer.get("stkCallback") if isinstance(outer, Mapping) else None
    if not isinstance(stk, Mapping):
        raise MalformedCallback("missing Body.stkCallback object")
    if not stk.get("CheckoutRequestID") or "ResultCode" not in stk:
        raise MalformedCallback("missing CheckoutRequestID or ResultCode")
    return StkCallback(
        merchant_request_id=str(stk.get("MerchantRequestID") or ""),
        checkout_request_id=str(stk["CheckoutRequestID"]),
        result_code=str(stk["ResultCode"]).strip(),
        result_desc=str(stk.get("ResultDesc") or ""),
        items=key_values(stk.get("CallbackMetadata"), list_key="Item", name_key="Name"),
    )


@dataclass(frozen=True)
class BalanceLine:
    name: str
    currency: str
    available: Decimal


def parse_account_balance(text: str) -> list[BalanceLine]:
    """ "Working Account|KES|700000.00|700000.00|0.00|0.00&Utility Account|KES|228037.00|..." -> lines."""
    lines = []
    for part in str(text).split("&"):
        fields = part.split("|")
        if len(fields) >= 3:
            amount = to_decimal(fields[2])
            if amount is not None:
                lines.append(BalanceLine(fields[0].strip(), fields[1].strip(), amount))
    return lines
