"""Retrying a failed payout under maker-checker (core.payments.retries), the JSON twin of the staff
portal's payout page: POST /api/staff/payouts/{id}/retry proposes it, POST
/api/staff/payouts/retries/{id}/approve (a different person) stages the new payout, /reject drops it.
All three need payouts.approve; domain refusals answer through the one error handler."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from core.auth.permissions import Permission
from core.auth.types import SignedInStaff
from core.payments import retries
from webapp.deps_auth import DbSession, get_runtime, require_permission

router = APIRouter(prefix="/api/staff/payouts", tags=["payouts"])

Approver = Annotated[SignedInStaff, Depends(require_permission(Permission.PAYOUTS_APPROVE))]
PayoutId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
RequestId = Annotated[int, Path(ge=1, le=2**62)]


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=300)


class RetryOut(BaseModel):
    """A retry request as core.payments.retries returns it (its attributes, read by name)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    payout_id: str
    status: str
    maker_id: int
    checker_id: int | None
    retry_payout_id: str | None


@router.post("/{payout_id}/retry", response_model=RetryOut, status_code=status.HTTP_201_CREATED)
async def propose_retry(
    payout_id: PayoutId, body: RetryIn, request: Request, session: DbSession, staff: Approver
) -> RetryOut:
    row = await retries.propose(
        session=session, payout_id=payout_id, maker_id=staff.id, reason=body.reason,
        clock=get_runtime(request).clock,
    )  # fmt: skip
    await session.commit()
    return RetryOut.model_validate(row)


@router.post("/retries/{request_id}/approve", response_model=RetryOut)
async def approve_retry(
    request_id: RequestId, request: Request, session: DbSession, staff: Approver
) -> RetryOut:
    row = await retries.approve(
        session=session, request_id=request_id, checker_id=staff.id, clock=get_runtime(request).clock
    )
    await session.commit()
    return RetryOut.model_validate(row)


@router.post("/retries/{request_id}/reject", response_model=RetryOut)
async def reject_retry(
    request_id: RequestId, request: Request, session: DbSession, staff: Approver
) -> RetryOut:
    row = await retries.reject(
        session=session, request_id=request_id, checker_id=staff.id, clock=get_runtime(request).clock
    )
    await session.commit()
    return RetryOut.model_validate(row)
