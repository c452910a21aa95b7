"""PesaPal: the IPN and the customer's return, our short payment links, staff views, and the
simulator the embedded default mounts.

GET or POST /pesapal/ipn (OrderTrackingId, OrderMerchantReference, OrderNotificationType): only a
hint. It is recorded; for an order of ours it stages our own GetTransactionStatus
(core.rails.jobs.confirm_order), whose answer alone moves money. Answered with PesaPal's JSON
(`status` 200 for an order we know, 500 for one we never made, which stays flagged for staff).
GET /pesapal/return: where PesaPal sends the customer back (a hint too). GET /p/<code>: the short
link the payment SMS carries, redirecting to PesaPal's page. Staff: flagged and reversed orders,
unmatched notifications, and a refund (never above what was paid; recorded and held before
PesaPal is asked; accepted by PesaPal it waits, still held, for approval on PesaPal's dashboard;
booked only when PesaPal's status shows it made, never re-sent: core.rails.refund_requests; its
hold released only by two staff: core.rails.refund_release).
`open_reversal_case` is the job core stages when PesaPal reverses a payment we had credited: an
alert and a compliance case. `open_refund_case` is the one core.rails.refunds stages about a refund:
made after its hold was released with the wallet short (alert and case), unknown too long (alert),
accepted and not approved on PesaPal's dashboard too long (alert), accepted after two staff released
its hold (alert and case), or a Reversed status after a partial refund (alert and case).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import logging
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from core import runtime
from core.auth.permissions import Permission
from core.auth.types import SignedInStaff
from core.errors import KibetiError
from core.identity.errors import InvalidPhoneNumber
from core.identity.phone import normalize_phone
from core.ledger.errors import InsufficientFunds
from core.money import Asset, Money, format_money
from core.rails import invoices as rail_invoices
from core.rails import refund_release, refund_requests
from core.rails import refunds as rail_refunds
from core.rails import service as rail_orders
from core.rails.errors import (
    RailError,
    RefundAwaitingOutcome,
    RefundInProgress,
    RefundOnceOnly,
    UnknownRailOrder,
)
from core.runtime import Runtime
from payouts.pesapal import adapter, wire
from webapp.deps_auth import DbSession, get_runtime, require_permission

log = logging.getLogger(__name__)
SIMULATOR_PREFIX = adapter.EMBEDDED_SIMULATOR_PATH
PayoutsStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.PAYOUTS_READ))]
RefundStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.PAYOUTS_APPROVE))]


def simulator_mounted(current: Runtime) -> bool:
    return current.pesapal_simulator is not None and not current.settings.is_production


async def register_ipn_when_listening(current: Runtime, attempts: int = 60, pause_s: float = 0.25) -> bool:
    """At start-up: GetIpnList, and RegisterIPN if our URL is missing, once PesaPal (or the simulator
    this process serves) answers. Never raises: `kibeti pesapal register-ipn` does it too."""
    if adapter.RAIL not in current.collection_rails:
        return False
    if simulator_mounted(current):
        url = adapter.base_url(current.settings)
        async with httpx.AsyncClient(transport=adapter.TRANSPORT) as http:
            for _ in range(attempts):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{url}/", timeout=2)).status_code == 200:
                        break
                await asyncio.sleep(pause_s)
    try:
        ipn_id = await adapter.register_ipn(current)
    except (RailError, httpx.HTTPError, OSError) as exc:
        log.warning("PesaPal IPN URL not registered at start-up: %s", exc)
        return False
    log.info("PesaPal IPN URL registered (ipn_id %s)", ipn_id)
    return True


@contextlib.asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    task = None
    current = getattr(getattr(app, "state", None), "runtime", None)  # set by the app's own lifespan
    if current is not None:  # None: an app without the lifespan
        task = asyncio.create_task(register_ipn_when_listening(current))
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


router = APIRouter(tags=["pesapal"], lifespan=_lifespan)


async def _notice_fields(request: Request) -> dict[str, str]:
    fields = {k: str(v) for k, v in request.query_params.items()}
    if request.method == "POST":
        with contextlib.suppress(ValueError):
            body = json.loads(await request.body() or b"{}")
            if isinstance(body, dict):
                fields.update({k: str(v) for k, v in body.items() if isinstance(v, str | int)})
    return fields


async def _hint(request: Request, session: DbSession, default_kind: str) -> tuple[dict[str, str], bool]:
    fields = await _notice_fields(request)
    tracking = fields.get("OrderTrackingId", "")[:64]
    reference = fields.get("OrderMerchantReference", "")[:64]
    kind = fields.get("OrderNotificationType", default_kind)[:24]
    order = await rail_orders.note_notice(
        session=session, rail=adapter.RAIL, kind=kind, tracking_id=tracking, merchant_reference=reference,
        raw=dict(list(fields.items())[:10]),
    )  # fmt: skip
    await session.commit()
    if order is None:
        log.warning("PesaPal %s for an order we never made (tracking %s): flagged", kind, tracking)
    return fields, order is not None


@router.api_route("/pesapal/ipn", methods=["GET", "POST"], include_in_schema=False)
async def ipn(request: Request, session: DbSession) -> JSONResponse:
    fields, known = await _hint(request, session, wire.NOTIFICATION_IPN)
    answer = wire.ipn_answer(
        notification_type=fields.get("OrderNotificationType", wire.NOTIFICATION_IPN),
        tracking_id=fields.get("OrderTrackingId", ""),
        merchant_reference=fields.get("OrderMerchantReference", ""),
        ok=known,
    )
    return JSONResponse(answer)


RETURN_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Kibeti</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem">
<h1>Kibeti</h1><p id="message">{message}</p><p lang="sw">{message_sw}</p></body></html>"""


