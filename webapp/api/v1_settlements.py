"""Merchant API: settlements (GET /api/v1/settlements, /{id}, /{id}/statement.csv) and the balance
left to settle (GET /api/v1/settlements/balance). Scope `invoices:read`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from core.settlements import settle as settling
from core.settlements import statement
from core.settlements.models import Settlement
from core.settlements.service import merchant_balance
from webapp.deps_auth import DbSession
from webapp.merchant_auth import MerchantPrincipal, merchant_api_router, require_scope

router = merchant_api_router(prefix="/settlements", tags=("merchant API: settlements",))
Reader = Annotated[MerchantPrincipal, Depends(require_scope("invoices:read"))]


def _kes(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


class SettlementOut(BaseModel):
    id: str
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
    def of(cls, row: Settlement) -> SettlementOut:
        return cls(
            id=f"S{row.id}", status=row.status, method=row.method, destination=row.destination,
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


@router.get("", response_model=SettlementPage)
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


@router.get("/balance", response_model=BalanceOut)
async def balance(principal: Reader, session: DbSession) -> BalanceOut:
    """What the next settlement would pay from (settled payments less fees and refunds, less what is
    on its way to M-Pesa)."""
    available = await merchant_balance(session, principal.merchant_id)
    await session.commit()  # the balance account may have just been opened
    return BalanceOut(available=_kes(available.minor))


@router.get("/{settlement_id}", response_model=SettlementOut)
async def get_settlement(settlement_id: str, principal: Reader, session: DbSession) -> SettlementOut:
    row = await settling.get_settlement(
        session=session, settlement_id=_number(settlement_id), merchant_id=principal.merchant_id
    )
    return SettlementOut.of(row)


@router.get(
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
