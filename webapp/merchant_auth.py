"""The merchant API's plumbing (/api/v1): who is calling, errors, idempotent POSTs.

- `require_scope("invoices:write")`: a dependency answering a `MerchantPrincipal` for
  `Authorization: Bearer kbt_live_...` (or `X-API-Key`) when the key is live, carries the scope and
  its merchant is active; limited per key on the shared rate limiter (429 + Retry-After), and
  missing or invalid keys per client address.
- `merchant_api_router(...)`: an APIRouter under /api/v1 whose every error (domain, HTTP, validation)
  is answered as `{code, message}` with the error's own status.
- `idempotent(...)`: runs a POST's work once per Idempotency-Key; a retry gets the stored response
  (`idempotent_outcome(...)` also says whether this request's own work was committed).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, NoReturn, Protocol

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth import api_keys
from core.auth.errors import ApiKeyInvalid, ApiKeyScopeDenied
from core.auth.permissions import API_KEY_SCOPES
from core.errors import KibetiError
from core.merchants import idempotency
from core.merchants import service as merchants
from core.merchants.errors import MerchantNotActive, UnknownMerchant
from core.ratelimit import API_KEY_REQUESTS, Limit, subject_key
from webapp.deps_auth import RULE_ATTRIBUTE, DbSession, get_rate_limiter, get_runtime, request_ip

API_PREFIX = "/api/v1"
# The merchant API is limited per key (API_KEY_REQUESTS), not by the web layer's per-IP limit (one
# merchant server makes all its calls from one address); guessing keys is limited per IP instead.
# With Redis down both hold per process (core.ratelimit): a key is 256 random bits, so the per-IP count
# spares the key check's work rather than keeps a key from being guessed.
FAILED_KEYS_PER_IP = Limit("api_key_failures_ip", 30, 60, when_redis_down="local")
_bearer = HTTPBearer(auto_error=False, description="A merchant API key: `Bearer kbt_live_...`")


class ApiError(KibetiError):
    """An error of the API layer itself (authentication, rate limit, idempotency)."""

    http_status: ClassVar[int] = 400

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


@dataclass(frozen=True)
class MerchantPrincipal:
    merchant_id: int
    key_id: str
    scopes: frozenset[str]
    live: bool

    def has(self, scope: str) -> bool:
        return scope in self.scopes


def _plaintext(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is not None and credentials.scheme.lower() == "bearer":
        return credentials.credentials.strip()
    return request.headers.get("x-api-key", "").strip()


async def _refuse(request: Request, message: str) -> NoReturn:
    """401, or 429 once this address has sent too many missing or invalid keys this minute."""
    decision = await get_rate_limiter(get_runtime(request)).hit(
        FAILED_KEYS_PER_IP, f"ip:{request_ip(request)}"
    )
    if not decision.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"too many invalid API keys from this address; retry after {decision.retry_after} s",
            {"Retry-After": str(decision.retry_after)},
        )
    raise ApiError(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


async def _count_key(request: Request, key_id: str) -> None:
    """Per real key (made-up keys count against their address instead: `_refuse`)."""
    decision = await get_rate_limiter(get_runtime(request)).hit(
        API_KEY_REQUESTS, subject_key("apikey", key_id)
    )
    if not decision.allowed:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests for this API key; retry after {decision.retry_after} s",
            {"Retry-After": str(decision.retry_after)},
        )


async def _authenticate(
    request: Request, session: AsyncSession, credentials: HTTPAuthorizationCredentials | None, scope: str
) -> MerchantPrincipal:
    plaintext = _plaintext(request, credentials)
    runtime = get_runtime(request)
    if not plaintext:
        await _refuse(request, "an API key is required: Authorization: Bearer <key>")
    cached = api_keys.verified_keys.get(plaintext)
    if cached is not None and scope in cached.scopes:
        key = _prefetchable_key(request)
        found = await api_keys.key_in_force_for(
            session=session, key_id=cached.key_id, merchant_id=cached.merchant_id, idempotency_key=key
        )
        if found is not None:
            _keep(request, _Prefetched(cached.merchant_id, found.merchant, key, found.stored))
            await _count_key(request, cached.key_id)
            return _principal(cached)
        # A cached key proved its secret seconds ago, but whether it is still unrevoked and its
        # merchant still active is read on every call: a suspension or revocation made by any process
        # is honoured on the next request everywhere (the cache spares the hash check, last_used_at
        # and the commit). When not, the key leaves the cache and the full check answers its error.
        api_keys.verified_keys.forget(cached.key_id)
    try:
        checked = await api_keys.check_api_key(
            session=session, plaintext=plaintext, scope=scope, clock=runtime.clock
        )
    except ApiKeyInvalid:
        await _refuse(request, "invalid API key")
    except ApiKeyScopeDenied as exc:
        await _count_key(request, api_keys.key_id_of(plaintext) or "")
        raise ApiError(403, "insufficient_scope", f"this API key lacks the {scope} scope") from exc
    key_row = checked.row
    await _count_key(request, key_row.key_id)
    try:
        merchant = await merchants.require_active(session=session, merchant_id=key_row.merchant_id)
    except (UnknownMerchant, MerchantNotActive) as exc:
        raise ApiError(403, "merchant_not_active", "this API key's merchant is not active") from exc
    verified = api_keys.VerifiedKey(
        key_id=key_row.key_id,
        merchant_id=key_row.merchant_id,
        scopes=frozenset(key_row.scopes.split()),
        prefix=key_row.prefix,
    )
    if checked.stamped:  # last_used_at moved (at most once a minute): kept even if the work fails
        await session.commit()
    _keep(request, _Prefetched(verified.merchant_id, merchant, None, None))
    api_keys.verified_keys.put(plaintext, verified)
    return _principal(verified)


@dataclass(frozen=True)
class _Prefetched:
    """What the key check read for the rest of the request: the merchant's row (held here, since the
    session holds rows weakly: the route's own merchants.require_active then costs no round trip) and,
    for a POST's Idempotency-Key, the stored response read in the same statement (`idempotent`)."""

    merchant_id: int
    merchant: Any
    idempotency_key: str | None
    stored: StoredResponse | None


