"""Money pages: buy (M-Pesa STK push, or a payment link on another network), sell to M-Pesa, send
to a phone, withdraw to an address. Each is form -> quote (the same CoreFlows quote USSD shows) ->
PIN -> the same confirm use case; the idempotency key is the device's and the quote's, so a double
tap or a resubmitted form moves money once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from core.errors import KibetiError
from core.flows.service import CoreFlows
from core.flows.types import QuoteView, Receipt
from core.ledger.errors import InsufficientFunds
from core.money import Asset, Money, parse_amount
from webapp.customer_portal.auth import PREFIX, CustomerPage, customer_of, render
from webapp.customer_portal.errors import refusal
from webapp.deps_auth import get_runtime
from webapp.web import forms
from webapp.web.portal import Page, WebError

log = logging.getLogger(__name__)
router = APIRouter(prefix=PREFIX, include_in_schema=False)
CRYPTO = {asset.value: asset for asset in (Asset.BTC, Asset.USDT_ERC20, Asset.USDT_TRC20)}
ASSET_PATTERN = "^(BTC|USDT-ERC20|USDT-TRC20)$"


@dataclass(frozen=True)
class Operation:
    name: str  # buy | sell | send | withdraw
    amount_in: str  # "KES" or "asset": what the amount field is typed in


OPERATIONS = {
    "buy": Operation("buy", "KES"),
    "sell": Operation("sell", "asset"),
    "send": Operation("send", "asset"),
    "withdraw": Operation("withdraw", "asset"),
}


class QuoteForm(BaseModel):
    asset: str = Field(pattern=ASSET_PATTERN)
    amount: str = Field(min_length=1, max_length=24)
    phone: str = Field(default="", max_length=20, pattern=r"^[0-9 +()-]*$")
    address: str = Field(default="", max_length=120, pattern=r"^[A-Za-z0-9]*$")


class ConfirmForm(BaseModel):
    quote_id: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_:-]+$")
    asset: str = Field(pattern=ASSET_PATTERN)
    pin: str = Field(min_length=4, max_length=4, pattern=r"^[0-9]{4}$")
    phone: str = Field(default="", max_length=20, pattern=r"^[0-9 +()-]*$")
    address: str = Field(default="", max_length=120, pattern=r"^[A-Za-z0-9]*$")


def _operation(name: str, page: Page) -> Operation:
    operation = OPERATIONS.get(name)
    if operation is None:
        raise WebError(404, "web.error.not_found", page.language)
    return operation


def _flows(page: Page) -> CoreFlows:
    return CoreFlows(get_runtime(page.request))


def _shortcode(page: Page) -> str:
    return get_runtime(page.request).settings.at_shortcode


def _form(page: Page, operation: Operation, status: int = 200, **context: Any) -> Response:
    context.setdefault("errors", {})
    context.setdefault("values", {"asset": "USDT-TRC20"})
    return render(page, "app/move.html", status, op=operation.name, assets=list(CRYPTO), **context)


@router.get("/{name}")
async def move_form(name: str, page: CustomerPage) -> Response:
    operation = _operation(name, page)
    wanted = page.request.query_params.get("asset", "")
    return _form(page, operation, values={"asset": wanted if wanted in CRYPTO else "USDT-TRC20"})


@router.post("/{name}/quote")
async def move_quote(name: str, page: CustomerPage) -> Response:
    operation = _operation(name, page)
    result = await forms.parse(QuoteForm, await page.request.form(), page.language)
    if result.value is None:
        return _form(page, operation, 422, errors=result.errors, values=result.values)
    form = result.value
    asset = CRYPTO[form.asset]
    customer_id = customer_of(page).customer_id
    flows = _flows(page)
    recipient_name: str | None = None
    try:
        amount = parse_amount(form.amount, Asset.KES if operation.amount_in == "KES" else asset)
    except KibetiError as exc:
        return _form(
            page,
            operation,
            422,
            errors={"amount": refusal(exc, page.language, _shortcode(page))},
            values=result.values,
        )
    try:
        await flows.check_amount(customer_id=customer_id, kind=operation.name, amount=amount)
        if operation.name != "buy":
            await _check_funds(flows, customer_id, amount)
        quote: QuoteView
        if operation.name == "buy":
            quote = await flows.quote_buy(customer_id=customer_id, asset=asset, kes_amount=amount)
        elif operation.name == "sell":
            quote = await flows.quote_sell(customer_id=customer_id, amount=amount)
        elif operation.name == "send":
            recipient = await flows.find_recipient(customer_id=customer_id, phone_text=form.phone)
            recipient_name = recipient.name
            quote = await flows.quote_send(customer_id=customer_id, to_phone=recipient.phone, amount=amount)
            result.values["phone"] = recipient.phone
        else:
            quote = await flows.quote_withdraw(customer_id=customer_id, amount=amount, address=form.address)
    except KibetiError as exc:
        field = {"send": "phone", "withdraw": "address"}.get(operation.name, "amount")
        if getattr(exc, "code", "").startswith(("amount", "limit", "insufficient", "invalid_amount")):
            field = "amount"
        return _form(
            page,
            operation,
            422,
            errors={field: refusal(exc, page.language, _shortcode(page))},
            values=result.values,
        )
    return render(
        page, "app/confirm.html", op=operation.name, quote=quote, asset=form.asset,
        recipient_name=recipient_name, values=result.values, errors={},
    )  # fmt: skip


async def _check_funds(flows: CoreFlows, customer_id: int, amount: Money) -> None:
    """Say so before the PIN, as USSD does; the confirm use case checks again under its locks."""
    for line in await flows.balances(customer_id=customer_id):
        if line.asset is amount.asset and line.amount < amount:
            raise InsufficientFunds("not enough in the wallet")


async def _confirm(page: Page, operation: Operation, form: ConfirmForm) -> Receipt:
    customer = customer_of(page)
    flows = _flows(page)
    key = f"web:{customer.device_id[:16]}:{form.quote_id}"
    common: dict[str, Any] = {
        "customer_id": customer.customer_id,
        "quote_id": form.quote_id,
        "pin": form.pin,
        "idempotency_key": key,
    }
    if operation.name == "buy":
        return await flows.confirm_buy(**common)
    if operation.name == "sell":
        return await flows.confirm_sell(**common)
    if operation.name == "send":
        return await flows.confirm_send(to_phone=form.phone, **common)
    return await flows.confirm_withdraw(address=form.address, **common)


@router.post("/{name}/confirm")
async def move_confirm(name: str, page: CustomerPage) -> Response:
    operation = _operation(name, page)
    result = await forms.parse(ConfirmForm, await page.request.form(), page.language)
    if result.value is None:
        log.info("portal confirm form refused: %s", sorted(result.errors))
        if set(result.errors) == {"pin"}:
            return render(
                page, "app/pin_again.html", 422, op=operation.name, values=result.values, errors=result.errors
            )
        return _form(
            page, operation, 422, errors={"_form": refusal(KibetiError(), page.language, _shortcode(page))}
        )
    try:
        receipt = await _confirm(page, operation, result.value)
    except KibetiError as exc:
        log.info("portal confirm refused: %s %s %s", operation.name, getattr(exc, "code", ""), exc)
        message = refusal(exc, page.language, _shortcode(page))
        if getattr(exc, "code", "") == "pin_incorrect":
            return render(
                page,
                "app/pin_again.html",
                422,
                op=operation.name,
                values=result.values,
                errors={"pin": message},
            )
        return _form(page, operation, 422, errors={"_form": message}, values={"asset": result.value.asset})
    return render(page, "app/receipt.html", op=operation.name, receipt=receipt)
