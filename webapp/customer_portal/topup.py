"""Add money: top up the KES wallet by card or Airtel Money (core.rails.topups.start_topup). The
page starts a PesaPal order and links its payment page (`pay_at`, our short link that waits while
the order is submitted); the link goes by SMS too. No PIN: nothing leaves the wallet, and the KES
is credited only on the rail's own confirmed status. The form carries a one-time key, so a double
tap or a resubmitted form makes one order."""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from core.errors import KibetiError
from core.money import Asset, parse_amount
from core.quotes.errors import AmountTooLarge, AmountTooSmall
from core.rails.topups import start_topup
from webapp.customer_portal.auth import PREFIX, CustomerPage, customer_of, render
from webapp.customer_portal.errors import refusal
from webapp.deps_auth import get_runtime
from webapp.web import forms, i18n
from webapp.web.portal import Page

log = logging.getLogger(__name__)
router = APIRouter(prefix=PREFIX, include_in_schema=False)


class TopupForm(BaseModel):
    amount: str = Field(min_length=1, max_length=24)
    nonce: str = Field(min_length=8, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")


def _form(page: Page, status: int = 200, errors: dict[str, str] | None = None, amount: str = "") -> Response:
    values = {"amount": amount, "nonce": secrets.token_urlsafe(12)}
    return render(page, "app/topup.html", status, errors=errors or {}, values=values)


@router.get("/topup")
async def topup_form(page: CustomerPage) -> Response:
    return _form(page)


@router.post("/topup")
async def topup_start(page: CustomerPage) -> Response:
    result = await forms.parse(TopupForm, await page.request.form(), page.language)
    typed = result.values.get("amount", "")
    if result.value is None:
        return _form(page, 422, result.errors, typed)
    rt = get_runtime(page.request)
    customer = customer_of(page)
    try:
        amount = parse_amount(result.value.amount, Asset.KES)
        receipt = await start_topup(
            rt, customer_id=customer.customer_id, amount=amount,
            idempotency_key=f"web:{customer.device_id[:16]}:topup:{result.value.nonce}",
        )  # fmt: skip
    except (AmountTooSmall, AmountTooLarge):
        return _form(page, 422, {"amount": i18n.text("app.topup.range", page.language)}, typed)
    except KibetiError as exc:
        log.info("portal top-up refused: %s %s", getattr(exc, "code", ""), exc)
        message = refusal(exc, page.language, rt.settings.at_shortcode)
        return _form(page, 422, {"amount": message}, typed)
    return render(page, "app/receipt.html", op="topup", receipt=receipt)
