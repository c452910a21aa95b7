"""Staff security operations: PIN reset after a KYC re-check (a one-time code to the customer),
audit-chain check, merchant API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from core.audit import service as audit
from core.auth import api_keys
from core.auth.errors import ApiKeyInvalid
from core.auth.permissions import Permission
from core.auth.types import SignedInStaff
from core.identity import service as identity
from core.identity.errors import CustomerNotFound, OtpTooManyRequests
from core.merchants.errors import MerchantNotActive, UnknownMerchant
from webapp.deps_auth import DbSession, get_runtime, require_permission

router = APIRouter(prefix="/api/staff", tags=["staff"])

ResetPinStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.CUSTOMERS_RESET_PIN))]
AuditStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.AUDIT_READ))]
KeysStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.API_KEYS_MANAGE))]
MAX_ROW_ID = 2**63 - 1  # a larger id would fail in the database driver (a 500), not as a 404


class ResetPinRequest(BaseModel):
    """Staff never choose a customer's PIN: the customer gets a one-time code by SMS and sets a
    new PIN on their next dial. A `new_pin` field is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    kyc_rechecked: bool


class ResetPinResponse(BaseModel):
    customer_id: int
    status: str  # "code_sent": the customer sets the new PIN with the SMS code
    withdrawals_allowed_at: str


class AuditCheck(BaseModel):
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    problems: list[str]


class NewApiKey(BaseModel):
    merchant_id: int = Field(ge=1, le=MAX_ROW_ID)
    name: str = Field(min_length=1, max_length=100)
    scopes: list[str] = Field(min_length=1, max_length=10)


class IssuedApiKey(BaseModel):
    key_id: str
    api_key: str  # shown once
    scopes: list[str]


def _bad_request(code: str, message: str) -> HTTPException:
    return HTTPException(status.HTTP_400_BAD_REQUEST, detail={"code": code, "message": message})


@router.post("/customers/{customer_id}/reset-pin")
async def reset_pin(
    customer_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
    body: ResetPinRequest,
    request: Request,
    session: DbSession,
    staff: ResetPinStaff,
) -> ResetPinResponse:
    if not body.kyc_rechecked:
        raise _bad_request("kyc_recheck_required", "re-check the customer's ID before resetting a PIN")
    rt = get_runtime(request)
    if rt.notifier is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail={
                "code": "sms_unavailable",
                "message": "no SMS notifier is wired: the code cannot be sent",
            },
        )
    try:
        customer = await identity.start_staff_pin_reset(
            session=session,
            customer_id=customer_id,
            notifier=rt.notifier,
            clock=rt.clock,
            actor=f"staff:{staff.id}",
            limiter=rt.rate_limiter,
        )
    except CustomerNotFound as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail={"code": exc.code, "message": str(exc)}
        ) from exc
    except OtpTooManyRequests as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail={
                "code": exc.code,
                "message": f"too many codes sent to this number; retry in {exc.retry_after} s",
            },
            headers={"Retry-After": str(exc.retry_after)},
        ) from exc
    await session.commit()
    allowed_at = identity.withdrawals_allowed_at(customer)
    return ResetPinResponse(
        customer_id=customer.id,
        status="code_sent",
        withdrawals_allowed_at=allowed_at.isoformat() if allowed_at else "",
    )


@router.get("/audit/verify")
async def verify_audit(session: DbSession, staff: AuditStaff) -> AuditCheck:
    result = await audit.verify(session=session)
    return AuditCheck(
        ok=result.ok,
        checked=result.checked,
        head_seq=result.head_seq,
        head_hash=result.head_hash,
        problems=result.problems,
    )


@router.post("/api-keys", status_code=status.HTTP_201_CREATED)
async def create_api_key(
    body: NewApiKey, request: Request, session: DbSession, staff: KeysStaff
) -> IssuedApiKey:
    try:
        issued = await api_keys.create_api_key(
            session=session,
            merchant_id=body.merchant_id,
            scopes=body.scopes,
            name=body.name,
            clock=get_runtime(request).clock,
            actor=f"staff:{staff.id}",
        )
    except UnknownMerchant as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail={"code": exc.code, "message": str(exc)}
        ) from exc
    except MerchantNotActive as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail={"code": exc.code, "message": str(exc)}) from exc
    except ValueError as exc:
        raise _bad_request("invalid_scopes", str(exc)) from exc
    await session.commit()
    return IssuedApiKey(
        key_id=issued.api_key.key_id, api_key=issued.plaintext, scopes=issued.api_key.scopes.split()
    )


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(key_id: str, request: Request, session: DbSession, staff: KeysStaff) -> None:
    try:
        await api_keys.revoke_api_key(
            session=session, key_id=key_id, clock=get_runtime(request).clock, actor=f"staff:{staff.id}"
        )
    except ApiKeyInvalid as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail={"code": exc.code, "message": str(exc)}
        ) from exc
    await session.commit()
