"""Staff control over who reaches the portals: invite a merchant dashboard user (merchants.manage;
the first password and the authenticator URI are answered once, never stored in clear) and end
every portal device session of a customer (customers.write, as locking a customer). Both are
audited in the same transaction as the change."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

from core.audit import service as audit
from core.auth.permissions import Permission
from core.auth.types import SignedInStaff
from core.devices import service as devices
from core.identity import service as identity
from core.identity.errors import CustomerNotFound
from core.merchant_users import service as merchant_users
from webapp.deps_auth import DbSession, get_keyring, get_runtime, require_permission

router = APIRouter(prefix="/api/staff", tags=["staff"])

MerchantsStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.MERCHANTS_MANAGE))]
CustomersStaff = Annotated[SignedInStaff, Depends(require_permission(Permission.CUSTOMERS_WRITE))]
RowId = Annotated[int, Path(ge=1, le=2**62)]


class NewDashboardUser(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    role: Literal["owner", "viewer"]


class InvitedDashboardUser(BaseModel):
    user_id: int
    merchant_id: int
    email: str
    role: str
    password: str  # shown once
    authenticator_uri: str  # shown once (otpauth://, for a QR code in the authenticator app)


class DevicesRevoked(BaseModel):
    customer_id: int
    revoked: int


@router.post(
    "/merchants/{merchant_id}/dashboard-users",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitedDashboardUser,
)
async def invite_dashboard_user(
    merchant_id: RowId, body: NewDashboardUser, request: Request, session: DbSession, staff: MerchantsStaff
) -> InvitedDashboardUser:
    rt = get_runtime(request)
    # an unknown merchant (404) or a taken email (409) is the middleware's domain-error answer
    invitation = await merchant_users.invite(
        session=session, merchant_id=merchant_id, email=body.email, role=body.role,
        keyring=get_keyring(rt), clock=rt.clock, actor=f"staff:{staff.id}",
    )  # fmt: skip
    user = invitation.user
    answer = InvitedDashboardUser(
        user_id=user.id, merchant_id=merchant_id, email=user.email, role=user.role,
        password=invitation.password, authenticator_uri=invitation.provisioning_uri,
    )  # fmt: skip
    await session.commit()
    return answer


@router.post("/customers/{customer_id}/portal-sessions/revoke", response_model=DevicesRevoked)
async def revoke_portal_sessions(
    customer_id: RowId, request: Request, session: DbSession, staff: CustomersStaff
) -> DevicesRevoked:
    """Sign the customer out of /app on every device (PortalSignIn.sign_out_everywhere's write, on
    the request's own session so the audit row commits with it)."""
    try:
        await identity.get_customer(session=session, customer_id=customer_id)
    except CustomerNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, {"code": exc.code, "message": str(exc)}) from exc
    by = f"staff:{staff.id}"
    count = await devices.revoke_all(
        session, customer_id=customer_id, by=by, now=get_runtime(request).clock.now()
    )
    await audit.record(
        session=session, actor=by, action="customer.portal_sessions_revoked",
        subject=f"customer:{customer_id}", details={"revoked": count},
    )  # fmt: skip
    await session.commit()
    return DevicesRevoked(customer_id=customer_id, revoked=count)
