"""Refunds: the merchant API (POST /api/v1/refunds with `refunds:write`, GET /api/v1/refunds/{id}),
staff (POST /api/staff/merchants/{id}/refunds with settlements.manage, audited) and the payer's
one-time refund link (/refund/{token}: enter a crypto address; validated, screened, sent)."""

from __future__ import annotations

import html
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from core.audit import service as audit
from core.auth.permissions import Permission
from core.auth.types import SignedInStaff
from core.errors import InvalidAmount, KibetiError
from core.flows.errors import ServiceUnavailable
from core.money import Asset, Money, parse_amount
from core.settlements import refunds
from webapp.deps_auth import DbSession, get_runtime, require_permission
from webapp.merchant_auth import MerchantPrincipal, idempotent, merchant_api_router, require_scope

merchant_router = merchant_api_router(prefix="/refunds", tags=("merchant API: refunds",))
staff_router = APIRouter(prefix="/api/staff", tags=["staff"])
link_router = APIRouter(tags=["refund link"])
Writer = Annotated[MerchantPrincipal, Depends(require_scope("refunds:write"))]
SettlementsStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.SETTLEMENTS_MANAGE))]


class NewRefund(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payment: str = Field(
        min_length=1, max_length=40, description="the invoice id, or a KP... payment reference"
    )
    amount: str | None = Field(default=None, max_length=20, description="KES; all that is left when omitted")
    reason: str = Field(default="", max_length=200)
    excess: bool = Field(default=False, description="refund only what was paid beyond what was credited")


def _amount(text: str | None) -> Money | None:
    if text is None:
        return None
    try:
        return parse_amount(text, Asset.KES)
    except InvalidAmount as exc:
        raise refunds.RefundAmountInvalid(f"{text!r} is not an amount in KES (e.g. 1250.50)") from exc


def _body(request: Request, created: refunds.Created) -> dict[str, Any]:
    out = refunds.public(created.refund)
    if created.link_token:
        out["refund_link"] = str(request.base_url).rstrip("/") + refunds.LINK_PATH + created.link_token
    return out


@merchant_router.post("", status_code=201)
async def create_refund(
    body: NewRefund, request: Request, principal: Writer, session: DbSession
) -> JSONResponse:
    """Refund all or part of a paid invoice or Kibeti payment: to the payer's Kibeti wallet at once
    when paid from Kibeti; otherwise the answer's `refund_link` (shown once) is for the payer to enter
    a crypto address. Never more than was paid and not yet refunded."""

    async def work() -> tuple[int, Any]:
        created = await refunds.create_refund(
            session=session, merchant_id=principal.merchant_id, payment=body.payment,
            amount=_amount(body.amount),
            idempotency_key=request.headers.get("idempotency-key") or uuid.uuid4().hex,
            actor=f"api_key:{principal.key_id}", reason=body.reason, excess=body.excess,
        )  # fmt: skip
        return 201, _body(request, created)

    return await idempotent(request=request, session=session, principal=principal, work=work)


@merchant_router.get("/{refund_id}")
async def get_refund(refund_id: str, principal: Writer, session: DbSession) -> dict[str, Any]:
    row = await refunds.get_refund(session=session, merchant_id=principal.merchant_id, public_id=refund_id)
    return refunds.public(row)


@staff_router.post("/merchants/{merchant_id}/refunds", status_code=201)
async def staff_refund(
    merchant_id: int, body: NewRefund, request: Request, staff: SettlementsStaff, session: DbSession
) -> JSONResponse:
    try:
        created = await refunds.create_refund(
            session=session, merchant_id=merchant_id, payment=body.payment, amount=_amount(body.amount),
            idempotency_key=request.headers.get("idempotency-key") or uuid.uuid4().hex,
            actor=f"staff:{staff.id}", reason=body.reason, excess=body.excess,
        )  # fmt: skip
    except KibetiError as exc:
        status = int(getattr(exc, "http_status", 400))
        return JSONResponse({"code": exc.code, "message": str(exc)}, status_code=status)
    await audit.record(
        session=session, actor=f"staff:{staff.id}", action="refund.created",
        subject=f"merchant:{merchant_id}",
        details={"refund_id": created.refund.public_id, "payment": body.payment,
                 "amount_minor": created.refund.amount_minor},
        clock=get_runtime(request).clock,
    )  # fmt: skip
    await session.commit()
    return JSONResponse(jsonable_encoder(_body(request, created)), status_code=201)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(title)}</title></head>"
        "<body style='font-family:sans-serif;max-width:32em;margin:1em'>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(page, status_code=status)


@link_router.get("/refund/{token}", response_class=HTMLResponse)
async def refund_link(token: str, session: DbSession) -> HTMLResponse:
    try:
        row = await refunds.by_token(session=session, token=token)
    except refunds.RefundLinkInvalid:
        return _page("Refund link", "<p>This refund link is not valid, or was used already.</p>"
                     "<p>Kiungo hiki cha kurejesha pesa si sahihi, au kimeshatumika.</p>", 404)  # fmt: skip
    amount = f"KES {row.amount_minor // 100:,}.{row.amount_minor % 100:02d}"
    if row.amount_minor == 0:  # an overpayment's excess: the crypto itself
        amount = str(Money.from_minor(row.payout_minor, Asset(row.asset)).amount) + f" {row.asset}"
    network = html.escape(row.asset)
    form = (
        f"<p>A refund of {amount} is waiting for you, paid back in {network} less the network fee.</p>"
        f"<p>Marejesho ya {amount} yanakusubiri, kwa {network} ukiondoa ada ya mtandao.</p>"
        f"<p><strong>Send only to a {network} address / Tuma tu kwa anwani ya {network}.</strong></p>"
        "<form method='post'><label>Your address / Anwani yako<br>"
        "<input name='address' size='44' required maxlength='128'></label><br>"
        "<button type='submit'>Send my refund / Tuma marejesho</button></form>"
    )
    return _page("Kibeti refund", form)


@link_router.post("/refund/{token}", response_class=HTMLResponse)
async def claim_refund(
    token: str, request: Request, session: DbSession, address: Annotated[str, Form(max_length=128)] = ""
) -> HTMLResponse:
    chains = get_runtime(request).chains
    try:
        if chains is None:
            raise ServiceUnavailable("Runtime.chains is not wired")
        row = await refunds.claim(session=session, token=token, address=address, chains=chains)
        await session.commit()
    except KibetiError as exc:
        await session.rollback()
        message = html.escape(str(exc))
        return _page("Refund not sent", f"<p>{message}</p><p>Code: {html.escape(exc.code)}</p>"
                     "<p><a href=''>Try again / Jaribu tena</a></p>", 422)  # fmt: skip
    return _page("Refund on its way", f"<p>Your refund is on its way to {html.escape(row.address)}.</p>"
                 f"<p>Marejesho yako yanatumwa kwa {html.escape(row.address)}.</p>")  # fmt: skip


router = APIRouter()
router.include_router(merchant_router)
router.include_router(staff_router)
router.include_router(link_router)
