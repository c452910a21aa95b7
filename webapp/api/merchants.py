"""Merchants (staff with merchants.manage): POST /api/staff/merchants creates one, GET lists them.
API keys (POST /api/staff/api-keys) are issued only to a merchant that exists here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from core.auth.models import StaffUser
from core.auth.permissions import Permission
from core.merchants import service as merchants
from core.merchants.errors import InvalidMerchant
from core.merchants.models import Merchant
from webapp.deps_auth import DbSession, get_runtime, require_permission

router = APIRouter(prefix="/api/staff", tags=["staff"])

MerchantsStaff = Annotated[StaffUser, Depends(require_permission(Permission.MERCHANTS_MANAGE))]


class NewMerchant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=2, max_length=100)


class MerchantOut(BaseModel):
    id: int
    name: str
    active: bool
    created_at: datetime

    @classmethod
    def of(cls, row: Merchant) -> MerchantOut:
        return cls(id=row.id, name=row.name, active=row.active, created_at=row.created_at)


@router.post("/merchants", response_model=MerchantOut, status_code=status.HTTP_201_CREATED)
async def create_merchant(
    body: NewMerchant, request: Request, session: DbSession, staff: MerchantsStaff
) -> MerchantOut:
    try:
        row = await merchants.create_merchant(
            session=session, name=body.name, actor=f"staff:{staff.id}", clock=get_runtime(request).clock
        )
    except InvalidMerchant as exc:
        raise HTTPException(422, {"code": exc.code, "message": str(exc)}) from exc
    await session.commit()
    return MerchantOut.of(row)


@router.get("/merchants", response_model=list[MerchantOut])
async def list_merchants(session: DbSession, _staff: MerchantsStaff) -> list[MerchantOut]:
    return [MerchantOut.of(row) for row in await merchants.list_merchants(session=session)]
