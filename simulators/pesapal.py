"""A PesaPal API 3.0 simulator: the same JSON as PesaPal, a hosted payment page, IPNs, faults.

It says it is a simulator (the `X-Pesapal-Simulator` header, the page's banner, `GET /`). Endpoints
(relative to where it is mounted: /pesapal-sim on the embedded default):

    POST /api/Auth/RequestToken, POST /api/URLSetup/RegisterIPN, GET /api/URLSetup/GetIpnList,
    POST /api/Transactions/SubmitOrderRequest, GET /api/Transactions/GetTransactionStatus,
    POST /api/Transactions/RefundRequest, POST /api/Transactions/CancelOrder   (PesaPal's wire format)
    GET  /pay/<order_tracking_id>            the hosted page: pay (card or Airtel Money), fail, abandon
    POST /simulator/behaviour                {"ipn": "normal"|"late"|"twice"|"never", "late_s": 3,
                                              "refund": "normal"|"answer_lost"|"request_lost",
                                              "refund_lost_as": "gateway_timeout"|"garbled"|"hang"
                                                                |"error_body",
                                              "refund_error_body": a preset (ERROR_BODIES) or a JSON
                                                                   value sent as it is,
                                              "refund_error_http": 200,
                                              "refund_approval": "instant"|"merchant"}
    POST /simulator/orders/<id>/reverse      a chargeback: REVERSED, and an IPN
    POST /simulator/orders/<id>/approve_refund   the merchant approves the refund awaiting approval:
                                              REVERSED, and an IPN
    POST /simulator/orders/<id>/decline_refund   the merchant declines it: still COMPLETED, no refund
    POST /simulator/orders/<id>/ipn          an IPN now, whatever the status (a hint that says nothing)
    POST /simulator/orders/<id>/disagree     {"amount": "1.00", "currency": "USD"}: what the status reports
    POST /simulator/orders/<id>/status_body  {"body": any JSON}: GetTransactionStatus answers exactly
                                              that (HTTP 200) for the order, e.g. a malformed answer;
                                              {} (no "body") answers as before again
    GET  /simulator/orders                   every order, as the simulator holds it

Status codes as PesaPal's: 0 INVALID (not paid), 1 COMPLETED, 2 FAILED, 3 REVERSED; a refunded payment
is REVERSED ("Reversed", its description naming the refund). A RefundRequest whose answer is lost
(`refund`: answer_lost, the refund made; request_lost, not made) is answered 504 with no body, an
unreadable 200, nothing until `hang_s`, or PesaPal's error body (`refund_lost_as` error_body: the
body `refund_error_body`, a preset of ERROR_BODIES or any JSON value, with HTTP `refund_error_http`,
200 by default, as PesaPal puts errors in the body), as a timeout or a failure on the real one. A
refusal is answered with PesaPal's error body and a code per rule (invalid_confirmation_code,
payment_not_completed, invalid_refund_amount, partial_refund_not_allowed, refund_already_requested;
the client's wire.REFUND_REFUSALS). A repeated SubmitOrderRequest with the same merchant reference
and the same order gets the same order back; a reused reference for a different order is refused.

Refund approval: PesaPal's Refund Request says "A refund has to be approved by the merchant". With
`refund_approval` "merchant" (what the real PesaPal does) an accepted RefundRequest waits for that
approval and GetTransactionStatus keeps saying COMPLETED, with nothing in the status naming the
request, until approve_refund (REVERSED) or decline_refund; a second RefundRequest meanwhile is
refused (one refund per payment). "instant" (the default here) makes the refund at once, as if
approved the moment it arrived.
"""

from __future__ import annotations

import asyncio
import html
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

ANNOUNCE = {"simulator": "pesapal", "note": "Kibeti's PesaPal API 3.0 simulator: no real money moves"}
TOKEN_LIFETIME = timedelta(minutes=5)
STATUS_TEXT = {0: "INVALID", 1: "COMPLETED", 2: "FAILED", 3: "REVERSED"}
METHODS = {"card": "Visa", "airtel": "AirtelKE", "mpesa": "MpesaKE"}
MOBILE_METHODS = ("AirtelKE", "MpesaKE")


