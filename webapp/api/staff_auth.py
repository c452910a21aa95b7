"""Staff sign-in: POST /api/staff/login (password + TOTP), /refresh, /logout; GET /api/staff/me."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import AfterValidator, BaseModel, Field

from core.auth import service as staff_service
from core.auth import sessions
from core.auth.errors import AccountLocked, LoginFailed, RefreshReused, TokenInvalid
from core.auth.permissions import permissions_for
from core.auth.types import SignedInStaff
from core.ratelimit import LOGIN_PER_ACCOUNT, LOGIN_PER_IP, subject_key
from webapp.deps_auth import (
    DbSession,
    any_staff,
    enforce_limit,
    get_keyring,
    get_runtime,
    public,
    request_ip,
)

router = APIRouter(prefix="/api/staff", tags=["staff"])
WRONG_LOGIN = "wrong email, password or code"


def _printable(value: str) -> str:
    """No control or format characters (NUL, newlines, zero-width): PostgreSQL text refuses NUL (a
    500 on the login email), and the rest have no place in an email address or a token."""
    if any(unicodedata.category(ch)[0] == "C" for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL")
    return value


class LoginRequest(BaseModel):
    email: Annotated[str, Field(min_length=3, max_length=254), AfterValidator(_printable)]
    password: Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_no_nul)]
    totp: str = Field(min_length=6, max_length=8, pattern=r"^\d+$")


class RefreshRequest(BaseModel):
    refresh_token: Annotated[str, Field(min_length=10, max_length=200), AfterValidator(_printable)]


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int


class StaffMe(BaseModel):
    id: int
    email: str
    role: str
    permissions: list[str]


def _tokens(pair: sessions.TokenPair) -> TokenResponse:
    return TokenResponse(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


def _denied(code: str, message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail={"code": code, "message": message})


@router.post("/login", dependencies=[Depends(public)])
async def login(body: LoginRequest, request: Request, session: DbSession) -> TokenResponse:
    await enforce_limit(request, LOGIN_PER_IP, f"ip:{request_ip(request)}")
    await enforce_limit(request, LOGIN_PER_ACCOUNT, subject_key("staff", body.email.strip().lower()))
    runtime = get_runtime(request)
    try:
        pair = await staff_service.login(
            session=session,
            email=body.email,
            password=body.password,
            totp_code=body.totp,
            clock=runtime.clock,
            secret_key=runtime.settings.secret_key.get_secret_value(),
            keyring=get_keyring(runtime),
        )
    except LoginFailed as exc:
        await session.commit()  # keep the failure count and the audit row
        raise _denied(exc.code, WRONG_LOGIN) from exc
    except AccountLocked as exc:
        # The same answer as a wrong password or an unknown email: saying "locked" (or when it ends)
        # would tell anyone that the email is a staff account. The lock itself still holds.
        raise _denied(LoginFailed.code, WRONG_LOGIN) from exc
    await session.commit()
    return _tokens(pair)


@router.post("/refresh", dependencies=[Depends(public)])
async def refresh(body: RefreshRequest, request: Request, session: DbSession) -> TokenResponse:
    await enforce_limit(request, LOGIN_PER_IP, f"ip:{request_ip(request)}")
    runtime = get_runtime(request)
    try:
        pair = await sessions.refresh(
            session=session,
            refresh_token=body.refresh_token,
            clock=runtime.clock,
            secret_key=runtime.settings.secret_key.get_secret_value(),
        )
    except RefreshReused as exc:
        await session.commit()  # the family revocation must stick
        raise _denied(exc.code, "session revoked: sign in again") from exc
    except TokenInvalid as exc:
        raise _denied(exc.code, "invalid or expired refresh token") from exc
    await session.commit()
    return _tokens(pair)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    request: Request, session: DbSession, staff: Annotated[SignedInStaff, Depends(any_staff)]
) -> None:
    await sessions.logout(
        session=session, session_id=request.state.staff_session_id, clock=get_runtime(request).clock
    )
    await session.commit()


@router.get("/me")
async def me(staff: Annotated[SignedInStaff, Depends(any_staff)]) -> StaffMe:
    permissions = sorted(p.value for p in permissions_for(staff.role))
    return StaffMe(id=staff.id, email=staff.email, role=staff.role, permissions=permissions)
