"""Merchants (staff with merchants.manage): create (pending), list, show, activate (after the
compliance screen of the business and its directors), suspend. Every move is audited by the service.
API keys (POST /api/staff/api-keys) are issued only to a merchant that exists here."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, NoReturn, Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from core.auth.permissions import Permission
from core.auth.types import SignedInStaff
from core.invoices import service as invoices
from core.merchants import service as merchants
from core.merchants.errors import (
    InvalidMerchant,
    MerchantScreeningHeld,
    MerchantStateConflict,
    TillCodeTaken,
    UnknownMerchant,
)
from webapp.deps_auth import DbSession, get_runtime, require_permission

router = APIRouter(prefix="/api/staff", tags=["staff"])

MerchantsStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.MERCHANTS_MANAGE))]
MerchantId = Annotated[int, Path(ge=1, le=2**62)]
MerchantErrors = (InvalidMerchant, MerchantStateConflict, TillCodeTaken, UnknownMerchant)


def _fail(exc: InvalidMerchant | MerchantStateConflict | TillCodeTaken | UnknownMerchant) -> NoReturn:
    raise HTTPException(exc.http_status, {"code": exc.code, "message": str(exc)}) from exc


class NewMerchant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=100)
    kra_pin: str = Field(default="", max_length=11)
    registration_number: str = Field(default="", max_length=40)
    directors: list[Annotated[str, Field(min_length=2, max_length=100)]] = Field(default=[], max_length=10)
    contact_phone: str = Field(default="", max_length=32)
    notification_phones: list[Annotated[str, Field(max_length=32)]] = Field(default=[], max_length=5)
    language: Literal["en", "sw"] = "en"
    settlement_method: Literal["till", "paybill", "phone"] | None = None
    settlement_till: str = Field(default="", max_length=10)
    settlement_paybill: str = Field(default="", max_length=10)
    settlement_account: str = Field(default="", max_length=20)
    settlement_phone: str = Field(default="", max_length=32)
    settlement_schedule: Literal["instant", "daily"] = "instant"
    settlement_minimum: Decimal | None = Field(default=None, ge=0, le=250_000, decimal_places=2)
    fee_bps: int = Field(default=150, ge=100, le=200)
    invoice_expiry_minutes: int = Field(default=15, ge=1, le=1440)
    payment_tolerance_bps: int = Field(default=0, ge=0, le=1000)
    till_code: str | None = Field(default=None, pattern=r"^[1-9]\d{5}$")


class Suspension(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=3, max_length=200)


class MerchantRow(Protocol):
    """What this API reads of a merchant core.merchants returns."""

    id: int
    name: str
    status: str
    active: bool
    till_code: str | None
    kra_pin: str
    registration_number: str
    directors: list[str]
    contact_phone: str
    notification_phones: list[str]
    language: str
    settlement_method: str
    settlement_till: str
    settlement_paybill: str
    settlement_account: str
    settlement_phone: str
    settlement_schedule: str
    settlement_minimum_minor: int
    fee_bps: int
    invoice_expiry_minutes: int
    payment_tolerance_bps: int
    screening_outcome: str
    created_at: datetime
    activated_at: datetime | None
    suspended_at: datetime | None
    suspension_reason: str


class MerchantOut(BaseModel):
    id: int
    name: str
    status: str
    active: bool
    till_code: str | None
    kra_pin: str
    registration_number: str
    directors: list[str]
    contact_phone: str
    notification_phones: list[str]
    language: str
    settlement_method: str
    settlement_till: str
    settlement_paybill: str
    settlement_account: str
    settlement_phone: str
    settlement_schedule: str
    settlement_minimum: str
    fee_bps: int
    invoice_expiry_minutes: int
    payment_tolerance_bps: int
    screening_outcome: str
    created_at: datetime
    activated_at: datetime | None
    suspended_at: datetime | None
    suspension_reason: str

    @classmethod
    def of(cls, row: MerchantRow) -> MerchantOut:
        return cls(
            id=row.id,
            name=row.name,
            status=row.status,
            active=row.active,
            till_code=row.till_code,
            kra_pin=row.kra_pin,
            registration_number=row.registration_number,
            directors=list(row.directors),
            contact_phone=row.contact_phone,
            notification_phones=list(row.notification_phones),
            language=row.language,
            settlement_method=row.settlement_method,
            settlement_till=row.settlement_till,
            settlement_paybill=row.settlement_paybill,
            settlement_account=row.settlement_account,
            settlement_phone=row.settlement_phone,
            settlement_schedule=row.settlement_schedule,
            settlement_minimum=f"{Decimal(row.settlement_minimum_minor) / 100:.2f}",
            fee_bps=row.fee_bps,
            invoice_expiry_minutes=row.invoice_expiry_minutes,
            payment_tolerance_bps=row.payment_tolerance_bps,
            screening_outcome=row.screening_outcome,
            created_at=row.created_at,
            activated_at=row.activated_at,
            suspended_at=row.suspended_at,
            suspension_reason=row.suspension_reason,
        )


@router.post("/merchants", response_model=MerchantOut, status_code=status.HTTP_201_CREATED)
async def create_merchant(
    body: NewMerchant, request: Request, session: DbSession, staff: MerchantsStaff
) -> MerchantOut:
    fields = body.model_dump(exclude={"settlement_minimum"})
    try:
        row = await merchants.create_merchant(
            session=session,
            actor=f"staff:{staff.id}",
            clock=get_runtime(request).clock,
            settlement_minimum=body.settlement_minimum,
            **fields,
        )
    except MerchantErrors as exc:
        _fail(exc)
    await session.commit()
    return MerchantOut.of(row)


@router.get("/merchants", response_model=list[MerchantOut])
async def list_merchants(
    session: DbSession,
    _staff: MerchantsStaff,
    merchant_status: Annotated[
        Literal["pending", "active", "suspended"] | None, Query(alias="status")
    ] = None,
) -> list[MerchantOut]:
    rows = await merchants.list_merchants(session=session, status=merchant_status)
    return [MerchantOut.of(row) for row in rows]


@router.get("/merchants/{merchant_id}", response_model=MerchantOut)
async def show_merchant(merchant_id: MerchantId, session: DbSession, _staff: MerchantsStaff) -> MerchantOut:
    try:
        return MerchantOut.of(await merchants.get_merchant(session=session, merchant_id=merchant_id))
    except UnknownMerchant as exc:
        _fail(exc)


@router.post("/merchants/{merchant_id}/activate", response_model=MerchantOut)
async def activate_merchant(
    merchant_id: MerchantId, request: Request, session: DbSession, staff: MerchantsStaff
) -> MerchantOut:
    runtime = get_runtime(request)
    try:
        await merchants.get_merchant(session=session, merchant_id=merchant_id)
    except UnknownMerchant as exc:
        _fail(exc)
    if runtime.compliance is None:  # a deployment without its compliance adapter: nobody is screened
        raise HTTPException(
            503, {"code": "compliance_unavailable", "message": "no compliance gate configured"}
        )
    try:
        result = await merchants.activate_merchant(
            session=session,
            merchant_id=merchant_id,
            actor=f"staff:{staff.id}",
            clock=runtime.clock,
            compliance=runtime.compliance,
        )
    except MerchantErrors as exc:
        _fail(exc)
    await session.commit()  # a held screen's rows and alerts are kept too
    if not result.activated:
        held = MerchantScreeningHeld(
            f"the screen of the business or a director came back {result.screening}: "
            "a compliance officer reviews the alert before activation"
        )
        raise HTTPException(held.http_status, {"code": held.code, "message": str(held)})
    return MerchantOut.of(result.merchant)


class ReviewInvoiceOut(BaseModel):
    id: str
    merchant_id: int
    status: str
    additional_status: str
    kes_amount: str
    expires_at: datetime
    payments: list[str]  # "<amount> <asset> <status>[ late][ (reason)]"


@router.get("/invoices/needs-review", response_model=list[ReviewInvoiceOut])
async def invoices_needing_review(session: DbSession, _staff: MerchantsStaff) -> list[ReviewInvoiceOut]:
    """Invoices with money staff must decide on: paid late (pay at the new rate or refund), paid with
    another token, or confirmed after they expired or went invalid. Oldest first."""
    rows = await invoices.needing_review(session=session, limit=200)
    answer = []
    for row in rows:
        view = await invoices.view(session=session, invoice=row)
        answer.append(
            ReviewInvoiceOut(
                id=row.public_id,
                merchant_id=row.merchant_id,
                status=row.status,
                additional_status=row.additional_status,
                kes_amount=f"{view.kes_amount.amount:.2f}",
                expires_at=row.expires_at,
                payments=[
                    f"{p.amount.amount:f} {p.asset.value} {p.status}{' late' if p.late else ''}"
                    + (f" ({p.reason})" if p.reason else "")
                    for p in view.payments
                ],
            )
        )
    return answer


@router.post("/merchants/{merchant_id}/suspend", response_model=MerchantOut)
async def suspend_merchant(
    merchant_id: MerchantId, body: Suspension, request: Request, session: DbSession, staff: MerchantsStaff
) -> MerchantOut:
    try:
        row = await merchants.suspend_merchant(
            session=session,
            merchant_id=merchant_id,
            actor=f"staff:{staff.id}",
            clock=get_runtime(request).clock,
            reason=body.reason,
        )
    except MerchantErrors as exc:
        _fail(exc)
    await session.commit()
    return MerchantOut.of(row)