@dataclass
class SimOrder:
    order_tracking_id: str
    merchant_reference: str
    amount: Decimal
    currency: str
    description: str
    callback_url: str
    notification_id: str
    phone: str
    created: datetime
    status_code: int = 0
    payment_method: str = ""
    payment_account: str = ""
    confirmation_code: str = ""
    cancelled: bool = False
    refunded: Decimal = Decimal(0)
    awaiting_approval: Decimal = Decimal(0)  # a refund accepted, not yet approved by the merchant
    refund_requests: int = 0  # RefundRequests received for this payment (made, refused or waiting)
    reported_amount: Decimal | None = None  # a status that disagrees with the order
    reported_currency: str = ""
    status_body: Any = None  # with status_body_set: what GetTransactionStatus answers, as it is
    status_body_set: bool = False


@dataclass
class Behaviour:
    ipn: str = "normal"  # normal | late | twice | never
    delay_s: float = 0.05
    late_s: float = 3.0
    refund: str = "normal"  # normal | answer_lost (made, no answer) | request_lost (not made, no answer)
    refund_lost_as: str = "gateway_timeout"  # gateway_timeout | garbled | hang | error_body
    refund_error_body: Any = "server_error"  # a preset of ERROR_BODIES, or a JSON value sent as it is
    refund_error_http: int = 200  # PesaPal answers its errors with HTTP 200
    hang_s: float = 35.0  # longer than the client's 30 s timeout
    refund_approval: str = "instant"  # instant | merchant (accepted, awaiting the merchant's approval)


