"""Async PesaPal API 3.0 client (httpx). Every call is stored (secrets redacted) through the audit
sink, as Daraja calls are.

The bearer token lives 5 minutes: it is cached (shared by workers through Redis, payouts.mpesa.token)
and a refused one is dropped and fetched again once. A connect failure, a timeout or a 5xx without
PesaPal's error body is RailUnavailable (the job runs again; every call here is safe to repeat: a
repeated SubmitOrderRequest carries the same merchant reference); an error body is RailRefused. A
RefundRequest moves money and is never repeated blindly: its answer is classified by PesaPal's error
code (wire.refund_answer): a refusal only for a code that says nothing was done, anything else
RailOutcomeUnknown. Amounts are read as Decimal, never float.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx

from core.clock import Clock, SystemClock
from core.rails.errors import RailAnswerUnreadable, RailOutcomeUnknown, RailRefused, RailUnavailable
from payouts.mpesa.client import ApiCall, AuditSink, TokenCache
from payouts.pesapal import wire

TOKEN_SECONDS = 300  # PesaPal's tokens live five minutes


@dataclass(frozen=True)
class PesapalConfig:
    base_url: str  # .../v3 (live), .../pesapalv3 (sandbox) or the simulator
    consumer_key: str
    consumer_secret: str
    timeout_s: float = 30.0


@dataclass(frozen=True)
class SubmittedOrder:
    order_tracking_id: str
    merchant_reference: str
    redirect_url: str


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    return json.loads(response.content, parse_float=Decimal)


def _dumps(body: dict[str, Any]) -> str:
    """JSON with Decimal amounts written as exact JSON numbers (PesaPal's `amount` is a number)."""
    numbers: list[str] = []

    def number(value: Any) -> str:
        if isinstance(value, Decimal):
            numbers.append(str(value))
            return f"__decimal_{len(numbers) - 1}__"
        raise TypeError(f"not JSON: {type(value).__name__}")

    text = json.dumps(body, default=number)
    for index, value in enumerate(numbers):
        text = text.replace(f'"__decimal_{index}__"', value)
    return text


def _error_of(body: Any) -> str:
    """PesaPal's error envelope ({"error": {"code", "message"}, "status": "500"}) as text, or ""."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error")
    if isinstance(error, dict) and (error.get("code") or error.get("message")):
        return f"{error.get('code') or ''}: {error.get('message') or ''}".strip(": ")
    if isinstance(error, str) and error:
        return error
    return ""


def _jsonable(value: Any) -> Any:
    """For the JSON column: Decimal amounts as their exact text."""
    return json.loads(json.dumps(value, default=str))


async def _record(audit: AuditSink | None, api: str, path: str, request: Any, status: int, body: Any,
                  error: str, started: float, reference: str) -> None:  # fmt: skip
    if audit is None:
        return
    elapsed = int((time.perf_counter() - started) * 1000)
    payload = _jsonable(wire.redact(body)) if body is not None else None
    request_body = _jsonable(wire.redact(request) if isinstance(request, dict) else {"params": request})
    await audit(
        ApiCall(f"pesapal_{api}", path, request_body, status, payload, error, elapsed, reference[:64])
    )


async def fetch_token(
    http: httpx.AsyncClient,
    config: PesapalConfig,
    audit: AuditSink | None = None,
    *,
    clock: Clock | None = None,
) -> tuple[str, int]:
    """A token and its lifetime in seconds, counted from `clock`'s now (the runtime's, from the
    adapter; the system's when not given)."""
    body = {"consumer_key": config.consumer_key, "consumer_secret": config.consumer_secret}
    started, status, payload, error = time.perf_counter(), 0, None, ""
    try:
        response = await http.post(
            config.base_url.rstrip("/") + wire.REQUEST_TOKEN, json=body, timeout=config.timeout_s,
            headers={"Accept": "application/json"},
        )  # fmt: skip
        status, payload = response.status_code, _decode(response)
    except (httpx.HTTPError, ValueError) as exc:
        error = repr(exc)
        raise RailUnavailable(f"PesaPal RequestToken: no answer ({exc!r})") from exc
    finally:
        await _record(audit, "token", wire.REQUEST_TOKEN, body, status, payload, error, started, "")
    if status != 200 or not isinstance(payload, dict) or not payload.get("token"):
        raise RailUnavailable(f"PesaPal refused the credentials: HTTP {status} {_error_of(payload)}")
    return str(payload["token"]), _expires_in(payload.get("expiryDate"), (clock or SystemClock()).now())


def _expires_in(expiry: Any, now: datetime) -> int:
    try:
        when = datetime.fromisoformat(str(expiry).replace("Z", "+00:00"))
    except ValueError:
        return TOKEN_SECONDS
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(1, min(TOKEN_SECONDS, int((when - now).total_seconds())))


class PesapalClient:
    def __init__(
        self,
        config: PesapalConfig,
        *,
        http: httpx.AsyncClient,
        tokens: TokenCache,
        audit: AuditSink | None = None,
    ) -> None:
        self.config = config
        self._http = http
        self._tokens = tokens
        self._audit = audit

    async def _exchange(
        self, api: str, method: str, path: str, *, body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None, reference: str = "",
    ) -> tuple[int, Any]:  # fmt: skip
        """One call (a refused token fetched again once): PesaPal's HTTP status and decoded body,
        stored through the audit sink. RailUnavailable when there was no readable answer."""
        for attempt in (1, 2):
            token = await self._tokens.get()
            started, status, payload, error = time.perf_counter(), 0, None, ""
            try:
                response = await self._http.request(
                    method, self.config.base_url.rstrip("/") + path, params=params,
                    content=_dumps(body) if body is not None else None,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                             "Content-Type": "application/json"},
                    timeout=self.config.timeout_s,
                )  # fmt: skip
                status = response.status_code
                payload = _decode(response)
            except (httpx.HTTPError, ValueError) as exc:
                error = repr(exc)
                raise RailUnavailable(f"PesaPal {api}: no answer ({exc!r})") from exc
            finally:
                await _record(
                    self._audit, api, path, body or params or {}, status, payload, error, started, reference
                )
            if status == 401 and attempt == 1:  # the token expired early or was revoked: once more
                await self._tokens.invalidate(token)
                continue
            return status, payload
        raise RailUnavailable(f"PesaPal {api}: the token was refused twice")

    async def _call(
        self, api: str, method: str, path: str, *, body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None, reference: str = "",
    ) -> Any:  # fmt: skip
        status, payload = await self._exchange(
            api, method, path, body=body, params=params, reference=reference
        )
        problem = _error_of(payload)
        if status >= 500 and not problem:
            raise RailUnavailable(f"PesaPal {api}: HTTP {status}")
        if (
            status >= 400
            or problem
            or (isinstance(payload, dict) and str(payload.get("status", "200")) != "200")
        ):
            raise RailRefused(
                f"PesaPal {api} refused: HTTP {status} {problem}".strip(), provider_http_status=status
            )
        return payload

    async def register_ipn(self, *, url: str, notification_type: str = "GET") -> str:
        body = {"url": url, "ipn_notification_type": notification_type}
        payload = await self._call("register_ipn", "POST", wire.REGISTER_IPN, body=body)
        return str(payload["ipn_id"])

    async def ipn_list(self) -> list[dict[str, Any]]:
        payload = await self._call("ipn_list", "GET", wire.IPN_LIST)
        return [row for row in payload or [] if isinstance(row, dict)]

    async def ensure_ipn(self, *, url: str) -> str:
        """The id of our IPN URL: the registered one (GetIpnList), else a new registration."""
        for row in await self.ipn_list():
            if row.get("url") == url and row.get("ipn_id"):
                return str(row["ipn_id"])
        return await self.register_ipn(url=url)

    async def submit_order(
        self, *, merchant_reference: str, amount: Decimal, currency: str, description: str,
        callback_url: str, notification_id: str, phone: str,
    ) -> SubmittedOrder:  # fmt: skip
        if not wire.valid_merchant_reference(merchant_reference):
            raise RailRefused(f"merchant reference {merchant_reference!r} is not PesaPal-safe")
        local = "0" + phone[4:] if phone.startswith("+254") else phone
        body: dict[str, Any] = {
            "id": merchant_reference,
            "currency": currency,
            "amount": amount,
            "description": description[:100],
            "callback_url": callback_url,
            "notification_id": notification_id,
            "billing_address": {"phone_number": local, "country_code": "KE"},
        }
        payload = await self._call(
            "submit_order", "POST", wire.SUBMIT_ORDER, body=body, reference=merchant_reference
        )
        if not payload.get("order_tracking_id") or not payload.get("redirect_url"):
            raise RailUnavailable("PesaPal SubmitOrderRequest: no order tracking id in the answer")
        return SubmittedOrder(
            str(payload["order_tracking_id"]), str(payload.get("merchant_reference") or ""),
            str(payload["redirect_url"]),
        )  # fmt: skip

    async def transaction_status(self, *, order_tracking_id: str) -> dict[str, Any]:
        payload = await self._call(
            "status", "GET", wire.TRANSACTION_STATUS, params={"orderTrackingId": order_tracking_id},
            reference=order_tracking_id,
        )  # fmt: skip
        if not isinstance(payload, dict):  # PesaPal documents an object: nothing can be read from it
            raise RailAnswerUnreadable(f"PesaPal status: the answer could not be read ({payload!r:.120})")
        return dict(payload)

    async def refund(self, *, confirmation_code: str, amount: Decimal, username: str, remarks: str) -> bool:
        """True when PesaPal accepted the refund request (not made yet: PesaPal makes it once the
        merchant approves it on its dashboard); RailRefused when PesaPal's error code says it did not
        act on it (wire.REFUND_REFUSALS); RailOutcomeUnknown when it may or may not have been taken
        (no answer, a timeout, a 5xx, an error code that does not say "not done", none, an unreadable
        body): never repeated blindly, the transaction's status settles it."""
        body = {
            "confirmation_code": confirmation_code,
            "amount": amount,
            "username": username,
            "remarks": remarks,
        }
        try:
            status, payload = await self._exchange(
                "refund", "POST", wire.REFUND, body=body, reference=confirmation_code
            )
        except RailUnavailable as exc:
            raise RailOutcomeUnknown(f"PesaPal refund: {exc}") from exc
        answer = wire.refund_answer(status, payload)
        if answer.outcome == wire.REFUSED:
            raise RailRefused(
                f"PesaPal refund refused: {answer.said}",
                provider_code=answer.code,
                provider_http_status=status,
            )
        if answer.outcome != wire.ACCEPTED:
            raise RailOutcomeUnknown(f"PesaPal refund: outcome unknown ({answer.said})"[:250])
        return True

    async def cancel_order(self, *, order_tracking_id: str) -> bool:
        body = {"order_tracking_id": order_tracking_id}
        try:
            payload = await self._call("cancel", "POST", wire.CANCEL, body=body, reference=order_tracking_id)
        except RailRefused:  # paid meanwhile, or already cancelled: not cancelled by us
            return False
        return str(payload.get("status")) == "200"