_PREFETCHED = "kibeti_merchant_api_prefetched"


def _keep(request: Request, prefetched: _Prefetched) -> None:
    setattr(request.state, _PREFETCHED, prefetched)


def _prefetched_find(request: Request, merchant_id: int, key: str) -> tuple[bool, StoredResponse | None]:
    """(True, what the key check found stored for `key`) when it looked, else (False, None)."""
    found = getattr(request.state, _PREFETCHED, None)
    if isinstance(found, _Prefetched) and found.merchant_id == merchant_id and found.idempotency_key == key:
        return True, found.stored
    return False, None


def _prefetchable_key(request: Request) -> str | None:
    """A POST's valid Idempotency-Key (an invalid one is refused later, by `idempotent`, with 400)."""
    if request.method != "POST":
        return None
    try:
        return _idempotency_key(request)
    except ApiError:
        return None


def _principal(key: api_keys.VerifiedKey) -> MerchantPrincipal:
    return MerchantPrincipal(
        merchant_id=key.merchant_id,
        key_id=key.key_id,
        scopes=key.scopes,
        live=key.prefix == api_keys.LIVE_PREFIX,
    )


def require_scope(scope: str) -> Callable[..., Coroutine[Any, Any, MerchantPrincipal]]:
    """`principal: Annotated[MerchantPrincipal, Depends(require_scope("invoices:write"))]`."""
    if scope not in API_KEY_SCOPES:
        raise ValueError(f"unknown API key scope {scope}")

    async def check(
        request: Request,
        session: DbSession,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
    ) -> MerchantPrincipal:
        return await _authenticate(request, session, credentials, scope)

    setattr(check, RULE_ATTRIBUTE, f"api_key:{scope}")
    return check