@dataclass
class PesapalSimulator:
    ipn_transport: httpx.AsyncBaseTransport | None = None  # tests: deliver IPNs into the app in-process
    orders: dict[str, SimOrder] = field(default_factory=dict)
    ipns: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, datetime] = field(default_factory=dict)
    behaviour: Behaviour = field(default_factory=Behaviour)
    delivered: list[dict[str, Any]] = field(default_factory=list)  # every IPN sent: url, answer status
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    # --- PesaPal's API --------------------------------------------------------------------

    def token(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("consumer_key") or not body.get("consumer_secret"):
            return _error("invalid_consumer_key_or_secret_provided", "Invalid consumer key or secret")
        token = secrets.token_urlsafe(24)
        expiry = datetime.now(UTC) + TOKEN_LIFETIME
        self.tokens[token] = expiry
        return {
            "token": token,
            "expiryDate": expiry.isoformat(),
            "error": None,
            "status": "200",
            "message": "Request processed successfully",
        }

    def authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Bearer ").strip()
        expiry = self.tokens.get(token)
        return expiry is not None and expiry > datetime.now(UTC)

    def expire_tokens(self) -> None:
        """Fault: every token issued so far is refused from now on (401)."""
        self.tokens.clear()

    def register_ipn(self, body: dict[str, Any]) -> dict[str, Any]:
        url, kind = str(body.get("url") or ""), str(body.get("ipn_notification_type") or "GET").upper()
        if not url.startswith(("http://", "https://")) or kind not in ("GET", "POST"):
            return _error("invalid_ipn", "url and ipn_notification_type (GET or POST) are required")
        for ipn_id, row in self.ipns.items():
            if row["url"] == url:
                return {**row, "ipn_id": ipn_id, "error": None, "status": "200"}
        ipn_id = str(_uuid())
        row = {
            "url": url,
            "created_date": datetime.now(UTC).isoformat(),
            "ipn_id": ipn_id,
            "notification_type": 0 if kind == "GET" else 1,
            "ipn_notification_type_description": kind,
            "ipn_status": 1,
            "ipn_status_description": "Active",
        }
        self.ipns[ipn_id] = row
        return {**row, "error": None, "status": "200"}

    def ipn_list(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self.ipns.values()]

    def submit(self, body: dict[str, Any], base: str) -> dict[str, Any]:
        reference = str(body.get("id") or "")
        amount = _decimal(body.get("amount"))
        currency = str(body.get("currency") or "")
        if not reference or len(reference) > 50 or amount is None or amount <= 0 or not currency:
            return _error("invalid_request", "id, amount and currency are required")
        if str(body.get("notification_id") or "") not in self.ipns:
            return _error("invalid_notification_id", "notification_id is not a registered IPN")
        for order in self.orders.values():
            if order.merchant_reference == reference:
                if (order.amount, order.currency) != (amount, currency):
                    return _error("duplicate_merchant_reference", "merchant reference already used")
                return self._submitted(order, base)
        billing = body.get("billing_address") or {}
        order = SimOrder(
            order_tracking_id=str(_uuid()),
            merchant_reference=reference,
            amount=amount,
            currency=currency,
            description=str(body.get("description") or "")[:100],
            callback_url=str(body.get("callback_url") or ""),
            notification_id=str(body["notification_id"]),
            phone=str(billing.get("phone_number") or ""),
            created=datetime.now(UTC),
        )
        self.orders[order.order_tracking_id] = order
        return self._submitted(order, base)

    def _submitted(self, order: SimOrder, base: str) -> dict[str, Any]:
        return {
            "order_tracking_id": order.order_tracking_id,
            "merchant_reference": order.merchant_reference,
            "redirect_url": f"{base}/pay/{order.order_tracking_id}",
            "error": None,
            "status": "200",
        }

    def status(self, tracking_id: str) -> dict[str, Any]:
        order = self.orders.get(tracking_id)
        if order is None:
            return _error("invalid_order_tracking_id", "order tracking id is not known")
        amount = order.reported_amount if order.reported_amount is not None else order.amount
        refunded = f"Refunded {order.currency} {shown_amount(order.refunded)}" if order.refunded else ""
        return {
            "payment_method": order.payment_method,
            "amount": amount,
            "created_date": order.created.isoformat(),
            "confirmation_code": order.confirmation_code,
            "payment_status_description": STATUS_TEXT[order.status_code].title(),
            "description": refunded,
            "message": "Request processed successfully",
            "payment_account": order.payment_account,
            "call_back_url": order.callback_url,
            "status_code": order.status_code,
            "merchant_reference": order.merchant_reference,
            "payment_status_code": "",
            "currency": order.reported_currency or order.currency,
            "error": {"error_type": None, "code": None, "message": None, "call_back_url": None},
            "status": "200",
        }

    def refund(self, body: dict[str, Any]) -> dict[str, Any]:
        code = str(body.get("confirmation_code") or "")
        amount = _decimal(body.get("amount"))
        order = next(
            (o for o in self.orders.values() if o.confirmation_code and o.confirmation_code == code), None
        )
        # PesaPal's rules (developer.pesapal.com, API 3.0 Refund Request): one refund per payment, at
        # most what was collected; card payments in part or in full, mobile money in full only; a
        # refund has to be approved by the merchant.
        if order is not None:
            order.refund_requests += 1
        if order is not None and order.awaiting_approval > 0:
            waiting = f"{order.currency} {shown_amount(order.awaiting_approval)}"
            return _error(
                "refund_already_requested",
                f"a refund of {waiting} awaits the merchant's approval: PesaPal takes one refund per payment",
            )
        if order is not None and order.refunded > 0:
            refunded = f"{order.currency} {shown_amount(order.refunded)}"
            return _error(
                "refund_already_requested",
                f"already refunded {refunded}: PesaPal takes one refund per payment",
            )
        if order is None:
            return _error("invalid_confirmation_code", "no payment has this confirmation code")
        if order.status_code != 1:
            return _error("payment_not_completed", "only a COMPLETED payment can be refunded")
        paid = f"{order.currency} {shown_amount(order.amount)}"
        if amount is None or amount <= 0 or amount > order.amount:
            return _error("invalid_refund_amount", f"a refund is more than zero and at most the {paid} paid")
        if order.payment_method in MOBILE_METHODS and amount != order.amount:
            return _error(
                "partial_refund_not_allowed", f"a mobile-money payment is refunded in full only: {paid}"
            )
        if self.behaviour.refund_approval == "merchant":  # the status stays COMPLETED until approved
            order.awaiting_approval = amount
        else:
            order.refunded = amount
            order.status_code = 3  # the status query reports the payment given back: REVERSED
        return {"status": "200", "message": "Refund request successfully"}

    def approve_refund(self, tracking_id: str) -> SimOrder | None:
        """The merchant approves the refund awaiting approval: made, REVERSED, and an IPN."""
        order = self.orders.get(tracking_id)
        if order is not None and order.awaiting_approval > 0:
            order.refunded, order.awaiting_approval = order.awaiting_approval, Decimal(0)
            order.status_code = 3
            self.notify(order)
        return order

    def decline_refund(self, tracking_id: str) -> SimOrder | None:
        """The merchant declines it: no refund, the payment stays COMPLETED."""
        order = self.orders.get(tracking_id)
        if order is not None:
            order.awaiting_approval = Decimal(0)
        return order

    def cancel(self, body: dict[str, Any]) -> dict[str, Any]:
        order = self.orders.get(str(body.get("order_tracking_id") or ""))
        if order is None or order.status_code != 0:
            return _error("cancel_failed", "only an unpaid order can be cancelled")
        order.cancelled = True
        order.status_code = 2
        return {"status": "200", "message": "Order cancelled successfully"}

    # --- the customer on the hosted page, and faults --------------------------------------

    def pay(self, tracking_id: str, method: str) -> SimOrder | None:
        order = self.orders.get(tracking_id)
        if order is None or order.status_code != 0:
            return order
        order.status_code = 1
        order.payment_method = METHODS.get(method, "Visa")
        order.payment_account = order.phone if method != "card" else "4111 XXXX XXXX 1111"
        order.confirmation_code = secrets.token_hex(5).upper()
        self.notify(order)
        return order

    def fail(self, tracking_id: str) -> SimOrder | None:
        order = self.orders.get(tracking_id)
        if order is not None and order.status_code == 0:
            order.status_code = 2
            self.notify(order)
        return order

    def reverse(self, tracking_id: str) -> SimOrder | None:
        order = self.orders.get(tracking_id)
        if order is not None and order.status_code == 1:
            order.status_code = 3
            self.notify(order)
        return order

    def notify(self, order: SimOrder, *, force: bool = False) -> None:
        """Send the IPN as the behaviour says: soon, late, twice or never (`force`: now, once)."""
        mode = "normal" if force else self.behaviour.ipn
        if mode == "never":
            return
        delay = self.behaviour.late_s if mode == "late" else self.behaviour.delay_s
        self._later(delay, order)
        if mode == "twice":
            self._later(delay * 2 + 0.01, order)

    def _later(self, delay: float, order: SimOrder) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(delay, order))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delay: float, order: SimOrder) -> None:
        await asyncio.sleep(delay)
        ipn = self.ipns.get(order.notification_id)
        if ipn is None:
            return
        fields = {
            "OrderTrackingId": order.order_tracking_id,
            "OrderMerchantReference": order.merchant_reference,
            "OrderNotificationType": "IPNCHANGE",
        }
        status, answer = 0, None
        try:
            async with httpx.AsyncClient(transport=self.ipn_transport, timeout=10.0) as http:
                if ipn["ipn_notification_type_description"] == "POST":
                    response = await http.post(ipn["url"], json=fields)
                else:
                    response = await http.get(ipn["url"], params=fields)
            status = response.status_code
            answer = response.json() if response.content else None
        except (httpx.HTTPError, ValueError) as exc:  # PesaPal retries later; here: recorded, dropped
            answer = repr(exc)
        self.delivered.append({"url": ipn["url"], "fields": fields, "http_status": status, "answer": answer})

    async def drain(self) -> None:
        """Tests: wait for every IPN already scheduled."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def create_app(self) -> FastAPI:
        return _app(self)


def _uuid() -> str:
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


# PesaPal's error bodies a RefundRequest may be answered with that do not say it was not done (the
# refund may have been taken): an internal error, a code the client does not know, PesaPal's documented
# {"status": "500", "message"} without any code, an error that is only text, and a body that is not an
# object; and one that does say so (a refusal whose code the client knows).
ERROR_BODIES: dict[str, Any] = {
    "server_error": {
        "error": {"error_type": "api_error", "code": "internal_server_error",
                  "message": "An error occurred while processing the request"},
        "status": "500",
    },
    "unknown_code": {
        "error": {"error_type": "api_error", "code": "refund_processing_delayed", "message": "Retry later"},
        "status": "500",
    },
    "no_code": {"status": "500", "message": "Refund rejected"},
    "text_error": {"error": "Refund could not be processed", "status": "500"},
    "not_an_object": ["status", "500"],
    "refused": {
        "error": {"error_type": "api_error", "code": "invalid_refund_amount",
                  "message": "a refund is more than zero and at most what was paid"},
        "status": "500",
    },
}  # fmt: skip


async def _lost_answer(behaviour: Behaviour) -> Response:
    """What the caller sees when a RefundRequest's answer is lost on the way (or is an error body)."""
    if behaviour.refund_lost_as == "error_body":
        body = behaviour.refund_error_body
        if isinstance(body, str) and body in ERROR_BODIES:
            body = ERROR_BODIES[body]
        return _json(body, behaviour.refund_error_http)
    if behaviour.refund_lost_as == "garbled":
        return Response(b'{"status": "20', media_type="application/json")
    if behaviour.refund_lost_as == "hang":
        await asyncio.sleep(behaviour.hang_s)
    return Response(b"", status_code=504)  # a gateway's timeout: no PesaPal body


