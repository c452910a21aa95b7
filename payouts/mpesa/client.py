"""Async Daraja client (httpx). Every call is audited with secrets redacted.

Errors map onto payouts.mpesa.errors: a refused token is refreshed once (compare-and-invalidate, so
one worker's refresh never fights another's); spike arrest raises DarajaBusy for the caller to back
off; a connect failure is DarajaUnavailable (never sent). Only a documented "not processed" error
code is DarajaRejected; a read timeout (DarajaTimeout), a 5xx without a Daraja error body, an unknown
code or an unreadable answer is DarajaOutcomeUnknown: Daraja may have acted on it (`error_class`).
"""

from __future__ import annotations

import base64
import functools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from core.clock import Clock, SystemClock
from payouts.mpesa import errors, wire
from payouts.mpesa.credentials import security_credential


@dataclass(frozen=True)
class DarajaConfig:
    base_url: str
    consumer_key: str
    consumer_secret: str
    shortcode: str  # B2C / STK shortcode (PartyA, BusinessShortCode)
    passkey: str
    initiator_name: str
    initiator_password: str
    certificate_pem: bytes
    callback_base_url: str
    callback_token: str
    timeout_s: float = 30.0
    # Daraja refuses callback URLs containing "mpesa" (and "query", "sql", ...): a neutral prefix
    callback_prefix: str = "cb"

    def callback(self, name: str) -> str:
        return f"{self.callback_base_url.rstrip('/')}/{self.callback_prefix}/{self.callback_token}/{name}"


@dataclass(frozen=True)
class ApiCall:
    """One request/response, already redacted, for the audit table. `call_id` names this call: its
    audit row is written at most once however often the write is retried (payouts.adapter)."""

    api: str
    path: str
    request: dict[str, Any]
    http_status: int
    response: Any
    error: str
    duration_ms: int
    reference: str
    call_id: str = field(default_factory=lambda: uuid.uuid4().hex)


AuditSink = Callable[[ApiCall], Awaitable[None]]


class TokenCache(Protocol):
    async def get(self) -> str: ...

    async def invalidate(self, token: str) -> None: ...


@dataclass(frozen=True)
class Accepted:
    """A synchronous acceptance (B2C, B2B, status, balance): nothing has happened yet."""

    conversation_id: str
    originator_conversation_id: str
    response_code: str
    response_description: str


@dataclass(frozen=True)
class StkAccepted:
    merchant_request_id: str
    checkout_request_id: str
    response_code: str
    customer_message: str


@dataclass(frozen=True)
class StkStatus:
    checkout_request_id: str
    result_code: str
    result_desc: str


