"""HTTP hardening installed by webapp.app: request ids, body-size limit, per-IP rate limit
(429 + Retry-After), masked access logs, and error handlers that never leak input or internals.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.auth.permissions import STAFF_ROUTE_PREFIXES
from core.config import get_settings
from core.errors import KibetiError
from core.logging import bind_request_id, clear_request, configure_logging
from core.ratelimit import PUBLIC_PER_IP, Limit
from core.runtime import Runtime
from core.security.callbacks import client_ip
from webapp.deps_auth import get_rate_limiter

MAX_BODY_BYTES = 1024 * 1024
# Provider callbacks authenticate by secret path token and arrive in bulk from a few addresses:
# they are not limited per IP here (their routers limit per phone/account instead).
RATE_LIMIT_EXEMPT = (
    "/health",
    "/ussd",
    "/sms",
    "/telegram",
    "/mpesa",
    "/callbacks",
    "/api/callbacks",
    "/static",
    "/cb/",
    # the embedded default's simulators (never mounted in production): the app calls its own Daraja
    # simulator for every STK push and status query, all from 127.0.0.1
    "/daraja-sim",
    "/pesapal-sim",
    "/simulator/",
)
# The merchant API is limited per API key, and invalid keys per IP, by webapp.merchant_auth.
LIMITED_PER_KEY = ("/api/v1/",)
# M-Pesa callbacks are /<prefix>/<token>/<kind>: the default and legacy prefixes, plus the configured one
MPESA_CALLBACK_PREFIXES = ("cb", "mpesa")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
log = structlog.get_logger("kibeti.http")


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content=body, headers=headers)


class _BodyTooLarge(Exception):
    pass


class SecurityMiddleware:
    """Pure ASGI, so streaming bodies are counted as they arrive."""

    def __init__(self, app: ASGIApp, *, max_body: int = MAX_BODY_BYTES, limit: Limit = PUBLIC_PER_IP) -> None:
        self.app = app
        self.max_body = max_body
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _wanted_headers(scope)
        given = headers.get("x-request-id", "")
        request_id = given if _REQUEST_ID.match(given) else secrets.token_hex(8)
        bind_request_id(request_id)
        started = time.monotonic()
        status_holder = {"status": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            early = await self._early_response(scope, headers, request_id)
            if early is not None:
                await early(scope, receive, send_with_id)
                return
            await self.app(scope, self._limited_receive(receive), send_with_id)
        except _BodyTooLarge:
            await _too_large(request_id)(scope, receive, send_with_id)
        finally:
            elapsed = time.monotonic() - started
            path = scope.get("path", "")
            if not _quiet(path, status_holder["status"], elapsed):
                log.info(
                    "http_request",
                    method=scope.get("method"),
                    path=_loggable_path(path, _mpesa_prefixes(scope)),
                    status=status_holder["status"],
                    ms=int(elapsed * 1000),
                )
            clear_request()

    async def _early_response(
        self, scope: Scope, headers: dict[str, str], request_id: str
    ) -> JSONResponse | None:
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return _too_large(request_id)
        path: str = scope.get("path", "")
        runtime = getattr(scope["app"].state, "runtime", None) if "app" in scope else None
        if not isinstance(runtime, Runtime) or path.startswith(RATE_LIMIT_EXEMPT + LIMITED_PER_KEY):
            return None
        if _callback_prefix_of(path, _mpesa_prefixes(scope)):  # a dropped callback is a lost payment
            return None
        peer = scope["client"][0] if scope.get("client") else "unknown"
        ip = client_ip(
            peer=peer,
            forwarded_for=headers.get("x-forwarded-for"),
            trusted_proxies=runtime.settings.trusted_proxies,
        )
        decision = await get_rate_limiter(runtime).hit(self.limit, f"ip:{ip}")
        if decision.allowed:
            return None
        return _json(
            429,
            {
                "code": "rate_limited",
                "message": "too many requests",
                "retry_after": decision.retry_after,
                "request_id": request_id,
            },
            {"Retry-After": str(decision.retry_after)},
        )

    def _limited_receive(self, receive: Receive) -> Receive:
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _BodyTooLarge
            return message

        return wrapped


# USSD hops (every keypress of every session) are counted and timed by route family and status in
# kibeti_http_request_duration_seconds; an access line for each answered one cost ~10% of a hop's CPU
# (the masked JSON chain, ~65-125 us) and said nothing the histogram does not. A hop that did not
# answer 200, or took QUIET_UNDER_SECONDS or longer (a third of Africa's Talking's 15 s deadline:
# the session is at risk), is still logged. Not lower: on an overloaded worker every hop queues past
# a second, and a line per hop then adds load exactly when there is none to spare.
# A Telegram update likewise (every message and tap of every chat): its webhook answers 200 as soon as
# the update is queued, so the line said only that it arrived.
QUIET_PREFIXES = ("/ussd/", "/telegram/")
QUIET_UNDER_SECONDS = 5.0


def _quiet(path: str, status: int, elapsed: float) -> bool:
    """Whether this request's access line is left out (a routine USSD hop or Telegram update)."""
    return status == 200 and elapsed < QUIET_UNDER_SECONDS and path.startswith(QUIET_PREFIXES)


