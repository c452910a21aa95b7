"""Merchant API: invoices (/api/v1/invoices), after BTCPay Server's Greenfield invoice model.

`Authorization: Bearer <key>` with `invoices:write` (create) or `invoices:read` (read, list);
`Idempotency-Key` on POST; errors as `{code, message}`; newest-first cursor pagination.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from core.invoices import service as invoices
from core.invoices.errors import InvalidInvoice, UnknownInvoice
from core.invoices.types import InvoiceStatus
from webapp.deps_auth import DbSession, get_runtime
from webapp.merchant_auth import MerchantPrincipal, idempotent, merchant_api_router, require_scope

router = merchant_api_router(prefix="/invoices", tags=("merchant API: invoices",))

Writer = Annotated[MerchantPrincipal, Depends(require_scope("invoices:write"))]
Reader = Annotated[MerchantPrincipal, Depends(require_scope("invoices:read"))]
InvoiceId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_]+$")]


class CreateInvoice(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount": "2500.00",
                    "currency": "KES",
                    "payment_methods": ["BTC", "USDT-ERC20", "USDT-TRC20"],
                    "order_id": "order-1042",
                    "description": "2 bags of cement",
                }
            ]
        },
    )
    amount: StrictStr | StrictInt | StrictFloat = Field(
        description='In `currency`, at most 2 decimals; a string is best ("2500.00").'
    )
    currency: StrictStr = Field(default="KES", max_length=8, description="KES or USD.")
    payment_methods: list[Annotated[str, Field(max_length=20)]] | None = Field(
        default=None,
        max_length=3,
        description="Networks to accept (default all): BTC, USDT-ERC20, USDT-TRC20.",
    )
    order_id: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=200)
    buyer_phone: str = Field(default="", max_length=32)
    buyer_email: str = Field(default="", max_length=254)
    redirect_url: str = Field(default="", max_length=500)
    metadata: dict[str, Any] = Field(default_factory=dict)


class PaymentMethodOut(BaseModel):
    asset: str
    address: str = Field(description="This invoice's own address on the network ('' for M-Pesa, KES).")
    rate: str = Field(description="KES per unit, locked until the invoice expires.")
    due: str = Field(description="The whole invoice in this asset.")
    paid: str
    remaining: str = Field(description="What is left to pay, in this asset alone.")
    confirmations_required: int
    demo: bool = Field(description="An address of the public demo wallet: never send real funds.")


class PaymentOut(BaseModel):
    asset: str
    source: Literal["chain", "mpesa"]
    reference: str
    amount: str
    status: Literal["seen", "confirmed", "orphaned", "flagged"]
    reason: str
    late: bool
    seen_at: datetime
    confirmed_at: datetime | None


class InvoiceOut(BaseModel):
    id: str
    status: Literal["new", "processing", "settled", "expired", "invalid"]
    additional_status: Literal["none", "paid_partial", "paid_over", "paid_late"]
    amount: str
    currency: str
    kes_amount: str
    order_id: str
    description: str
    buyer_phone: str
    buyer_email: str
    redirect_url: str
    metadata: dict[str, Any]
    checkout_link: str
    created_at: datetime
    expires_at: datetime
    monitoring_until: datetime
    settled_at: datetime | None
    needs_review: bool
    paid_fraction: str
    payment_methods: list[PaymentMethodOut]
    payments: list[PaymentOut]

    @classmethod
    def of(cls, view: invoices.InvoiceView, base_url: str) -> InvoiceOut:
        row = view.invoice
        return cls(
            id=row.public_id,
            status=row.status,
            additional_status=row.additional_status,
            amount=f"{Decimal(row.amount_minor) / 100:.2f}",
            currency=row.currency,
            kes_amount=f"{view.kes_amount.amount:.2f}",
            order_id=row.order_id,
            description=row.description,
            buyer_phone=row.buyer_phone,
            buyer_email=row.buyer_email,
            redirect_url=row.redirect_url,
            metadata=row.extra,
            checkout_link=f"{base_url.rstrip('/')}/i/{row.public_id}",
            created_at=row.created_at,
            expires_at=row.expires_at,
            monitoring_until=row.monitoring_until,
            settled_at=row.settled_at,
            needs_review=row.needs_review,
            paid_fraction=f"{view.paid_fraction:.6f}",
            payment_methods=[
                PaymentMethodOut(
                    asset=m.asset.value,
                    address=m.address,
                    rate=str(m.rate),
                    due=_plain(m.due.amount),
                    paid=_plain(m.paid.amount),
                    remaining=_plain(m.remaining.amount),
                    confirmations_required=m.confirmations_required,
                    demo=m.demo,
                )
                for m in view.methods
            ],
            payments=[
                PaymentOut(
                    asset=p.asset.value,
                    source=p.source,
                    reference=p.reference,
                    amount=_plain(p.amount.amount),
                    status=p.status,
                    reason=p.reason,
                    late=p.late,
                    seen_at=p.seen_at,
                    confirmed_at=p.confirmed_at,
                )
                for p in view.payments
            ],
        )


class InvoicePage(BaseModel):
    data: list[InvoiceOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last."
    )


def _plain(amount: Decimal) -> str:
    """A decimal in fixed notation ("0.00000000", never "0E-8")."""
    return f"{amount:f}"


def _amount_text(value: str | int | float) -> str:
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form: 2500.5 -> "2500.5"; never binary noise
    return str(value)


@router.post("", status_code=201, response_model=InvoiceOut, summary="Create an invoice")
async def create_invoice(
    body: CreateInvoice, request: Request, session: DbSession, principal: Writer
) -> JSONResponse:
    """Locks the rate for the merchant's expiry and gives each network its own address.
    With `Idempotency-Key`, a retry answers the first response; another body with it answers 409."""
    runtime = get_runtime(request)
    chains = runtime.chains
    if chains is None:
        raise InvalidInvoice("no chain gateway is configured: crypto invoices are unavailable")

    async def work() -> tuple[int, InvoiceOut]:
        view = await invoices.create_invoice_view(
            session=session,
            merchant_id=principal.merchant_id,
            request=invoices.NewInvoice(
                amount=_amount_text(body.amount),
                currency=body.currency,
                networks=body.payment_methods,
                order_id=body.order_id,
                description=body.description,
                buyer_phone=body.buyer_phone,
                buyer_email=body.buyer_email,
                redirect_url=body.redirect_url,
                metadata=body.metadata,
            ),
            clock=runtime.clock,
            chains=chains,
            key_id=principal.key_id,
        )
        return 201, InvoiceOut.of(view, str(request.base_url))

    return await idempotent(request=request, session=session, principal=principal, work=work)


@router.get("", response_model=InvoicePage, summary="List invoices, newest first")
async def list_invoices(
    request: Request,
    session: DbSession,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[InvoiceStatus | None, Query()] = None,
    order_id: Annotated[str | None, Query(max_length=64)] = None,
) -> InvoicePage:
    rows, next_cursor = await invoices.list_invoices(
        session=session,
        merchant_id=principal.merchant_id,
        limit=limit,
        cursor=cursor,
        status=status.value if status else None,
        order_id=order_id,
    )
    base = str(request.base_url)
    data = [InvoiceOut.of(await invoices.view(session=session, invoice=row), base) for row in rows]
    return InvoicePage(data=data, next_cursor=next_cursor)


@router.get("/{invoice_id}", response_model=InvoiceOut, summary="Get an invoice")
async def get_invoice(
    invoice_id: InvoiceId, request: Request, session: DbSession, principal: Reader
) -> InvoiceOut:
    view = await invoices.get_invoice(
        session=session, invoice_id=invoice_id, clock=get_runtime(request).clock
    )
    if view.invoice.merchant_id != principal.merchant_id:  # another merchant's: as if it did not exist
        raise UnknownInvoice(f"no invoice {invoice_id!r}")
    await session.commit()  # an expiry noticed on the way
    return InvoiceOut.of(view, str(request.base_url))