async def fetch_token(
    http: httpx.AsyncClient, config: DarajaConfig, audit: AuditSink | None = None
) -> tuple[str, int]:
    basic = base64.b64encode(f"{config.consumer_key}:{config.consumer_secret}".encode()).decode()
    started, status, payload, error = time.perf_counter(), 0, None, ""
    try:
        response = await http.get(
            f"{config.base_url.rstrip('/')}/oauth/v1/generate",
            params={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
            timeout=config.timeout_s,
        )
        status = response.status_code
        payload = response.json() if response.content else None
    except (httpx.HTTPError, ValueError) as exc:
        error = repr(exc)
        raise errors.DarajaUnavailable(f"OAuth: no token from Daraja ({exc!r})") from exc
    finally:
        if audit is not None:
            elapsed = int((time.perf_counter() - started) * 1000)
            await audit(
                ApiCall("oauth", "/oauth/v1/generate", {}, status, wire.redact(payload), error, elapsed, "")
            )
    if status != 200 or not isinstance(payload, dict) or "access_token" not in payload:
        raise errors.DarajaAuthError(f"OAuth refused: HTTP {status}", http_status=status)
    return str(payload["access_token"]), int(payload.get("expires_in", 3599))


class DarajaClient:
    def __init__(
        self,
        config: DarajaConfig,
        *,
        http: httpx.AsyncClient,
        tokens: TokenCache,
        audit: AuditSink | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self._http = http
        self._tokens = tokens
        self._audit = audit
        self._clock = clock or SystemClock()  # the runtime's (payouts.adapter); the system's standalone

    @property
    def credential(self) -> str:
        return process_credential(self.config.initiator_password, self.config.certificate_pem)

    async def ready(self) -> None:
        """Have the OAuth token (fetched and audited if none is cached) and the credential in hand, so
        that a request sent right after this goes out without first waiting on another round trip."""
        await self._tokens.get()
        _ = self.credential

    # -- transport -------------------------------------------------------------------------------

    async def _post(
        self, api: str, path: str, body: dict[str, Any], *, reference: str = ""
    ) -> dict[str, Any]:
        for attempt in range(2):
            token = await self._tokens.get()
            try:
                return await self._post_once(api, path, body, token=token, reference=reference)
            except errors.DarajaAuthError:
                await self._tokens.invalidate(token)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _post_once(
        self, api: str, path: str, body: dict[str, Any], *, token: str, reference: str
    ) -> dict[str, Any]:
        started = time.perf_counter()
        status, payload, error = 0, None, ""
        try:
            response = await self._http.post(
                f"{self.config.base_url.rstrip('/')}{path}",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.config.timeout_s,
            )
            status = response.status_code
            try:
                payload = response.json()
            except ValueError:
                payload = {"raw": response.text[:2000]}
                error = "unreadable answer"
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            error = f"unavailable: {exc!r}"
            raise errors.DarajaUnavailable(f"{api}: Daraja unreachable ({exc!r})") from exc
        except httpx.HTTPError as exc:
            error = f"timeout: {exc!r}"
            raise errors.DarajaTimeout(f"{api}: no answer from Daraja ({exc!r})") from exc
        finally:
            await self._record(api, path, body, status, payload, error, started, reference)
        if status >= 400 or not isinstance(payload, dict) or "errorCode" in payload or error:
            raise _error_from(api, status, payload, readable=not error)
        if str(payload.get("ResponseCode", "0")).strip() != "0":
            raise errors.DarajaOutcomeUnknown(
                f"{api}: HTTP {status} with ResponseCode {payload.get('ResponseCode')!r}", http_status=status
            )
        return payload

    async def _record(
        self,
        api: str,
        path: str,
        body: dict[str, Any],
        status: int,
        payload: Any,
        error: str,
        started: float,
        reference: str,
    ) -> None:
        if self._audit is None:
            return
        call = ApiCall(
            api=api,
            path=path,
            request=wire.redact(body, hide=self.config.callback_token),
            http_status=status,
            response=wire.redact(payload, hide=self.config.callback_token),
            error=error,
            duration_ms=int((time.perf_counter() - started) * 1000),
            reference=reference,
        )
        await self._audit(call)

    # -- APIs ------------------------------------------------------------------------------------

    async def stk_push(
        self, *, phone: str, amount: int, account_reference: str, description: str = "Payment"
    ) -> StkAccepted:
        timestamp = wire.stk_timestamp(self._clock.now())
        msisdn = wire.to_msisdn(phone)
        body = {
            "BusinessShortCode": self.config.shortcode,
            "Password": wire.stk_password(self.config.shortcode, self.config.passkey, timestamp),
            "Timestamp": timestamp,
            "TransactionType": "CustomerPayBillOnline",
            "Amount": _whole(amount),
            "PartyA": msisdn,
            "PartyB": self.config.shortcode,
            "PhoneNumber": msisdn,
            "CallBackURL": self.config.callback("stk"),
            "AccountReference": account_reference[:12],
            "TransactionDesc": description[:13],
        }
        out = await self._post(
            "stk_push", "/mpesa/stkpush/v1/processrequest", body, reference=account_reference
        )
        return StkAccepted(
            merchant_request_id=str(out.get("MerchantRequestID", "")),
            checkout_request_id=str(out["CheckoutRequestID"]),
            response_code=str(out.get("ResponseCode", "")),
            customer_message=str(out.get("CustomerMessage", "")),
        )

    async def stk_query(self, *, checkout_request_id: str) -> StkStatus:
        timestamp = wire.stk_timestamp(self._clock.now())
        body = {
            "BusinessShortCode": self.config.shortcode,
            "Password": wire.stk_password(self.config.shortcode, self.config.passkey, timestamp),
            "Timestamp": timestamp,
            "CheckoutRequestID": checkout_request_id,
        }
        out = await self._post(
            "stk_query", "/mpesa/stkpushquery/v1/query", body, reference=checkout_request_id
        )
        return StkStatus(
            checkout_request_id=checkout_request_id,
            result_code=str(out.get("ResultCode", "")).strip(),
            result_desc=str(out.get("ResultDesc", "")),
        )

    async def b2c_payment(
        self,
        *,
        originator_conversation_id: str,
        phone: str,
        amount: int,
        remarks: str,
        occasion: str = "",
        command_id: str = "BusinessPayment",
    ) -> Accepted:
        body: dict[str, Any] = {
            "OriginatorConversationID": originator_conversation_id,
            "InitiatorName": self.config.initiator_name,
            "SecurityCredential": self.credential,
            "CommandID": command_id,
            "Amount": _whole(amount),
            "PartyA": self.config.shortcode,
            "PartyB": wire.to_msisdn(phone),
            "Remarks": (remarks or "payout")[:100].ljust(2, "."),
            "QueueTimeOutURL": self.config.callback("b2c/timeout"),
            "ResultURL": self.config.callback("b2c/result"),
        }
        if occasion:
            body["Occassion"] = occasion[:100]
        out = await self._post(
            "b2c", "/mpesa/b2c/v3/paymentrequest", body, reference=originator_conversation_id
        )
        return _accepted(out, originator_conversation_id)

    async def b2b_payment(
        self,
        *,
        originator_conversation_id: str,
        receiver_shortcode: str,
        receiver_kind: str,
        amount: int,
        account_reference: str,
        remarks: str,
    ) -> Accepted:
        """Merchant settlement to a till (BusinessBuyGoods) or a paybill (BusinessPayBill)."""
        till = receiver_kind == "till"
        body = {
            "Initiator": self.config.initiator_name,
            "SecurityCredential": self.credential,
            "CommandID": "BusinessBuyGoods" if till else "BusinessPayBill",
            "SenderIdentifierType": "4",
            "RecieverIdentifierType": "2" if till else "4",
            "Amount": _whole(amount),
            "PartyA": self.config.shortcode,
            "PartyB": receiver_shortcode,
            "AccountReference": account_reference[:13],
            "Remarks": (remarks or "settlement")[:100],
            "QueueTimeOutURL": self.config.callback("b2b/timeout"),
            "ResultURL": self.config.callback("b2b/result"),
            "OriginatorConversationID": originator_conversation_id,
        }
        out = await self._post(
            "b2b", "/mpesa/b2b/v1/paymentrequest", body, reference=originator_conversation_id
        )
        return _accepted(out, originator_conversation_id)

    async def c2b_register(self, *, response_type: str = "Completed") -> dict[str, Any]:
        body = {
            "ShortCode": self.config.shortcode,
            "ResponseType": response_type,
            "ConfirmationURL": self.config.callback("c2b/confirmation"),
            "ValidationURL": self.config.callback("c2b/validation"),
        }
        return await self._post("c2b_register", "/mpesa/c2b/v1/registerurl", body)

    async def transaction_status(
        self, *, originator_conversation_id: str = "", transaction_id: str = "", remarks: str = "status"
    ) -> Accepted:
        if not (originator_conversation_id or transaction_id):
            raise ValueError("give the OriginatorConversationID or the M-Pesa receipt")
        body = {
            "Initiator": self.config.initiator_name,
            "SecurityCredential": self.credential,
            "CommandID": "TransactionStatusQuery",
            "TransactionID": transaction_id,
            "OriginalConversationID": originator_conversation_id,
            "PartyA": self.config.shortcode,
            "IdentifierType": "4",
            "ResultURL": self.config.callback("status/result"),
            "QueueTimeOutURL": self.config.callback("status/timeout"),
            "Remarks": remarks,
            "Occasion": remarks,
        }
        ref = originator_conversation_id or transaction_id
        out = await self._post("transaction_status", "/mpesa/transactionstatus/v1/query", body, reference=ref)
        return _accepted(out, str(out.get("OriginatorConversationID", "")))

    async def account_balance(self, *, remarks: str = "balance") -> Accepted:
        body = {
            "Initiator": self.config.initiator_name,
            "SecurityCredential": self.credential,
            "CommandID": "AccountBalance",
            "PartyA": self.config.shortcode,
            "IdentifierType": "4",
            "Remarks": remarks,
            "QueueTimeOutURL": self.config.callback("balance/timeout"),
            "ResultURL": self.config.callback("balance/result"),
        }
        out = await self._post("account_balance", "/mpesa/accountbalance/v1/query", body)
        return _accepted(out, str(out.get("OriginatorConversationID", "")))


@functools.lru_cache(maxsize=8)
def process_credential(initiator_password: str, certificate_pem: bytes) -> str:
    """The SecurityCredential, encrypted once per process (an RSA encryption, ~2.5 ms) and sent with
    every request, as Daraja expects. A forking worker computes it before forking
    (payouts.worker), so its work-horses inherit it instead of encrypting once per job."""
    return security_credential(initiator_password, certificate_pem)


def _whole(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("Daraja amounts are whole shillings (int)")
    return amount


def _accepted(out: dict[str, Any], ocid: str) -> Accepted:
    return Accepted(
        conversation_id=str(out.get("ConversationID", "")),
        originator_conversation_id=str(out.get("OriginatorConversationID", ocid)),
        response_code=str(out.get("ResponseCode", "")),
        response_description=str(out.get("ResponseDescription", "")),
    )


def error_class(api: str, status: int, code: str, message: str) -> type[errors.DarajaError]:
    """What a synchronous Daraja error means. Only a documented "not processed" answer is a
    rejection; anything Daraja may have acted on (a bare 5xx, an unknown code) is an unknown outcome."""
    if code in errors.BUSY_CODES or status == 429:
        return errors.DarajaBusy
    if code in errors.AUTH_CODES or status == 401:
        return errors.DarajaAuthError
    if code in errors.DUPLICATE_CODES:
        return errors.DuplicateOriginatorConversationID
    if api == "stk_query" and "being processed" in message.lower():
        return errors.StkPending
    if code in errors.REJECTED_CODES:
        return errors.DarajaRejected
    return errors.DarajaOutcomeUnknown


def _error_from(api: str, status: int, payload: Any, *, readable: bool = True) -> errors.DarajaError:
    body = payload if isinstance(payload, dict) and readable else {}
    code = str(body.get("errorCode", ""))
    message = str(body.get("errorMessage", "")) or f"HTTP {status}"
    cls = error_class(api, status, code, message)
    return cls(
        f"{api}: {code} {message}".strip(),
        http_status=status,
        error_code=code,
        request_id=str(body.get("requestId", "")),
    )
