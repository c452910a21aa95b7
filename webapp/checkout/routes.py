"""The hosted checkout page, served to anyone with the link (no login):

- GET /i/<id>: the amount in KES, a tab per network (the crypto amount, its own address, a QR code a
  wallet scans, a plain warning about the network), M-Pesa, a countdown to expiry and the status.
  English or Swahili (?lang=sw, else Accept-Language). Works without JavaScript (the page refreshes
  itself every 30 s); with it, /static/checkout/checkout.js switches tabs, ticks the countdown,
  copies addresses and polls the status.
- GET /i/<id>/status.json: the status the script polls.
- POST /i/<id>/mpesa: an STK push for the remaining KES to the phone given
  (core.invoices.flows.pay_by_mpesa, the existing collection path), then back to the page.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from babel.numbers import format_currency
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup

from core.errors import KibetiError
from core.i18n.catalog import LANGUAGES, normalize_language
from core.identity.errors import InvalidPhoneNumber
from core.identity.phone import normalize_phone
from core.invoices import flows as invoice_flows
from core.invoices import service as invoices
from core.invoices.errors import InvoiceNotPayable, UnknownInvoice
from core.invoices.service import InvoiceView, MethodView
from core.invoices.types import InvoiceStatus
from core.money import Asset, Money
from core.ratelimit import Limit, RateLimiterUnavailable
from webapp.checkout.qr import qr_svg
from webapp.checkout.uris import payment_uri
from webapp.deps_auth import DbSession, get_rate_limiter, get_runtime
from webapp.web import i18n
from webapp.web.templating import base_context, make_environment

router = APIRouter(include_in_schema=False)

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/static/checkout"  # under /static: not counted against the per-IP limit
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes browsers send Origin: null on our own form
}
INVOICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
MPESA_PER_INVOICE = Limit("checkout_mpesa_invoice", 5, 600)  # STK pushes asked per invoice
STK_WINDOW_SECONDS = 120  # M-Pesa refuses the same amount to the same phone within 2 minutes
NETWORK_KEYS = {Asset.BTC: "btc", Asset.USDT_TRC20: "trc20", Asset.USDT_ERC20: "erc20"}


def _language(request: Request) -> str:
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        return chosen
    accepted = request.headers.get("accept-language", "")
    return normalize_language(accepted.split(",", 1)[0].split(";", 1)[0].strip() or None)


@dataclass(frozen=True)
class Tab:
    key: str  # the panel's id: pay-btc, pay-trc20, pay-erc20, pay-mpesa
    network: str  # btc | trc20 | erc20 | mpesa
    method: MethodView
    send: Money  # what to send now on this network
    uri: str = ""
    qr: Markup | None = None


def _send_amount(method: MethodView) -> Money:
    return method.remaining if method.remaining.minor > 0 else method.due


def _tabs(view: InvoiceView, *, erc20_contract: str, label: str) -> list[Tab]:
    tabs: list[Tab] = []
    for method in view.methods:
        if method.asset is Asset.KES:
            continue
        network = NETWORK_KEYS[method.asset]
        send = _send_amount(method)
        uri = payment_uri(method.asset, method.address, send, erc20_contract=erc20_contract, label=label)
        tabs.append(
            Tab(
                key=f"pay-{network}",
                network=network,
                method=method,
                send=send,
                uri=uri,
                qr=qr_svg(uri, label=f"{method.asset.value} {method.address}"),
            )
        )
    kes = view.method(Asset.KES)
    if kes is not None:
        whole = Money.of(math.ceil(_send_amount(kes).amount), Asset.KES)  # M-Pesa moves whole shillings
        tabs.append(Tab(key="pay-mpesa", network="mpesa", method=kes, send=whole))
    return tabs


def _payable(view: InvoiceView, now: datetime) -> bool:
    return view.status == InvoiceStatus.NEW.value and now < view.expires_at


def _state(view: InvoiceView) -> str:
    """Changes whenever the page would show something else (the script reloads then)."""
    return f"{view.status}|{view.additional_status}|{view.paid_fraction}|{len(view.payments)}"


def _seconds_left(view: InvoiceView, now: datetime) -> int:
    return max(0, int((view.expires_at - now).total_seconds()))


def _clock_text(seconds: int) -> str:
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**PAGE_HEADERS, **(extra or {})}


def _not_found(language: str) -> HTMLResponse:
    env = make_environment([TEMPLATES])
    html = env.get_template("checkout/not_found.html").render(**base_context(language))
    return HTMLResponse(html, status_code=404, headers=_headers())


async def _view(request: Request, session: DbSession, invoice_id: str) -> InvoiceView | None:
    if not INVOICE_ID.match(invoice_id):
        return None
    try:
        view = await invoices.get_invoice(
            session=session, invoice_id=invoice_id, clock=get_runtime(request).clock
        )
    except UnknownInvoice:
        return None
    await session.commit()  # an invoice found past its expiry has just been expired
    return view


def _render(
    request: Request,
    view: InvoiceView,
    language: str,
    *,
    status: int = 200,
    notice: str = "",
    error: str = "",
    phone: str = "",
    **values: Any,
) -> HTMLResponse:
    runtime = get_runtime(request)
    now = runtime.clock.now()
    invoice = view.invoice
    tabs = _tabs(view, erc20_contract=runtime.settings.usdt_erc20_contract, label=view.merchant_name[:40])
    if invoice.currency == "KES":
        amount_text = i18n.money(view.kes_amount, language)
    else:
        dollars = Decimal(invoice.amount_minor) / 100
        amount_text = format_currency(dollars, "USD", locale=i18n.babel_locale(language))
    seconds = _seconds_left(view, now)
    redirect = invoice.redirect_url if urlsplit(invoice.redirect_url).scheme in ("http", "https") else ""
    other = "sw" if language == "en" else "en"
    context = {
        **base_context(language),
        "view": view,
        "invoice": invoice,
        "tabs": tabs,
        "amount_text": amount_text,
        "kes_text": i18n.money(view.kes_amount, language),
        "payable": _payable(view, now),
        "seconds_left": seconds,
        "clock_text": _clock_text(seconds),
        "expires_iso": view.expires_at.isoformat(),
        "expires_text": i18n.when(view.expires_at, language, "short"),
        "state": _state(view),
        "notice": notice,
        "error": error,
        "phone": phone,
        "redirect_url": redirect,
        "other_language": other,
        # an amount to send: every decimal of the asset's scale (what the wallet must send exactly)
        "money": lambda amount: i18n.money(amount, language, exact=True),
        "kes_rate": lambda rate: i18n.money(
            Money.of(Decimal(rate).quantize(Decimal("0.01")), Asset.KES), language
        ),
        "values": values,
    }
    html = make_environment([TEMPLATES]).get_template("checkout/invoice.html").render(**context)
    return HTMLResponse(html, status_code=status, headers=_headers())


@router.get("/i/{invoice_id}", response_class=HTMLResponse)
async def checkout_page(invoice_id: str, request: Request, session: DbSession) -> Response:
    language = _language(request)
    view = await _view(request, session, invoice_id)
    if view is None:
        return _not_found(language)
    notice = ""
    if request.query_params.get("mpesa") == "sent" and _payable(view, get_runtime(request).clock.now()):
        notice = "checkout.mpesa.sent"  # until the payment arrives: then the status says it
    card = request.query_params.get("card", "")  # back from "Card or Airtel Money" (webapp/api/pesapal.py)
    error = f"checkout.card.{card}" if card in ("bad_phone", "not_payable", "unavailable") else ""
    return _render(request, view, language, notice=notice, error=error)


@router.get("/i/{invoice_id}/status.json")
async def checkout_status(invoice_id: str, request: Request, session: DbSession) -> JSONResponse:
    view = await _view(request, session, invoice_id)
    if view is None:
        return JSONResponse(
            {"code": "invoice_not_found", "message": "no such invoice"},
            status_code=404,
            headers={"Cache-Control": "no-store"},
        )
    now = get_runtime(request).clock.now()
    return JSONResponse(
        {
            "id": view.public_id,
            "status": view.status,
            "additional_status": view.additional_status,
            "paid_fraction": str(view.paid_fraction),
            "expires_at": view.expires_at.isoformat(),
            "seconds_left": _seconds_left(view, now),
            "payable": _payable(view, now),
            "state": _state(view),
        },
        headers={"Cache-Control": "no-store"},
    )


def _same_origin(request: Request) -> bool:
    """A browser names the page a POST comes from; a form on another site may not start pushes."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == request.headers.get("host", request.url.netloc)