def _problem(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request"


def render_error(exc: Exception) -> JSONResponse | None:
    """The `{code, message}` answer for an error raised in a merchant API route (None: not ours)."""
    if isinstance(exc, ApiError):
        return _problem(exc.status, exc.code, str(exc), exc.headers)
    if isinstance(exc, KibetiError):
        return _problem(getattr(exc, "http_status", 400), exc.code, str(exc))
    if isinstance(exc, RequestValidationError):
        return _problem(422, "invalid_request", _validation_message(exc))
    if isinstance(exc, HTTPException):
        detail = exc.detail
        if isinstance(detail, dict) and "code" in detail:
            return _problem(exc.status_code, str(detail["code"]), str(detail.get("message", "")), exc.headers)
        return _problem(exc.status_code, "http_error", str(detail), exc.headers)
    return None


class MerchantApiRoute(APIRoute):
    """Answers every error of its endpoint (and its dependencies) as `{code, message}`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                answer = render_error(exc)
                if answer is None:
                    raise
                return answer

        return handle


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }
            }
        },
    }
    for status, description in (
        (401, "Missing or invalid API key"),
        (403, "The key lacks the scope, or its merchant is not active"),
        (422, "Invalid request"),
        (429, "Rate limited (see Retry-After)"),
    )
}


def merchant_api_router(*, prefix: str = "", tags: Sequence[str | Enum] = ("merchant API",)) -> APIRouter:
    """A router under /api/v1 (+ `prefix`) whose errors are `{code, message}`."""
    return APIRouter(
        prefix=API_PREFIX + prefix,
        tags=list(tags),
        route_class=MerchantApiRoute,
        responses=ERROR_RESPONSES,
    )


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise ApiError(
            400, "invalid_idempotency_key", "an Idempotency-Key is 1 to 255 printable ASCII characters"
        )
    return key


async def _digest(request: Request) -> str:
    body = await request.body()
    try:  # the same JSON with other spacing or key order is the same request
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(f"{request.method} {request.url.path}\n".encode() + canonical).hexdigest()


class StoredResponse(Protocol):
    """What a replay reads of the response core.merchants.idempotency stored for a key."""

    @property
    def request_digest(self) -> str: ...
    @property
    def status_code(self) -> int: ...
    @property
    def response(self) -> dict[str, Any]: ...


def _replay(stored: StoredResponse, digest: str) -> JSONResponse:
    if stored.request_digest != digest:
        raise ApiError(
            409,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request; use a new key for a new request",
        )
    return JSONResponse(
        stored.response, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"}
    )


def _json_ready(body: Any) -> Any:
    """A response model dumped once by pydantic-core (jsonable_encoder would walk its dump again)."""
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", by_alias=True)
    return jsonable_encoder(body)


async def idempotent(
    *,
    request: Request,
    session: AsyncSession,
    principal: MerchantPrincipal,
    work: Callable[[], Awaitable[tuple[int, Any]]],
) -> JSONResponse:
    """Run `work` (which writes in `session` and answers (status, body)) and commit; with an
    Idempotency-Key, the response is stored in the same transaction and a retry gets it back."""
    answer, _committed = await idempotent_outcome(
        request=request, session=session, principal=principal, work=work
    )
    return answer


async def idempotent_outcome(
    *,
    request: Request,
    session: AsyncSession,
    principal: MerchantPrincipal,
    work: Callable[[], Awaitable[tuple[int, Any]]],
) -> tuple[JSONResponse, bool]:
    """`idempotent`, and whether this request's own work was committed (False: the answer is a
    replay of a concurrent request's stored response, and this one's work was rolled back)."""
    key = _idempotency_key(request)
    if key is None:
        status, body = await work()
        await session.commit()
        return JSONResponse(_json_ready(body), status_code=status), True
    digest = await _digest(request)
    looked, stored = _prefetched_find(request, principal.merchant_id, key)
    if not looked:
        stored = await idempotency.find(session=session, merchant_id=principal.merchant_id, key=key)
    if stored is not None:
        return _replay(stored, digest), False
    work_conflict: IntegrityError | None = None
    try:
        status, body = await work()
    except IntegrityError as exc:  # e.g. a concurrent retry with this key committed the same row
        work_conflict, kept = exc, False
    else:
        payload = _json_ready(body)
        try:
            kept = await idempotency.remember(
                session=session,
                merchant_id=principal.merchant_id,
                key=key,
                request_digest=digest,
                status_code=status,
                response=payload,
                clock=get_runtime(request).clock,
            )
        except IntegrityError:  # the key row itself: a concurrent retry stored it first (SQLite)
            kept = False
        if kept:
            try:
                await session.commit()
            except IntegrityError as exc:  # the work's own rows, flushed at commit
                work_conflict, kept = exc, False
    if not kept:  # a concurrent retry's work stands; this one's is undone and its response answered
        await session.rollback()
        stored = await idempotency.find(session=session, merchant_id=principal.merchant_id, key=key)
        if stored is not None:
            return _replay(stored, digest), False
        if work_conflict is not None:
            # Not this key: a request with it still in progress would have held this request's
            # insert until it committed (and stored the key) or rolled back (and let it through).
            # Another unique violation, answered by the app's error handler, never "key in use".
            raise work_conflict
        raise ApiError(
            409,
            "idempotency_key_in_use",
            "a request with this Idempotency-Key is in progress; retry shortly",
        )
    return JSONResponse(payload, status_code=status), True
