"""Merchant API: settlements (GET /api/v1/settlements, /{id}, /{id}/statement.csv) and the balance
left to settle (GET /api/v1/settlements/balance), scope `invoices:read`. Staff (settlements.manage):
GET /api/staff/settlements (failed first: the funds are back on the merchant's balance, look into
it), POST /api/staff/settlements/run (the daily batch now, or one merchant), audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from core.audit import service as audit
from core.auth.permissions import Permission
from core.auth.types import SignedInStaff
from core.settlements import flows, queries, statement
from core.settlements import settle as settling
from core.settlements.service import merchant_balance
from webapp.deps_auth import DbSession, get_runtime, require_permission
from webapp.merchant_auth import MerchantPrincipal, merchant_api_router, require_scope

merchant_router = merchant_api_router(prefix="/settlements", tags=("merchant API: settlements",))
staff_router = APIRouter(prefix="/api/staff/settlements", tags=["staff"])
Reader = Annotated[MerchantPrincipal, Depends(require_scope("invoices:read"))]
SettlementsStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.SETTLEMENTS_MANAGE))]


def _kes(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


class SettlementRow(Protocol):
    """What this API reads of a settlement core.settlements returns."""

    id: int
    merchant_id: int
    status: str
    method: str
    destination: str
    account_reference: str
    gross_minor: int
    fee_minor: int
    refunds_minor: int
    amount_minor: int
    receipt: str | None
    failure: str
    created_at: datetime
    finished_at: datetime | None


class SettlementOut(BaseModel):
    id: str
    merchant_id: int
    status: str
    method: str
    destination: str
    account_reference: str
    gross: str
    fee: str
    refunds: str
    amount: str
    currency: str = "KES"
    mpesa_receipt: str | None
    failure: str
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: SettlementRow) -> SettlementOut:
        return cls(
            id=f"S{row.id}", merchant_id=row.merchant_id, status=row.status, method=row.method,
            destination=row.destination,
            account_reference=row.account_reference, gross=_kes(row.gross_minor), fee=_kes(row.fee_minor),
            refunds=_kes(row.refunds_minor), amount=_kes(row.amount_minor), mpesa_receipt=row.receipt,
            failure=row.failure, created_at=row.created_at, finished_at=row.finished_at,
        )  # fmt: skip


class SettlementPage(BaseModel):
    data: list[SettlementOut]
    next_cursor: str | None


class BalanceOut(BaseModel):
    available: str
    currency: str = "KES"


def _number(settlement_id: str) -> int:
    text = settlement_id[1:] if settlement_id[:1] in ("S", "s") else settlement_id
    return int(text) if text.isdigit() else 0


@merchant_router.get("", response_model=SettlementPage)
async def list_settlements(
    principal: Reader,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=24)] = None,
) -> SettlementPage:
    """Newest first; `next_cursor` fetches the next page."""
    before = _number(cursor) if cursor else None
    rows = await settling.list_settlements(
        session=session, merchant_id=principal.merchant_id, before_id=before, limit=limit + 1
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return SettlementPage(
        data=[SettlementOut.of(r) for r in rows], next_cursor=f"S{rows[-1].id}" if more and rows else None
    )


@merchant_router.get("/balance", response_model=BalanceOut)
async def balance(principal: Reader, session: DbSession) -> BalanceOut:
    """What the next settlement would pay from (settled payments less fees and refunds, less what is
    on its way to M-Pesa)."""
    available = await merchant_balance(session, principal.merchant_id)
    await session.commit()  # the balance account may have just been opened
    return BalanceOut(available=_kes(available.minor))


@merchant_router.get("/{settlement_id}", response_model=SettlementOut)
async def get_settlement(settlement_id: str, principal: Reader, session: DbSession) -> SettlementOut:
    row = await settling.get_settlement(
        session=session, settlement_id=_number(settlement_id), merchant_id=principal.merchant_id
    )
    return SettlementOut.of(row)


@merchant_router.get(
    "/{settlement_id}/statement.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the statement as CSV"}},
)
async def statement_csv(settlement_id: str, principal: Reader, session: DbSession) -> Response:
    """Every payment the settlement covers (reference, payer, gross, fee, refunds, net), the totals,
    and what M-Pesa paid with its receipt."""
    number = _number(settlement_id)
    text = await statement.statement_csv(
        session=session, settlement_id=number, merchant_id=principal.merchant_id
    )
    headers = {"Content-Disposition": f'attachment; filename="kibeti-settlement-S{number}.csv"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    merchant_id: int | None = None
    force: bool = False  # ignore the merchants' minimums (M-Pesa's still applies)


@staff_router.get("", response_model=list[SettlementOut])
async def staff_settlements(
    _staff: SettlementsStaff,
    session: DbSession,
    status: Annotated[str | None, Query(max_length=12)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[SettlementOut]:
    """Newest first, failed ones before the rest (their funds are back on the merchant's balance)."""
    rows = await queries.settlements_failed_first(session=session, status=status, limit=limit)
    return [SettlementOut.of(row) for row in rows]


@staff_router.post("/run", response_model=list[SettlementOut])
async def staff_run(
    body: RunIn, request: Request, staff: SettlementsStaff, session: DbSession
) -> list[SettlementOut]:
    """Open the settlements now (the payouts go through the usual pipeline); returns what opened."""
    runtime = get_runtime(request)
    await session.commit()  # each merchant settles in its own transaction (SQLite: one writer)
    opened = await flows.run_settlements(runtime, merchant_id=body.merchant_id, force=body.force)
    await audit.record(
        session=session, actor=f"staff:{staff.id}", action="settlement.run",
        subject=f"merchant:{body.merchant_id}" if body.merchant_id else "merchants",
        details={"opened": [row.id for row in opened], "force": body.force}, clock=runtime.clock,
    )  # fmt: skip
    await session.commit()
    return [SettlementOut.of(row) for row in opened]


router = APIRouter()
router.include_router(merchant_router)
router.include_router(staff_router)