@router.post("/i/{invoice_id}/mpesa", response_model=None)
async def pay_with_mpesa(invoice_id: str, request: Request, session: DbSession) -> Response:
    language = _language(request)
    view = await _view(request, session, invoice_id)
    if view is None:
        return _not_found(language)
    if not _same_origin(request):
        raise HTTPException(403, "cross-site form")
    form = await request.form()
    raw_phone = str(form.get("phone", ""))[:40]
    runtime = get_runtime(request)
    try:
        msisdn = normalize_phone(raw_phone)
    except InvalidPhoneNumber:
        return _render(request, view, language, status=422, error="checkout.mpesa.bad_phone", phone=raw_phone)
    if not _payable(view, runtime.clock.now()):
        return _render(
            request, view, language, status=409, error="checkout.mpesa.not_payable", phone=raw_phone
        )
    try:
        decision = await get_rate_limiter(runtime).hit(MPESA_PER_INVOICE, f"invoice:{view.public_id}")
    except RateLimiterUnavailable as exc:  # Redis down: no push unlimited; the buyer tries again shortly
        busy = _render(
            request, view, language, status=503, error="error.service_unavailable", phone=raw_phone
        )
        busy.headers["Retry-After"] = str(exc.retry_after)
        return busy
    if not decision.allowed:
        return _render(request, view, language, status=429, error="checkout.mpesa.too_many", phone=raw_phone)
    window = int(runtime.clock.now().timestamp()) // STK_WINDOW_SECONDS
    try:
        await invoice_flows.pay_by_mpesa(
            session=session,
            invoice_id=view.public_id,
            phone=msisdn,
            clock=runtime.clock,
            idempotency_key=f"checkout:{view.public_id}:{msisdn}:{window}",  # a double tap pushes once
        )
    except InvoiceNotPayable:
        await session.rollback()
        return _render(
            request, view, language, status=409, error="checkout.mpesa.not_payable", phone=raw_phone
        )
    except KibetiError:
        await session.rollback()
        return _render(
            request, view, language, status=409, error="checkout.mpesa.unavailable", phone=raw_phone
        )
    await session.commit()
    query = f"?lang={language}&mpesa=sent"
    return RedirectResponse(f"/i/{view.public_id}{query}", status_code=303, headers=_headers())


@router.get(STATIC_PREFIX + "/{name}")
async def checkout_static(name: str) -> FileResponse:
    path = STATIC_DIR / name
    if "/" in name or name.startswith(".") or path.suffix not in _TYPES or not path.is_file():
        raise HTTPException(404)
    return FileResponse(
        path, media_type=_TYPES[path.suffix], headers={"Cache-Control": "public, max-age=3600"}
    )