@router.get("/pesapal/return", include_in_schema=False)
async def customer_return(request: Request, session: DbSession) -> HTMLResponse:
    _, known = await _hint(request, session, wire.NOTIFICATION_CALLBACK)
    if not known:
        page = RETURN_PAGE.format(message="We do not know this payment.", message_sw="Hatuijui malipo haya.")
        return HTMLResponse(page, status_code=404)
    return HTMLResponse(
        RETURN_PAGE.format(
            message="Thank you. We are confirming your payment with PesaPal; an SMS follows.",
            message_sw="Asante. Tunathibitisha malipo yako na PesaPal; utapokea SMS.",
        )
    )


WAIT_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Kibeti</title>
<meta http-equiv="refresh" content="2">
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem">
<h1>Kibeti</h1><p id="message">Preparing your payment page&hellip;</p>
<p lang="sw">Tunaandaa ukurasa wa malipo&hellip;</p>
</body></html>"""


@router.get("/p/{code}", include_in_schema=False)
async def payment_link(code: str, session: DbSession) -> Response:
    """The short link: to PesaPal's page while the order waits for payment; a page that refreshes
    itself while the order is still being submitted; a plain answer once it is finished."""
    order = await rail_orders.order_by_link(session=session, code=code[:16])
    if order is not None and order.status in ("created", "submitting"):
        return HTMLResponse(WAIT_PAGE)
    if order is not None and order.status == "pending" and order.redirect_url:
        return RedirectResponse(order.redirect_url, status_code=303)
    text = "This payment is already finished." if order is not None else "This payment link is not valid."
    return HTMLResponse(RETURN_PAGE.format(message=html.escape(text), message_sw=""), status_code=404)


@router.post("/i/{invoice_id}/card", include_in_schema=False)
async def pay_invoice_by_card(invoice_id: str, request: Request, session: DbSession) -> Response:
    """The hosted checkout's "Card or Airtel Money": an order for the invoice's remaining KES, then
    the payer's browser goes to its short link, which leads on to PesaPal's page."""
    current = get_runtime(request)
    form = await request.form()
    language = "sw" if str(form.get("lang", "")) == "sw" else "en"
    back = f"/i/{html.escape(invoice_id[:64])}?lang={language}"
    if adapter.RAIL not in current.collection_rails:
        return RedirectResponse(f"{back}&card=unavailable", status_code=303)
    try:
        phone = normalize_phone(str(form.get("phone", ""))[:40])
    except InvalidPhoneNumber:
        return RedirectResponse(f"{back}&card=bad_phone", status_code=303)
    window = int(current.clock.now().timestamp()) // 60  # a double tap makes one order
    try:
        order = await rail_invoices.pay_invoice_by_link(
            session=session, invoice_id=invoice_id[:64], phone=phone, rail=adapter.RAIL, clock=current.clock,
            idempotency_key=f"checkout-card:{invoice_id[:64]}:{phone}:{window}",
        )  # fmt: skip
    except KibetiError:
        await session.rollback()
        return RedirectResponse(f"{back}&card=not_payable", status_code=303)
    await session.commit()
    return RedirectResponse(f"/p/{order.link_code}", status_code=303)


def _order_view(order: Any) -> dict[str, Any]:
    return {
        "id": order.id, "rail": order.rail, "status": order.status, "reference": order.merchant_reference,
        "tracking_id": order.tracking_id, "customer_id": order.customer_id,
        "amount": str(Money.from_minor(order.amount_minor, Asset.KES).amount), "currency": order.currency,
        "confirmation": order.confirmation, "method": order.method, "reason": order.flag_reason,
        "refunded": str(Money.from_minor(order.refunded_minor, Asset.KES).amount),
        "updated_at": order.updated_at,
    }  # fmt: skip


@router.get("/api/staff/pesapal/flagged")
async def flagged(staff: PayoutsStaff, session: DbSession) -> dict[str, Any]:
    """Orders PesaPal's status disagreed with (flagged) or reversed after a credit, and notifications
    that named no order of ours."""
    orders, notices = await rail_orders.flagged(session=session)
    return {
        "orders": [_order_view(o) for o in orders],
        "unmatched_notices": [
            {"id": n.id, "kind": n.kind, "tracking_id": n.tracking_id, "reference": n.merchant_reference,
             "at": n.created_at}
            for n in notices
        ],
    }  # fmt: skip


def _one_refund_only(order: Any) -> str:
    """PesaPal takes one refund per payment (its Refund Request rules): what staff do instead."""
    refunded = format_money(Money.from_minor(order.refunded_minor, Asset.KES))
    left = format_money(Money.from_minor(order.amount_minor - order.refunded_minor, Asset.KES))
    return (
        f"PesaPal takes one refund per payment and this one was already refunded {refunded}; nothing "
        f"was sent or debited. The other {left} stays in the customer's Kibeti wallet: they can cash "
        "it out to M-Pesa (sell or withdraw on USSD, Telegram or the app)."
    )


class RefundBody(BaseModel):
    amount: str
    remarks: str = "refund"


@router.post("/api/staff/pesapal/orders/{order_id}/refund")
async def refund(
    order_id: int, body: RefundBody, staff: RefundStaff, session: DbSession, request: Request
) -> JSONResponse:
    """Give a completed payment back to the card or Airtel Money wallet it came from: at most what
    was paid, out of what the customer still holds. The refund is recorded and its amount held on the
    wallet before PesaPal is asked: 200 when PesaPal's status shows it made (booked), 409 when PesaPal
    refused it (released, and what to do next), 202 `refund_awaiting_approval` when PesaPal accepted
    it (PesaPal makes it only once the merchant approves it on PesaPal's dashboard: still held,
    nothing debited, booked once its status shows it made), 202 when its outcome is unknown (still
    held until PesaPal's status shows it made, or two staff release it). Asking again while a refund
    of the payment has no outcome checks that status first and never sends a second one: 200 when
    it shows it made, else 409 refund_awaiting_outcome saying what staff do next."""
    try:
        amount = Money.of(body.amount, Asset.KES)
    except (InvalidOperation, ValueError, KibetiError) as exc:
        raise HTTPException(422, "amount: a KES amount such as 100.00") from exc
    current = get_runtime(request)
    rail_name = (await rail_orders.get_order(session=session, order_id=order_id)).rail
    await session.rollback()  # the refund runs in its own transactions
    rail = current.collection_rails.get(rail_name)
    if rail is None:
        raise HTTPException(503, f"rail {rail_name} is not wired")
    try:
        outcome = await refund_requests.request_refund(
            factory=current.session_factory, rail=rail, order_id=order_id, amount=amount,
            staff_email=staff.email, remarks=body.remarks[:100], actor=f"staff:{staff.id}",
            one_per_payment=rail_name == adapter.RAIL,
        )  # fmt: skip
    except RefundOnceOnly as exc:
        order = await rail_orders.get_order(session=session, order_id=order_id)
        raise HTTPException(409, {"code": exc.code, "message": _one_refund_only(order)}) from exc
    except InsufficientFunds as exc:
        raise HTTPException(409, "the customer's KES wallet holds less than the refund") from exc
    except RefundAwaitingOutcome as exc:  # never a second RefundRequest while one has no outcome
        raise HTTPException(409, {"code": exc.code, "message": str(exc), "refund_id": exc.refund_id}) from exc
    except RefundInProgress as exc:
        raise HTTPException(
            409, {"code": exc.code, "message": "another refund of this payment is open"}
        ) from exc
    except RailError as exc:
        raise HTTPException(409, str(exc)) from exc
    async with current.session_factory() as fresh:
        order = await rail_orders.get_order(session=fresh, order_id=order_id)
        row = await rail_refunds.get_refund(session=fresh, refund_id=outcome.refund_id)
        answer = {**_order_view(order), "refund": refund_requests.view(row), "message": outcome.message}
    if outcome.status == rail_refunds.RefundStatus.REFUNDED.value:
        return JSONResponse(jsonable_encoder(answer))
    if outcome.status == rail_refunds.RefundStatus.REFUSED.value:
        return JSONResponse(jsonable_encoder({"code": "refund_refused", **answer}), status_code=409)
    if outcome.status == rail_refunds.RefundStatus.ACCEPTED.value:  # not made: awaits the merchant
        return JSONResponse(jsonable_encoder({"code": "refund_awaiting_approval", **answer}), status_code=202)
    return JSONResponse(jsonable_encoder(answer), status_code=202)  # unknown, or on the wire


@router.get("/api/staff/pesapal/orders/{order_id}/refunds")
async def refunds_of_order(order_id: int, staff: PayoutsStaff, session: DbSession) -> dict[str, Any]:
    """The payment and every refund asked of it, each with its state and what it means."""
    order = await rail_orders.get_order(session=session, order_id=order_id)
    rows = await rail_refunds.refunds_of(session=session, order_id=order_id)
    return {**_order_view(order), "refunds": [refund_requests.view(row) for row in rows]}


@router.get("/api/staff/pesapal/refunds")
async def open_refunds(staff: PayoutsStaff, session: DbSession) -> dict[str, Any]:
    """Refunds not settled yet, each held: being sent, their outcome unknown, or accepted by PesaPal
    and waiting for approval on PesaPal's dashboard (PesaPal's status is asked every few minutes),
    each with the release two staff may have begun (`release_proposed`)."""
    rows = await rail_refunds.open_refunds(session=session)
    shown = []
    for row in rows:
        proposal = await refund_release.proposal_of(session=session, refund_id=row.id)
        release = {"proposed_by": proposal.maker, "reason": proposal.reason} if proposal else None
        shown.append({**refund_requests.view(row), "release_proposed": release})
    return {"refunds": shown}


class ReleaseBody(BaseModel):
    reason: str  # what PesaPal's dashboard showed


@router.post("/api/staff/pesapal/refunds/{refund_id}/release")
async def propose_refund_release(
    refund_id: int, body: ReleaseBody, staff: RefundStaff, session: DbSession
) -> JSONResponse:
    """ "PesaPal has no such refund: release the hold" (for one PesaPal accepted: declined or never
    approved there), proposed by a staff member who checked PesaPal's dashboard (a refund waiting for
    the merchant's approval shows there too). Nothing is released until a different staff member
    confirms: 202 proposed."""
    reason = " ".join(body.reason.split())
    if len(reason) < 10:
        raise HTTPException(422, "reason: what PesaPal's dashboard showed (at least 10 characters)")
    try:
        await refund_release.propose_release(
            session=session, refund_id=refund_id, maker=f"staff:{staff.id}", reason=reason
        )
    except UnknownRailOrder as exc:
        raise HTTPException(404, str(exc)) from exc
    except RailError as exc:
        raise HTTPException(409, {"code": exc.code, "message": str(exc)}) from exc
    await session.commit()
    message = (
        f"Release of refund {refund_id} proposed: nothing is released yet. A different staff member "
        f"checks PesaPal's dashboard and confirms (POST /api/staff/pesapal/refunds/{refund_id}/release/"
        "confirm); PesaPal's status is asked once more then."
    )
    return JSONResponse({"refund_id": refund_id, "status": "release_proposed", "message": message}, 202)


@router.post("/api/staff/pesapal/refunds/{refund_id}/release/confirm")
async def confirm_refund_release(
    refund_id: int, staff: RefundStaff, session: DbSession, request: Request
) -> JSONResponse:
    """The second staff member confirms the proposed release (never the one who proposed it): the
    hold is voided once and the refund is not_refunded; if PesaPal's status shows it made meanwhile,
    it is booked instead and nothing is released."""
    current = get_runtime(request)
    try:
        rail_name = (await rail_refunds.get_refund(session=session, refund_id=refund_id)).rail
    except UnknownRailOrder as exc:
        raise HTTPException(404, str(exc)) from exc
    await session.rollback()  # the release runs in its own transactions
    rail = current.collection_rails.get(rail_name)
    if rail is None:
        raise HTTPException(503, f"rail {rail_name} is not wired")
    try:
        outcome = await refund_release.confirm_release(
            factory=current.session_factory, rail=rail, refund_id=refund_id, checker=f"staff:{staff.id}"
        )
    except RailError as exc:
        raise HTTPException(409, {"code": exc.code, "message": str(exc)}) from exc
    async with current.session_factory() as fresh:
        row = await rail_refunds.get_refund(session=fresh, refund_id=refund_id)
        answer = {"refund": refund_requests.view(row), "message": outcome.message}
    return JSONResponse(jsonable_encoder(answer))


async def open_reversal_case(order_id: int) -> int:
    """Job: PesaPal reversed a payment we had credited: an alert and a case for compliance/ops staff
    (the money was taken back by core.rails.service in a new entry). Idempotent per order."""
    from compliance import cases

    current = runtime.get()
    now = current.clock.now()
    async with current.session_factory() as session:
        order = await rail_orders.get_order(session=session, order_id=order_id)
        alert = await cases.raise_alert(
            session=session, dedupe_key=f"rail-reversal:{order.id}", customer_id=order.customer_id,
            source="rail", rule_code="collection_reversed", score=80,
            summary=f"PesaPal reversed {order.currency} {Decimal(order.amount_minor) / 100} after it was "
            f"credited ({order.merchant_reference}); {order.flag_reason}",
            details={"rail_order_id": order.id, "confirmation": order.confirmation},
            movement_ids=[], now=now,
        )  # fmt: skip
        if alert.case_id is None:
            case = await cases.open_case(
                session=session, title=f"Collection reversed after credit: {order.merchant_reference}",
                actor="system:pesapal", now=now, alert_ids=[alert.id], priority="high",
            )  # fmt: skip
            await session.commit()
            return case.id
        await session.commit()
        return alert.case_id


def _refund_alert_text(kind: str, order: Any, row: Any) -> tuple[str, int, str]:
    """(summary, score, case title or "" for an alert without a case)."""
    paid = format_money(Money.from_minor(order.amount_minor, Asset.KES))
    refunded = format_money(Money.from_minor(order.refunded_minor, Asset.KES))
    ref = order.merchant_reference
    if kind == rail_refunds.CASE_SHORT and row is not None:
        amount = format_money(Money.from_minor(row.amount_minor, Asset.KES))
        return (
            f"PesaPal made refund {row.id} of {amount} ({ref}) after its hold was released; the wallet no "
            f"longer covered it: {row.outcome}",
            80,
            f"Refund made after release, wallet short: {ref}",
        )
    if kind == rail_refunds.CASE_LONG_UNKNOWN and row is not None:
        amount = format_money(Money.from_minor(row.amount_minor, Asset.KES))
        return (
            f"PesaPal refund {row.id} of {amount} ({ref}) has had no known outcome for {row.checks} status "
            "checks (still held, still checked). Next: check PesaPal's dashboard (a refund awaiting the "
            "merchant's approval leaves the payment Completed: approve it there); if PesaPal has no such "
            f"refund, two staff release the hold. Last: {row.outcome}",
            50,
            "",
        )
    if kind == rail_refunds.CASE_AWAITING_APPROVAL and row is not None:
        amount = format_money(Money.from_minor(row.amount_minor, Asset.KES))
        return (  # at most 300 characters are kept: what next comes first
            f"PesaPal refund {row.id} of {amount} ({ref}): accepted by PesaPal, waiting for approval on "
            "PesaPal's dashboard (not made; held, nothing debited). Next: approve it there (booked once "
            "PesaPal shows it made); if declined there, two staff release the hold.",
            50,
            "",
        )
    if kind == rail_refunds.CASE_ACCEPTED_AFTER_RELEASE and row is not None:
        amount = format_money(Money.from_minor(row.amount_minor, Asset.KES))
        return (  # at most 300 characters are kept
            f"PesaPal accepted refund {row.id} of {amount} ({ref}) after two staff released its hold: "
            "PesaPal makes it if the merchant approves it on its dashboard. Next: decline it there unless "
            "wanted; if made, it is booked once (the wallet as far as it goes, the rest owed).",
            70,
            f"Refund accepted after its hold was released: {ref}",
        )
    return (
        f"PesaPal reports {ref} Reversed but we refunded {refunded} of the {paid} paid: check with PesaPal "
        "whether the rest was charged back",
        70,
        f"Reversed after a partial refund: {ref}",
    )


async def open_refund_case(kind: str, order_id: int, refund_id: int = 0) -> int:
    """Job core.rails.refunds stages: a staff alert about a refund (`kind`: refunds.CASE_*), and a
    case unless it only asks staff to watch (a long unknown). Idempotent per kind and subject.
    Returns the alert's id."""
    from compliance import cases

    current = runtime.get()
    now = current.clock.now()
    async with current.session_factory() as session:
        order = await rail_orders.get_order(session=session, order_id=order_id)
        row = await rail_refunds.get_refund(session=session, refund_id=refund_id) if refund_id else None
        summary, score, title = _refund_alert_text(kind, order, row)
        subject = f"refund:{refund_id}" if refund_id else f"order:{order_id}"
        alert = await cases.raise_alert(
            session=session, dedupe_key=f"rail-{kind}:{subject}", customer_id=order.customer_id,
            source="rail", rule_code=kind, score=score, summary=summary,
            details={"rail_order_id": order.id, "rail_refund_id": refund_id,
                     "confirmation": order.confirmation},
            movement_ids=[], now=now,
        )  # fmt: skip
        if title and alert.case_id is None:
            await cases.open_case(
                session=session, title=title[:200], actor="system:pesapal", now=now, alert_ids=[alert.id],
                priority="high",
            )  # fmt: skip
        await session.commit()
        return alert.id


class EmbeddedSimulator:
    """The PesaPal simulator mounted in-process at /pesapal-sim, only when the Runtime has one (the
    embedded default and tests, never production); otherwise 404."""

    def __init__(self) -> None:
        self._apps: dict[int, Any] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        current = get_runtime(Request(scope)) if scope["type"] == "http" else None  # the app's own
        simulator = current.pesapal_simulator if current is not None and simulator_mounted(current) else None
        if simulator is None:
            await JSONResponse({"detail": "not found"}, status_code=404)(scope, receive, send)
            return
        app = self._apps.get(id(simulator))
        if app is None:
            app = self._apps[id(simulator)] = simulator.create_app()
        await app(scope, receive, send)


router.mount(SIMULATOR_PREFIX, EmbeddedSimulator())
