"""A Daraja simulator: a standalone ASGI app (run it on its own port, or mount it in-process).

It announces itself (`GET /` and the `X-Daraja-Simulator` header), speaks Daraja's wire formats,
enforces Daraja's limits, sends asynchronous callbacks after a delay, counts money moved per
OriginatorConversationID, and is steered over HTTP under `/simulator/...` by tests and the portal.

    python -m simulators.daraja.simulator --port 8090
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import time
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from payouts.mpesa.credentials import decrypt_credential, generate_test_certificate
from payouts.mpesa.wire import stk_password
from simulators.daraja import callbacks as bodies
from simulators.daraja.control import control_router
from simulators.daraja.state import (
    B2B_COMMANDS,
    B2C_MIN,
    B2C_OUTCOMES,
    DAILY_MAX,
    STK_MIN,
    STK_OUTCOMES,
    TXN_MAX,
    B2CTxn,
    Behaviour,
    C2BTxn,
    SimConfig,
    SimState,
    StkTxn,
    conversation_id,
    describe,
    eat_time,
    receipt,
)

ANNOUNCE = {"simulator": True, "name": "Kibeti Daraja simulator", "docs": "/simulator"}
_MSISDN_OK = ("2547", "2541")


def _error(status: int, code: str, message: str) -> JSONResponse:
    body = {"requestId": secrets.token_hex(8), "errorCode": code, "errorMessage": message}
    return JSONResponse(body, status_code=status)


class Simulator:
    """State plus behaviour; the FastAPI app is a thin shell over it."""

    def __init__(
        self,
        config: SimConfig | None = None,
        *,
        certificate: tuple[bytes, bytes] | None = None,
        callback_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.state = SimState(config=config or SimConfig())
        self.cert_pem, self.key_pem = certificate or generate_test_certificate()
        self._transport = callback_transport
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: httpx.AsyncClient | None = None
        self._lock = asyncio.Lock()

    # -- helpers ---------------------------------------------------------------------------------

    def reset(self, config: SimConfig | None = None) -> None:
        self.state = SimState(config=config or self.state.config)

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = httpx.AsyncClient(transport=self._transport, timeout=10.0)
        return self._http

    def later(self, delay: float, url: str, body: dict[str, Any], kind: str) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(delay, url, body, kind))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, delay: float, url: str, body: dict[str, Any], kind: str) -> None:
        await asyncio.sleep(delay)
        await self._post(url, body, kind)

    async def _post(
        self, url: str, body: dict[str, Any], kind: str, *, wait_s: float = 10.0
    ) -> tuple[int, Any]:
        """POST one callback and record it: (HTTP status or 0, the JSON answer or None)."""
        entry: dict[str, Any] = {"kind": kind, "url": url, "body": body, "at": time.time()}
        answer: Any = None
        try:
            response = await self._client().post(url, json=body, timeout=wait_s)
            entry["status"] = response.status_code
            try:
                answer = response.json()
            except ValueError:
                answer = None
        except httpx.HTTPError as exc:  # Daraja does not retry: record and drop
            entry["status"] = 0
            entry["error"] = repr(exc)
        entry["answer"] = answer
        self.state.callbacks.append(entry)
        return int(entry["status"]), answer

    async def aclose(self) -> None:
        """Deliver what is scheduled, then close the callback client."""
        await self.drain()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def drain(self) -> None:
        """Wait for every scheduled callback (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def delay(self, behaviour: Behaviour) -> float:
        return self.state.config.callback_delay_s if behaviour.delay_s is None else behaviour.delay_s

    def authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and self.state.token_valid(header[7:])

    def credential_ok(self, credential: str) -> bool:
        try:
            password = decrypt_credential(credential, self.key_pem)
        except (ValueError, binascii.Error):
            return False
        expected = self.state.config.initiator_password
        return not expected or password == expected

    # -- OAuth -----------------------------------------------------------------------------------

    def oauth(self, request: Request) -> JSONResponse:
        if request.query_params.get("grant_type") != "client_credentials":
            return _error(400, "400.008.02", "Invalid grant type passed")
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return _error(400, "400.008.01", "Invalid Authentication passed")
        try:
            key, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, binascii.Error):
            return _error(400, "400.008.01", "Invalid Authentication passed")
        cfg = self.state.config
        if cfg.consumer_key and (key, secret) != (cfg.consumer_key, cfg.consumer_secret):
            return _error(400, "400.008.01", "Invalid Authentication passed")
        return JSONResponse({"access_token": self.state.issue_token(), "expires_in": "3599"})

    # -- B2C -------------------------------------------------------------------------------------

    async def b2c(self, body: dict[str, Any]) -> JSONResponse:
        for name in (
            "OriginatorConversationID",
            "InitiatorName",
            "SecurityCredential",
            "CommandID",
            "Amount",
            "PartyA",
            "PartyB",
            "Remarks",
            "QueueTimeOutURL",
            "ResultURL",
        ):
            if body.get(name) in (None, ""):
                return _error(400, "400.002.02", f"Bad Request - Invalid {name}")
        amount = _amount(body["Amount"])
        if amount is None:
            return _error(400, "400.002.02", "Bad Request - Invalid Amount")
        ocid = str(body["OriginatorConversationID"])
        async with self._lock:
            self.state.requests[ocid] += 1
            if ocid in self.state.b2c:
                return _error(500, "500.002.1001", "Duplicate OriginatorConversationID.")
            party_b = str(body["PartyB"])
            behaviour = self.state.b2c_steering.pick(party_b)
            code, desc = self._decide_b2c(body, amount, party_b, behaviour)
            txn = B2CTxn(
                originator_conversation_id=ocid,
                conversation_id=conversation_id(),
                receipt=receipt(),
                party_b=party_b,
                amount=amount,
                command_id=str(body["CommandID"]),
                result_code=code,
                result_desc=desc,
                result_url=str(body["ResultURL"]),
                timeout_url=str(body["QueueTimeOutURL"]),
                behaviour=behaviour,
                initiated=eat_time(),
            )
            self.state.b2c[ocid] = txn
            self.state.b2c_times.append(time.time())
            if txn.paid:  # money moves now; the callback reports it later
                self.state.payments[ocid] += 1
                self.state.config.utility_balance -= amount
                self.state.daily[party_b] += int(amount)
        self.send_b2c_callbacks(txn)
        return JSONResponse(
            {
                "ConversationID": txn.conversation_id,
                "OriginatorConversationID": ocid,
                "ResponseCode": "0",
                "ResponseDescription": "Accept the service request successfully.",
            }
        )

    def _decide_b2c(
        self, body: dict[str, Any], amount: Decimal, party_b: str, behaviour: Behaviour
    ) -> tuple[str, str]:
        if not self.credential_ok(str(body["SecurityCredential"])):
            return B2C_OUTCOMES["2001"]
        if not (party_b.isdigit() and len(party_b) == 12 and party_b.startswith(_MSISDN_OK)):
            return B2C_OUTCOMES["SFC_IC0003"]
        if amount != amount.to_integral_value() or amount < B2C_MIN:
            return B2C_OUTCOMES["2"]
        if amount > TXN_MAX:
            return B2C_OUTCOMES["3"]
        if behaviour.outcome != "success":
            return B2C_OUTCOMES.get(behaviour.outcome, ("17", "Internal Failure"))
        if self.state.daily[party_b] + amount > DAILY_MAX:
            return B2C_OUTCOMES["4"]
        if self.state.config.utility_balance < amount:
            return B2C_OUTCOMES["1"]
        return B2C_OUTCOMES["success"]

    def send_b2c_callbacks(self, txn: B2CTxn, *, force: bool = False) -> None:
        mode = "normal" if force else txn.behaviour.callback
        delay = self.delay(txn.behaviour)
        if mode == "none":
            return
        if mode == "timeout_only":
            self.later(delay, txn.timeout_url, bodies.b2c_timeout(txn), "b2c_timeout")
            return
        if txn.command_id in B2B_COMMANDS:
            reference = self.state.b2b_references.get(txn.originator_conversation_id, "")
            result = bodies.b2b_result(txn, reference, self.state.config.utility_balance)
        else:
            result = bodies.b2c_result(txn, self.state.config.utility_balance)
        self.later(delay, txn.result_url, result, "b2c_result")
        if mode == "duplicate":
            self.later(delay * 2 + 0.01, txn.result_url, result, "b2c_result")

    # -- B2B -------------------------------------------------------------------------------------

    async def b2b(self, body: dict[str, Any]) -> JSONResponse:
        """BusinessBuyGoods to a till, BusinessPayBill (with AccountReference) to a paybill. Kept with
        the B2C transactions: the same duplicate check, steering (by the receiver's number), money
        counter and Transaction Status answers."""
        for name in (
            "Initiator", "SecurityCredential", "CommandID", "SenderIdentifierType", "RecieverIdentifierType",
            "Amount", "PartyA", "PartyB", "Remarks", "QueueTimeOutURL", "ResultURL",
        ):  # fmt: skip
            if body.get(name) in (None, ""):
                return _error(400, "400.002.02", f"Bad Request - Invalid {name}")
        command = str(body["CommandID"])
        if command not in B2B_COMMANDS:
            return _error(400, "400.002.02", "Bad Request - Invalid CommandID")
        reference = str(body.get("AccountReference") or "")
        if command == "BusinessPayBill" and not reference:
            return _error(400, "400.002.02", "Bad Request - Invalid AccountReference")
        amount = _amount(body["Amount"])
        if amount is None:
            return _error(400, "400.002.02", "Bad Request - Invalid Amount")
        ocid = str(body.get("OriginatorConversationID") or secrets.token_hex(12))
        async with self._lock:
            self.state.requests[ocid] += 1
            if ocid in self.state.b2c:
                return _error(500, "500.002.1001", "Duplicate OriginatorConversationID.")
            party_b = str(body["PartyB"])
            behaviour = self.state.b2c_steering.pick(party_b)
            code, desc = self._decide_b2b(body, amount, party_b, behaviour)
            txn = B2CTxn(
                originator_conversation_id=ocid, conversation_id=conversation_id(), receipt=receipt(),
                party_b=party_b, amount=amount, command_id=command, result_code=code, result_desc=desc,
                result_url=str(body["ResultURL"]), timeout_url=str(body["QueueTimeOutURL"]),
                behaviour=behaviour, initiated=eat_time(),
            )  # fmt: skip
            self.state.b2c[ocid] = txn
            self.state.b2b_references[ocid] = reference
            if txn.paid:
                self.state.payments[ocid] += 1
                self.state.config.utility_balance -= amount
        self.send_b2c_callbacks(txn)
        return JSONResponse(
            {
                "OriginatorConversationID": ocid,
                "ConversationID": txn.conversation_id,
                "ResponseCode": "0",
                "ResponseDescription": "Accept the service request successfully.",
            }
        )

    def _decide_b2b(
        self, body: dict[str, Any], amount: Decimal, party_b: str, behaviour: Behaviour
    ) -> tuple[str, str]:
        if not self.credential_ok(str(body["SecurityCredential"])):
            return B2C_OUTCOMES["2001"]
        if not (party_b.isdigit() and 5 <= len(party_b) <= 7):  # no such till or paybill
            return B2C_OUTCOMES["SFC_IC0003"]
        if amount != amount.to_integral_value() or amount < 1:
            return B2C_OUTCOMES["2"]
        if amount > TXN_MAX:
            return B2C_OUTCOMES["3"]
        if behaviour.outcome != "success":
            return B2C_OUTCOMES.get(behaviour.outcome, ("17", "Internal Failure"))
        if self.state.config.utility_balance < amount:
            return B2C_OUTCOMES["1"]
        return B2C_OUTCOMES["success"]

    # -- status, balance -------------------------------------------------------------------------

    def status(self, body: dict[str, Any]) -> JSONResponse:
        if not self.credential_ok(str(body.get("SecurityCredential", ""))):
            return _error(400, "400.002.02", "Bad Request - Invalid SecurityCredential")
        ocid = str(body.get("OriginalConversationID") or "")
        receipt_no = str(body.get("TransactionID") or "")
        txn = self.state.b2c.get(ocid) if ocid else None
        if txn is None and receipt_no:
            txn = next((t for t in self.state.b2c.values() if t.receipt == receipt_no), None)
        if txn is None and receipt_no and not ocid:
            # a paybill payment: known only if a handset really paid it (a made-up TransID is not found)
            paid = self.state.c2b.get(receipt_no)
            if paid is not None and paid.status == "completed":
                shortcode = self.state.config.shortcode
                return self._async_answer(
                    body, lambda q, c: bodies.c2b_status_result(q, c, paid, shortcode), "status_result"
                )
        return self._async_answer(body, lambda q, c: bodies.status_result(q, c, txn), "status_result")

    def balance(self, body: dict[str, Any]) -> JSONResponse:
        if not self.credential_ok(str(body.get("SecurityCredential", ""))):
            return _error(400, "400.002.02", "Bad Request - Invalid SecurityCredential")
        utility = self.state.config.utility_balance
        return self._async_answer(body, lambda q, c: bodies.balance_result(q, c, utility), "balance_result")

    def _async_answer(self, body: dict[str, Any], build: Any, kind: str) -> JSONResponse:
        url = str(body.get("ResultURL") or "")
        if not url:
            return _error(400, "400.002.02", "Bad Request - Invalid ResultURL")
        query_ocid, conv = secrets.token_hex(12), conversation_id()
        self.later(self.state.config.callback_delay_s, url, build(query_ocid, conv), kind)
        return JSONResponse(
            {
                "OriginatorConversationID": query_ocid,
                "ConversationID": conv,
                "ResponseCode": "0",
                "ResponseDescription": "Accept the service request successfully.",
            }
        )

    # -- STK -------------------------------------------------------------------------------------

    async def stk_push(self, body: dict[str, Any]) -> JSONResponse:
        cfg = self.state.config
        timestamp = str(body.get("Timestamp", ""))
        shortcode = str(body.get("BusinessShortCode", ""))
        if cfg.passkey and body.get("Password") != stk_password(shortcode, cfg.passkey, timestamp):
            return _error(500, "500.001.1001", "Wrong credentials")
        amount = _amount(body.get("Amount"))
        msisdn = str(body.get("PhoneNumber", ""))
        if amount is None or amount != amount.to_integral_value() or not STK_MIN <= amount <= TXN_MAX:
            return _error(400, "400.002.02", "Bad Request - Invalid Amount")
        if not (msisdn.isdigit() and len(msisdn) == 12 and msisdn.startswith(_MSISDN_OK)):
            return _error(400, "400.002.02", "Bad Request - Invalid PhoneNumber")
        if not body.get("CallBackURL"):
            return _error(400, "400.002.02", "Bad Request - Invalid CallBackURL")
        if cfg.lock_subscriber and any(t.pending and t.msisdn == msisdn for t in self.state.stk.values()):
            return _error(
                500, "500.001.1001", "Unable to lock subscriber, a transaction is already in process"
            )
        txn = StkTxn(
            merchant_request_id=f"{secrets.randbelow(99999)}-{secrets.randbelow(10**8)}-1",
            checkout_request_id=f"ws_CO_{time.strftime('%d%m%Y%H%M%S')}{secrets.token_hex(6)}",
            msisdn=msisdn,
            amount=amount,
            callback_url=str(body["CallBackURL"]),
            behaviour=self.state.stk_steering.pick(msisdn),
        )
        self.state.stk[txn.checkout_request_id] = txn
        task = asyncio.get_running_loop().create_task(self._answer_stk(txn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return JSONResponse(
            {
                "MerchantRequestID": txn.merchant_request_id,
                "CheckoutRequestID": txn.checkout_request_id,
                "ResponseCode": "0",
                "ResponseDescription": "Success. Request accepted for processing",
                "CustomerMessage": "Success. Request accepted for processing",
            }
        )

    async def _answer_stk(self, txn: StkTxn) -> None:
        await asyncio.sleep(self.delay(txn.behaviour))
        txn.result_code, txn.result_desc = STK_OUTCOMES.get(txn.behaviour.outcome, STK_OUTCOMES["1032"])
        if txn.result_code == "0":
            txn.receipt = receipt()
        self.send_stk_callbacks(txn)

    def send_stk_callbacks(self, txn: StkTxn, *, force: bool = False) -> None:
        mode = "normal" if force else txn.behaviour.callback
        if mode in ("none", "timeout_only"):
            return
        self.later(0, txn.callback_url, bodies.stk_callback(txn), "stk_callback")
        if mode == "duplicate":
            self.later(0.05, txn.callback_url, bodies.stk_callback(txn), "stk_callback")

    def stk_query(self, body: dict[str, Any]) -> JSONResponse:
        txn = self.state.stk.get(str(body.get("CheckoutRequestID", "")))
        if txn is None:
            return _error(400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
        if txn.pending:
            return _error(500, "500.001.1001", "The transaction is being processed")
        return JSONResponse(
            {
                "ResponseCode": "0",
                "ResponseDescription": "The service request has been accepted successsfully",
                "MerchantRequestID": txn.merchant_request_id,
                "CheckoutRequestID": txn.checkout_request_id,
                "ResultCode": txn.result_code,
                "ResultDesc": txn.result_desc,
            }
        )

    # -- C2B -------------------------------------------------------------------------------------

    def c2b_register(self, body: dict[str, Any]) -> JSONResponse:
        if body.get("ResponseType") not in ("Completed", "Cancelled"):
            return _error(400, "400.002.02", "Bad Request - Invalid ResponseType")
        for name in ("ConfirmationURL", "ValidationURL"):
            if not str(body.get(name) or "").startswith(("http://", "https://")):
                return _error(400, "400.002.02", f"Bad Request - Invalid {name}")
        self.state.c2b_urls = {  # sandbox semantics: registering again replaces the URLs
            "confirmation": str(body["ConfirmationURL"]),
            "validation": str(body["ValidationURL"]),
            "response_type": str(body["ResponseType"]),
            "shortcode": str(body.get("ShortCode") or self.state.config.shortcode),
        }
        return JSONResponse(
            {
                "OriginatorCoversationID": secrets.token_hex(8),
                "ResponseCode": "0",
                "ResponseDescription": "success",
            }
        )

    def c2b_simulate(self, body: dict[str, Any]) -> JSONResponse:
        """Daraja's sandbox C2B simulate: accepted now; validation and confirmation follow."""
        made = self.new_c2b(
            msisdn=str(body.get("Msisdn", "254708374149")),
            amount=body.get("Amount"),
            account=str(body.get("BillRefNumber", "")),
            shortcode=str(body.get("ShortCode") or ""),
        )
        if isinstance(made, JSONResponse):
            return made
        task = asyncio.get_running_loop().create_task(self._pay_in_background(made))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return JSONResponse(
            {
                "OriginatorCoversationID": secrets.token_hex(8),
                "ResponseCode": "0",
                "ResponseDescription": "Accept the service request successfully.",
                "TransID": made.trans_id,
            }
        )

    async def _pay_in_background(self, txn: C2BTxn) -> None:
        await asyncio.sleep(self.state.config.callback_delay_s)
        await self.pay_bill(txn)

    def new_c2b(
        self, *, msisdn: str, amount: Any, account: str, shortcode: str = ""
    ) -> C2BTxn | JSONResponse:
        """What the payer's M-Pesa menu checks before anything reaches the business."""
        if not self.state.c2b_urls.get("confirmation"):
            return _error(400, "400.002.02", "Bad Request - no URLs registered for this ShortCode")
        msisdn = msisdn.strip().lstrip("+")
        if not (msisdn.isdigit() and len(msisdn) == 12 and msisdn.startswith(_MSISDN_OK)):
            return _error(400, "400.002.02", "Bad Request - Invalid Msisdn")
        value = _amount(amount)
        if value is None or value != value.to_integral_value() or not STK_MIN <= value <= TXN_MAX:
            return _error(400, "400.002.02", "Bad Request - Invalid Amount (whole KES 1 to 250,000)")
        account = account.strip()
        if not account or len(account) > 20:
            return _error(400, "400.002.02", "Bad Request - Invalid BillRefNumber")
        txn = C2BTxn(
            trans_id=receipt(),
            msisdn=msisdn,
            amount=value,
            bill_ref=account,
            shortcode=shortcode or self.state.c2b_urls.get("shortcode") or self.state.config.shortcode,
            trans_time=time.strftime("%Y%m%d%H%M%S"),
        )
        self.state.c2b[txn.trans_id] = txn
        return txn

    async def pay_bill(self, txn: C2BTxn, *, validation: bool | None = None, deliveries: int = 1) -> C2BTxn:
        """Validation (when enabled) then the confirmation, `deliveries` times (a duplicate is > 1)."""
        urls = self.state.c2b_urls
        if self.state.config.c2b_validation if validation is None else validation:
            _, answer = await self._post(urls["validation"], _c2b_body(txn, ""), "c2b_validation", wait_s=8.0)
            code = answer.get("ResultCode") if isinstance(answer, dict) else None
            if code is None:  # unreachable or unreadable: the registered ResponseType decides
                txn.validation = "unreachable"
                if urls.get("response_type") == "Cancelled":
                    txn.status = "cancelled"
                    return txn
            elif str(code) != "0":
                txn.validation, txn.status = str(code), "rejected"
                return txn
            else:
                txn.validation = "0"
        else:
            txn.validation = "off"
        txn.status = "completed"
        self.state.config.paybill_balance += txn.amount
        for _ in range(deliveries):
            await self.confirm_c2b(txn)
        return txn

    async def confirm_c2b(self, txn: C2BTxn) -> None:
        body = _c2b_body(txn, f"{self.state.config.paybill_balance:.2f}")
        status, _ = await self._post(self.state.c2b_urls["confirmation"], body, "c2b_confirmation")
        if 200 <= status < 300:
            txn.confirmations += 1


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount > 0 else None


def _c2b_body(txn: C2BTxn, org_balance: str) -> dict[str, Any]:
    """Validation and confirmation share this shape (PROTOCOLS.md 1.6); the MSISDN is masked."""
    return {
        "TransactionType": "Pay Bill",
        "TransID": txn.trans_id,
        "TransTime": txn.trans_time,
        "TransAmount": str(txn.amount),
        "BusinessShortCode": txn.shortcode,
        "BillRefNumber": txn.bill_ref,
        "InvoiceNumber": "",
        "OrgAccountBalance": org_balance,
        "ThirdPartyTransID": "",
        "MSISDN": txn.msisdn[:5] + "****" + txn.msisdn[-3:],
        "FirstName": "Simulated",
        "MiddleName": "",
        "LastName": "Customer",
    }


class C2BPaymentIn(BaseModel):
    """A paybill payment made on a handset: `kibeti mpesa simulate-c2b` and tests."""

    msisdn: str
    amount: str
    account: str
    validation: bool | None = None  # None: the simulator's c2b_validation setting
    deliveries: int = Field(default=1, ge=0, le=5)  # confirmations sent: 2 is a duplicate


class C2BSettingsIn(BaseModel):
    validation: bool


API_ROUTES: dict[str, str] = {
    "/mpesa/b2c/v3/paymentrequest": "b2c",
    "/mpesa/b2c/v1/paymentrequest": "b2c",
    "/mpesa/b2b/v1/paymentrequest": "b2b",
    "/mpesa/stkpush/v1/processrequest": "stk_push",
    "/mpesa/stkpushquery/v1/query": "stk_query",
    "/mpesa/transactionstatus/v1/query": "status",
    "/mpesa/accountbalance/v1/query": "balance",
    "/mpesa/c2b/v1/registerurl": "c2b_register",
    "/mpesa/c2b/v2/registerurl": "c2b_register",
    "/mpesa/c2b/v1/simulate": "c2b_simulate",
}


def create_app(simulator: Simulator | None = None) -> FastAPI:
    sim = simulator or Simulator()
    app = FastAPI(
        title="Kibeti Daraja simulator", docs_url="/simulator/docs", openapi_url="/simulator/openapi.json"
    )
    app.state.simulator = sim

    @app.middleware("http")
    async def announce(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        response.headers["X-Daraja-Simulator"] = "kibeti"
        return response

    @app.get("/")
    async def root() -> dict[str, Any]:
        return ANNOUNCE

    @app.get("/oauth/v1/generate")
    async def oauth(request: Request) -> JSONResponse:
        return sim.oauth(request)

    @app.get("/simulator/certificate", response_class=PlainTextResponse)
    async def certificate() -> str:
        return sim.cert_pem.decode()

    def endpoint(name: str) -> Any:
        async def api(request: Request) -> JSONResponse:
            return await _dispatch(sim, name, request)

        return api

    for path, name in API_ROUTES.items():
        app.add_api_route(path, endpoint(name), methods=["POST"], include_in_schema=False)
    app.include_router(control_router(sim))
    _add_c2b_controls(app, sim)
    return app


def _add_c2b_controls(app: FastAPI, sim: Simulator) -> None:
    """`/simulator/c2b...`: pay the paybill from a handset and wait for the business's answers."""

    @app.get("/simulator/c2b")
    async def c2b_state() -> dict[str, Any]:
        return {
            "urls": sim.state.c2b_urls,
            "validation": sim.state.config.c2b_validation,
            "payments": [describe(t) for t in sim.state.c2b.values()],
        }

    @app.post("/simulator/c2b/settings")
    async def c2b_settings(body: C2BSettingsIn) -> dict[str, Any]:
        sim.state.config.c2b_validation = body.validation
        return {"ok": True, "validation": body.validation}

    @app.post("/simulator/c2b/pay")
    async def c2b_pay(body: C2BPaymentIn) -> JSONResponse:
        made = sim.new_c2b(msisdn=body.msisdn, amount=body.amount, account=body.account)
        if isinstance(made, JSONResponse):
            return made
        txn = await sim.pay_bill(made, validation=body.validation, deliveries=body.deliveries)
        return JSONResponse(describe(txn))

    @app.post("/simulator/c2b/{trans_id}/resend")
    async def c2b_resend(trans_id: str) -> JSONResponse:
        txn = sim.state.c2b.get(trans_id)
        if txn is None or txn.status != "completed":
            return JSONResponse({"detail": "no such completed TransID"}, status_code=404)
        await sim.confirm_c2b(txn)
        return JSONResponse(describe(txn))


async def _dispatch(sim: Simulator, name: str, request: Request) -> JSONResponse:
    if sim.state.spike():
        return _error(500, "500.003.02", "Spike arrest violation")
    if not sim.authorised(request):
        if name.startswith("stk"):
            return _error(404, "404.001.03", "Invalid Access Token")
        return _error(401, "401.002.01", "Invalid Access Token")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _error(400, "400.002.05", "Invalid Request Payload")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "400.002.05", "Invalid Request Payload")
    if not isinstance(body, dict):
        return _error(400, "400.002.05", "Invalid Request Payload")
    if name == "b2c":
        return await sim.b2c(body)
    if name == "b2b":
        return await sim.b2b(body)
    if name == "stk_push":
        return await sim.stk_push(body)
    result: JSONResponse = getattr(sim, name)(body)
    return result


def main(argv: list[str] | None = None) -> None:
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
