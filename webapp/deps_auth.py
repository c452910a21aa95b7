"""FastAPI dependencies for staff authentication and authorization.

Every staff route carries exactly one rule, read by the authorization-matrix test from the route
table: `Depends(require_permission(Permission.X))`, `Depends(any_staff)` or `Depends(public)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from core import runtime as runtime_module
from core.auth import api_keys, sessions, tokens
from core.auth.errors import ApiKeyInvalid, ApiKeyScopeDenied, TokenInvalid
from core.auth.permissions import API_KEY_SCOPES, Permission, has_permission
from core.auth.types import SignedInStaff
from core.errors import RecordedRefusal
from core.ratelimit import API_KEY_REQUESTS, Limit, RateLimiter, limiter_for, subject_key
from core.runtime import Runtime
from core.security.callbacks import check_callback, client_ip
from core.security.envelope import Keyring
from core.security.errors import CallbackRejected

RULE_ATTRIBUTE = "__kibeti_rule__"
_bearer = HTTPBearer(auto_error=False)


def get_runtime(request: Request) -> Runtime:
    current = getattr(request.app.state, "runtime", None)
    return current if isinstance(current, Runtime) else runtime_module.get()


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one session (FastAPI caches it per request): routes and rule dependencies take
    `DbSession`, never `runtime.session_factory()` beside it. On SQLite a second session waits for
    the first one's write lock, which the first holds until the request ends: a deadlock."""
    async with get_runtime(request).session_factory() as session:
        try:
            yield session
        except RecordedRefusal:  # the request's unit of work keeps the refusal's record (core.errors)
            await session.commit()
            raise


DbSession = Annotated[AsyncSession, Depends(db_session)]


def get_keyring(runtime: Runtime) -> Keyring:
    """The envelope keyring, derived once per process (PBKDF2 is deliberately slow)."""
    assert runtime.keyring is not None  # Runtime.__post_init__ sets it
    return runtime.keyring()


def get_rate_limiter(runtime: Runtime) -> RateLimiter:
    return limiter_for(runtime)


def _unauthorized(message: str = "authentication required") -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail={"code": "unauthorized", "message": message},
        headers={"WWW-Authenticate": "Bearer"},
    )


async def current_staff(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> SignedInStaff:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized()
    runtime = get_runtime(request)
    secret_key = runtime.settings.secret_key.get_secret_value()
    try:
        staff = await sessions.authenticate(
            session=session, access_token=credentials.credentials, secret_key=secret_key, clock=runtime.clock
        )
        claims = tokens.decode_access(credentials.credentials, secret_key=secret_key, clock=runtime.clock)
    except TokenInvalid as exc:
        raise _unauthorized("invalid or expired token") from exc
    # End the read transaction now (authenticate writes nothing): on SQLite every transaction holds
    # the one write lock, and the route may run for a while; the route's own work opens a new one.
    await session.commit()
    request.state.staff_session_id = claims.session_id
    request.state.staff_id = staff.id
    return staff


CurrentStaff = Annotated[SignedInStaff, Depends(current_staff)]


async def any_staff(staff: CurrentStaff) -> SignedInStaff:
    """Rule: any signed-in staff user, whatever the role."""
    return staff


setattr(any_staff, RULE_ATTRIBUTE, "any_staff")


async def public() -> None:
    """Rule: no authentication (login, refresh)."""


setattr(public, RULE_ATTRIBUTE, "public")


def require_permission(permission: Permission) -> Callable[..., Coroutine[Any, Any, SignedInStaff]]:
    """Rule: the signed-in staff user's role has `permission` in core.auth.permissions."""

    async def check(staff: CurrentStaff) -> SignedInStaff:
        if not has_permission(staff.role, permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail={"code": "permission_denied", "message": f"your role lacks {permission.value}"},
            )
        return staff

    setattr(check, RULE_ATTRIBUTE, permission)
    check.__name__ = f"require_{permission.name.lower()}"
    return check


def request_ip(request: Request) -> str:
    """The client address; X-Forwarded-For only counts when the peer is a configured proxy."""
    peer = request.client.host if request.client else "unknown"
    return client_ip(
        peer=peer,
        forwarded_for=request.headers.get("x-forwarded-for"),
        trusted_proxies=get_runtime(request).settings.trusted_proxies,
    )


async def enforce_limit(request: Request, limit: Limit, key: str) -> None:
    """Raise 429 with Retry-After when `key` is over `limit`."""
    decision = await get_rate_limiter(get_runtime(request)).hit(limit, key)
    if not decision.allowed:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail={
                "code": "rate_limited",
                "message": "too many requests",
                "retry_after": decision.retry_after,
            },
            headers={"Retry-After": str(decision.retry_after)},
        )


async def _merchant_key(request: Request, session: AsyncSession, scope: str) -> api_keys.VerifiedKey:
    header = request.headers.get("authorization", "")
    plaintext = (
        header[7:].strip() if header.lower().startswith("bearer ") else request.headers.get("x-api-key", "")
    )
    if not plaintext:
        raise _unauthorized("API key required")
    await enforce_limit(request, API_KEY_REQUESTS, subject_key("apikey", plaintext))
    try:
        key = await api_keys.authenticate_api_key(
            session=session, plaintext=plaintext, scope=scope, clock=get_runtime(request).clock
        )
    except ApiKeyInvalid as exc:
        raise _unauthorized("invalid API key") from exc
    except ApiKeyScopeDenied as exc:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail={"code": exc.code, "message": str(exc)}
        ) from exc
    verified = api_keys.VerifiedKey(
        key_id=key.key_id,
        merchant_id=key.merchant_id,
        scopes=frozenset(key.scopes.split()),
        prefix=key.prefix,
    )
    await session.commit()  # last_used_at
    return verified


def require_api_key(scope: str) -> Callable[..., Coroutine[Any, Any, api_keys.VerifiedKey]]:
    """`key: Annotated[VerifiedKey, Depends(require_api_key("payments:read"))]` (core.auth.api_keys).

    Accepts `Authorization: Bearer kbt_live_...` or `X-API-Key`; limited per key (429 + Retry-After).
    """
    if scope not in API_KEY_SCOPES:
        raise ValueError(f"unknown API key scope {scope}")

    async def check(request: Request, session: DbSession) -> api_keys.VerifiedKey:
        return await _merchant_key(request, session, scope)

    setattr(check, RULE_ATTRIBUTE, f"api_key:{scope}")
    return check


def check_callback_request(request: Request, *, path_token: str, expected_token: str) -> str:
    """Daraja / Africa's Talking callbacks: secret path token + optional IP allow-list.

    Answers 404 (not 401/403) on failure so the endpoint's existence is not confirmed. Returns the IP.
    """
    settings = get_runtime(request).settings
    try:
        return check_callback(
            path_token=path_token,
            expected_token=expected_token,
            peer=request.client.host if request.client else "",
            forwarded_for=request.headers.get("x-forwarded-for"),
            trusted_proxies=settings.trusted_proxies,
            allowlist=settings.callback_ip_allowlist,
        )
    except CallbackRejected as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail={"code": "not_found"}) from exc
