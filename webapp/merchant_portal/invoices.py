"""Invoices (list with a status filter, keyset pages), a new payment link, an invoice's detail with
its payments and their on-chain links; settlements with their CSV statements."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from core.errors import KibetiError
from core.i18n.catalog import has
from core.invoices import service as invoices
from core.invoices.errors import InvalidInvoiceAmount, InvoiceLimitExceeded, UnknownInvoice
from core.invoices.types import InvoiceStatus
from core.merchants import service as merchants
from core.money import Asset, Money, parse_amount
from core.settlements import settle
from core.settlements.errors import UnknownSettlement
from core.settlements.statement import carried, statement_csv
from webapp.deps_auth import DbSession, get_runtime
from webapp.merchant_portal.auth import PREFIX, OwnerPage, ViewerPage, render, viewer_of
from webapp.web import forms, i18n
from webapp.web.portal import Page, WebError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
STATUSES = [status.value for status in InvoiceStatus]
EXPLORERS = {
    Asset.BTC: "https://mempool.space/tx/{}",
    Asset.USDT_ERC20: "https://etherscan.io/tx/{}",
    Asset.USDT_TRC20: "https://tronscan.org/#/transaction/{}",
}


class NewLinkForm(BaseModel):
    amount: str = Field(min_length=1, max_length=20)
    description: str = Field(default="", max_length=200)
    order_id: str = Field(default="", max_length=64)


def tx_link(asset: Asset, reference: str) -> str:
    """The block explorer's page of a payment's transaction ('' for M-Pesa and other rails)."""
    txid = reference.split(":", 1)[0]
    template = EXPLORERS.get(asset)
    return template.format(txid) if template and len(txid) >= 32 else ""


@router.get("/")
async def invoice_list(page: ViewerPage, session: DbSession) -> Response:
    params = page.request.query_params
    status = params.get("status") if params.get("status") in STATUSES else None
    cursor = params.get("cursor") or None
    try:
        rows, next_cursor = await invoices.list_invoices(
            session=session, merchant_id=viewer_of(page).merchant.id, cursor=cursor, status=status, limit=25
        )
    except (KibetiError, ValueError):
        rows, next_cursor = [], None  # a cursor that was tampered with: the first page is not it
    await session.commit()
    return render(
        page,
        "merchant/invoices.html",
        rows=rows,
        chosen=status or "",
        statuses=STATUSES,
        next_cursor=next_cursor,
    )


@router.get("/invoices/new")
async def new_link_form(page: OwnerPage) -> Response:
    return render(page, "merchant/new_link.html", errors={}, values={})


@router.post("/invoices/new")
async def new_link(page: OwnerPage, session: DbSession) -> Response:
    result = await forms.parse(NewLinkForm, await page.request.form(), page.language)
    if result.value is None:
        return render(page, "merchant/new_link.html", 422, errors=result.errors, values=result.values)
    rt = get_runtime(page.request)
    if rt.chains is None:
        raise WebError(503, "web.error.unavailable", page.language)
    form = result.value
    merchant_id = viewer_of(page).merchant.id
    try:  # typed as the customer portal and USSD take it ("1,500", "1 500"), at most 2 decimals
        amount = parse_amount(form.amount, Asset.KES)
    except KibetiError:
        message = i18n.text("merchant.invoice.bad_amount", page.language)
        return render(page, "merchant/new_link.html", 422, errors={"amount": message}, values=result.values)
    try:
        view = await invoices.create_invoice_view(
            session=session, merchant_id=merchant_id, clock=rt.clock, chains=rt.chains,
            request=invoices.NewInvoice(
                amount=str(amount.amount), description=form.description, order_id=form.order_id
            ),
        )  # fmt: skip
    except KibetiError as exc:
        await session.rollback()
        message = await _refused(page, session, merchant_id, exc)
        return render(page, "merchant/new_link.html", 422, errors={"amount": message}, values=result.values)
    await session.commit()
    return page.redirect(f"{PREFIX}/invoices/{view.invoice.public_id}", notice="merchant.notice.link_created")


async def _refused(page: Page, session: DbSession, merchant_id: int, exc: KibetiError) -> str:
    """Why no link was made, in the viewer's language (core's reason is English)."""
    language = page.language
    if isinstance(exc, InvoiceLimitExceeded):
        merchant = await merchants.get_merchant(session=session, merchant_id=merchant_id)
        limit = Money.from_minor(merchant.invoice_limit_minor, Asset.KES).amount
        return i18n.text("merchant.invoice.over_limit", language, limit=f"{limit:,.2f}")
    if isinstance(exc, InvalidInvoiceAmount):  # a positive amount under KES 1.00
        return i18n.text("merchant.invoice.too_small", language)
    code = getattr(exc, "code", "") or ""
    if language != "en" and has(f"error.{code}"):
        return i18n.text(f"error.{code}", language)
    return i18n.text("merchant.invoice.refused", language, reason=str(exc))


async def _own_invoice(page: Page, session: DbSession, public_id: str) -> invoices.InvoiceView:
    try:
        view = await invoices.get_invoice(session=session, invoice_id=public_id[:64])
    except UnknownInvoice:
        view = None
    if view is None or view.invoice.merchant_id != viewer_of(page).merchant.id:
        raise WebError(404, "web.error.not_found", page.language)  # another merchant's: not found
    return view


@router.get("/invoices/{public_id}")
async def invoice_detail(public_id: str, page: ViewerPage, session: DbSession) -> Response:
    view = await _own_invoice(page, session, public_id)
    await session.commit()
    return render(
        page, "merchant/invoice.html", view=view, tx_link=tx_link, checkout=f"/i/{view.invoice.public_id}"
    )


@router.get("/settlements")
async def settlement_list(page: ViewerPage, session: DbSession) -> Response:
    before = page.request.query_params.get("before", "")
    rows = await settle.list_settlements(
        session=session, merchant_id=viewer_of(page).merchant.id,
        before_id=int(before) if before.isdigit() and len(before) < 18 else None, limit=26,
    )  # fmt: skip
    more = len(rows) > 25
    rows = rows[:25]
    carry = {row.id: await carried(session=session, settlement=row) for row in rows}
    await session.commit()
    return render(
        page, "merchant/settlements.html", rows=rows, carry=carry,
        next_before=rows[-1].id if more and rows else None,
    )  # fmt: skip


@router.get("/settlements/{settlement_id}/statement.csv")
async def settlement_csv(settlement_id: int, page: ViewerPage, session: DbSession) -> Response:
    try:
        text = await statement_csv(
            session=session, settlement_id=settlement_id, merchant_id=viewer_of(page).merchant.id
        )
    except UnknownSettlement as exc:
        raise WebError(404, "web.error.not_found", page.language) from exc
    await session.commit()
    headers = {"Content-Disposition": f'attachment; filename="kibeti-settlement-{settlement_id}.csv"'}
    return page.respond(Response(text, media_type="text/csv", headers=headers))