_WANTED = frozenset({b"content-length", b"x-request-id", b"x-forwarded-for"})


def _wanted_headers(scope: Scope) -> dict[str, str]:
    """The few headers this middleware reads (the last of repeated ones), decoded; not all of them."""
    found: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        name = key if key in _WANTED else key.lower()
        if name in _WANTED:
            found[name.decode("latin-1")] = value.decode("latin-1")
    return found


def _too_large(request_id: str) -> JSONResponse:
    return _json(
        413, {"code": "body_too_large", "message": "request body too large", "request_id": request_id}
    )


def _mpesa_prefixes(scope: Scope) -> tuple[str, ...]:
    runtime = getattr(scope["app"].state, "runtime", None) if "app" in scope else None
    if not isinstance(runtime, Runtime):
        return MPESA_CALLBACK_PREFIXES
    configured = runtime.settings.mpesa_callback_path_prefix.strip().strip("/")
    return (*MPESA_CALLBACK_PREFIXES, configured) if configured else MPESA_CALLBACK_PREFIXES


def _callback_prefix_of(path: str, prefixes: tuple[str, ...]) -> str:
    """The M-Pesa callback prefix `path` starts with ("" when it is not a callback path)."""
    first = path.lstrip("/").split("/", 1)[0]
    return first if first in prefixes and path.count("/") >= 2 else ""


def _loggable_path(path: str, mpesa_prefixes: tuple[str, ...] = MPESA_CALLBACK_PREFIXES) -> str:
    """Callback paths carry secret tokens: an M-Pesa callback keeps its kind with the token masked,
    other callback paths only their first segment."""
    prefix = _callback_prefix_of(path, mpesa_prefixes)
    if prefix:
        parts = path.lstrip("/").split("/")
        return "/" + "/".join([prefix, "***", *parts[2:]])
    if path.startswith(RATE_LIMIT_EXEMPT[1:]):
        first = path.strip("/").split("/", 1)[0]
        return f"/{first}/..."
    return path


def _request_id() -> str:
    value = structlog.contextvars.get_contextvars().get("request_id", "")
    return str(value)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """422 without echoing the input (it may hold a PIN, OTP or password)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    safe = [
        {"loc": list(e.get("loc", [])), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in errors
    ]
    return _json(
        422,
        {
            "code": "invalid_request",
            "message": "invalid request",
            "errors": safe,
            "request_id": _request_id(),
        },
    )


async def _domain_error(_request: Request, exc: Exception) -> JSONResponse:
    """Every domain error, everywhere: the status its class declares, `{code, message}`; a 429 or 503
    that says when to come back (`retry_after`: a rate limit hit, or one that cannot reach Redis)
    with Retry-After."""
    assert isinstance(exc, KibetiError)
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if exc.http_status in (429, 503) and retry_after else None
    body = {"code": exc.code, "message": str(exc), "request_id": _request_id()}
    return _json(exc.http_status, body, headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Staff routes raise HTTPException(detail={"code", "message"}): answer it in the same flat
    shape as every other error here, not nested under "detail"."""
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if not request.url.path.startswith(STAFF_ROUTE_PREFIXES):
        return await http_exception_handler(request, exc)
    if isinstance(detail, dict) and "code" in detail:
        body = {**detail}
    else:  # Starlette's own (unknown path, wrong method): a code from the status
        body = {"code": _HTTP_CODES.get(exc.status_code, "http_error"), "message": str(detail)}
    headers = dict(exc.headers) if exc.headers else None
    return _json(exc.status_code, {**body, "request_id": _request_id()}, headers)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled_error", error_type=type(exc).__name__)
    return _json(
        500, {"code": "internal_error", "message": "something went wrong", "request_id": _request_id()}
    )


def install_error_handlers(app: FastAPI) -> None:
    """Every error answered in one flat shape (`code`, `message`, `request_id`), never a trace."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(KibetiError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def install(app: FastAPI) -> None:
    configure_logging(level=get_settings().log_level)
    # uvicorn's access line carries the raw path, callback path tokens included: the http_request
    # event above replaces it (with those tokens masked), so uvicorn's own stays off
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate, access.disabled = False, True
    install_error_handlers(app)
    app.add_middleware(SecurityMiddleware)