def _refund_state(order: SimOrder) -> dict[str, Any]:
    """What only the simulator's own views show (PesaPal's status does not name a waiting refund)."""
    return {
        "refund_awaiting_approval": shown_amount(order.awaiting_approval) if order.awaiting_approval else "",
        "refund_requests": order.refund_requests,
    }


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"error_type": "api_error", "code": code, "message": message}, "status": "500"}


def _json(body: Any, status_code: int = 200) -> Response:
    text = json.dumps(body, default=lambda v: float(v) if isinstance(v, Decimal) else str(v))
    return Response(text, status_code=status_code, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>PesaPal (SIMULATOR)</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}
.banner{{background:#fde68a;padding:.5rem;border-radius:.3rem}}
button{{margin:.3rem 0;padding:.6rem;width:100%}}</style>
</head><body><p class="banner"><b>SIMULATOR</b>: Kibeti's PesaPal simulator. No real money moves.</p>
<h1>Pay {currency} {amount}</h1><p>{description}<br>Merchant reference: <code>{reference}</code></p>
{state}</body></html>"""
FORM = """<form method="post" action="{action}/pay">
<label><input type="radio" name="method" value="card" checked>Card (Visa / Mastercard)</label><br>
<label><input type="radio" name="method" value="airtel">Airtel Money</label><br>
<button type="submit" id="pay">Pay</button></form>
<form method="post" action="{action}/fail"><button type="submit" id="fail">Fail the payment</button></form>
<form method="post" action="{action}/abandon">
<button type="submit" id="abandon">Abandon (close the page)</button></form>"""


def shown_amount(amount: Decimal) -> str:
    """An order's amount as a payer reads it: grouped, two decimals ("5,000.00", not "5000.0")."""
    return f"{amount.quantize(Decimal('0.01')):,.2f}"


def _page(order: SimOrder, action: str) -> str:
    state = (
        FORM.format(action=html.escape(action))
        if order.status_code == 0 and not order.cancelled
        else (f"<p id='status'>This order is {STATUS_TEXT[order.status_code]}.</p>")
    )
    return PAGE.format(
        currency=html.escape(order.currency),
        amount=shown_amount(order.amount),
        description=html.escape(order.description),
        reference=html.escape(order.merchant_reference),
        state=state,
    )


def _back(order: SimOrder) -> Response:
    if not order.callback_url:
        return HTMLResponse(f"<p id='status'>{STATUS_TEXT[order.status_code]}</p>")
    query = urlencode(
        {
            "OrderTrackingId": order.order_tracking_id,
            "OrderMerchantReference": order.merchant_reference,
            "OrderNotificationType": "CALLBACKURL",
        }
    )
    separator = "&" if "?" in order.callback_url else "?"
    return RedirectResponse(f"{order.callback_url}{separator}{query}", status_code=303)


def _app(sim: PesapalSimulator) -> FastAPI:
    app = FastAPI(
        title="Kibeti PesaPal simulator", docs_url="/simulator/docs", openapi_url="/simulator/openapi.json"
    )
    app.state.simulator = sim

    @app.middleware("http")
    async def announce(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["X-Pesapal-Simulator"] = "kibeti"
        return response

    def base(request: Request) -> str:
        root = str(request.scope.get("root_path", ""))
        return str(request.base_url).rstrip("/") + root.rstrip("/")

    @app.get("/")
    async def root() -> dict[str, Any]:
        return ANNOUNCE

    @app.post("/api/Auth/RequestToken")
    async def request_token(request: Request) -> Response:
        return _json(sim.token(await _body(request)))

    async def guarded(request: Request, answer: Any) -> Response:
        if not sim.authorised(request):
            return _json(_error("invalid_token", "token expired or invalid"), 401)
        return _json(answer() if callable(answer) else answer)

    @app.post("/api/URLSetup/RegisterIPN")
    async def register_ipn(request: Request) -> Response:
        body = await _body(request)
        return await guarded(request, lambda: sim.register_ipn(body))

    @app.get("/api/URLSetup/GetIpnList")
    async def ipn_list(request: Request) -> Response:
        return await guarded(request, sim.ipn_list)

    @app.post("/api/Transactions/SubmitOrderRequest")
    async def submit(request: Request) -> Response:
        body = await _body(request)
        return await guarded(request, lambda: sim.submit(body, base(request)))

    @app.get("/api/Transactions/GetTransactionStatus")
    async def status(request: Request, orderTrackingId: str = "") -> Response:
        order = sim.orders.get(orderTrackingId)
        if order is not None and order.status_body_set and sim.authorised(request):
            return _json(order.status_body)  # a malformed answer, as told
        return await guarded(request, lambda: sim.status(orderTrackingId))

    @app.post("/api/Transactions/RefundRequest")
    async def refund(request: Request) -> Response:
        body = await _body(request)
        fault = sim.behaviour.refund
        if fault == "normal" or not sim.authorised(request):
            return await guarded(request, lambda: sim.refund(body))
        if fault == "answer_lost":
            sim.refund(body)  # made (or refused) at PesaPal; the answer never reaches the caller
        return await _lost_answer(sim.behaviour)

    @app.post("/api/Transactions/CancelOrder")
    async def cancel(request: Request) -> Response:
        body = await _body(request)
        return await guarded(request, lambda: sim.cancel(body))

    @app.get("/pay/{tracking_id}", response_class=HTMLResponse)
    async def page(request: Request, tracking_id: str) -> Response:
        order = sim.orders.get(tracking_id)
        if order is None:
            return HTMLResponse("<p>SIMULATOR: no such order</p>", status_code=404)
        return HTMLResponse(_page(order, f"{base(request)}/pay/{tracking_id}"))

    @app.post("/pay/{tracking_id}/{action}")
    async def act(request: Request, tracking_id: str, action: str) -> Response:
        order = sim.orders.get(tracking_id)
        if order is None or action not in ("pay", "fail", "abandon"):
            return HTMLResponse("<p>SIMULATOR: no such order or action</p>", status_code=404)
        if action == "pay":
            form = await request.form()
            sim.pay(tracking_id, str(form.get("method") or "card"))
        elif action == "fail":
            sim.fail(tracking_id)
        return _back(order)

    @app.post("/simulator/behaviour")
    async def behaviour(request: Request) -> Response:
        body = await _body(request)
        if body.get("ipn") in ("normal", "late", "twice", "never"):
            sim.behaviour.ipn = str(body["ipn"])
        if isinstance(body.get("late_s"), int | float):
            sim.behaviour.late_s = float(body["late_s"])
        if body.get("refund") in ("normal", "answer_lost", "request_lost"):
            sim.behaviour.refund = str(body["refund"])
        if body.get("refund_lost_as") in ("gateway_timeout", "garbled", "hang", "error_body"):
            sim.behaviour.refund_lost_as = str(body["refund_lost_as"])
        if "refund_error_body" in body:  # a preset's name, or any JSON value to answer with
            sim.behaviour.refund_error_body = body["refund_error_body"]
        if isinstance(body.get("refund_error_http"), int) and 200 <= body["refund_error_http"] <= 599:
            sim.behaviour.refund_error_http = int(body["refund_error_http"])
        if body.get("refund_approval") in ("instant", "merchant"):
            sim.behaviour.refund_approval = str(body["refund_approval"])
        return _json(
            {"ipn": sim.behaviour.ipn, "late_s": sim.behaviour.late_s, "refund": sim.behaviour.refund,
             "refund_lost_as": sim.behaviour.refund_lost_as, "refund_approval": sim.behaviour.refund_approval,
             "refund_error_body": sim.behaviour.refund_error_body,
             "refund_error_http": sim.behaviour.refund_error_http}
        )  # fmt: skip

    @app.post("/simulator/orders/{tracking_id}/{fault}")
    async def fault(request: Request, tracking_id: str, fault: str) -> Response:
        order = sim.orders.get(tracking_id)
        if order is None:
            return JSONResponse({"detail": "no such order"}, status_code=404)
        if fault == "reverse":
            sim.reverse(tracking_id)
        elif fault == "approve_refund":
            sim.approve_refund(tracking_id)
        elif fault == "decline_refund":
            sim.decline_refund(tracking_id)
        elif fault == "ipn":
            sim.notify(order, force=True)
        elif fault == "disagree":
            body = await _body(request)
            order.reported_amount = _decimal(body.get("amount"))
            order.reported_currency = str(body.get("currency") or "")
        elif fault == "status_body":
            body = await _body(request)
            order.status_body, order.status_body_set = body.get("body"), "body" in body
        else:
            return JSONResponse(
                {"detail": "faults: reverse, approve_refund, decline_refund, ipn, disagree, status_body"},
                status_code=404,
            )
        return _json(sim.status(tracking_id) | _refund_state(order))

    @app.get("/simulator/orders")
    async def orders() -> Response:
        return _json(
            [sim.status(tid) | {"order_tracking_id": tid} | _refund_state(o) for tid, o in sim.orders.items()]
        )

    return app
