"""HTML answers for web paths: error pages without tracebacks, sign-in redirects, and the security
headers (CSP without inline scripts, no framing, no caching of portal pages) on every response.

Paths outside the portals keep the JSON error handlers webapp.middleware installed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.config import Settings
from core.errors import KibetiError
from core.i18n.catalog import has
from webapp.deps_auth import get_runtime
from webapp.web import sessions
from webapp.web.portal import Portal, SignInRequired, WebError
from webapp.web.templating import base_context, make_environment

log = structlog.get_logger("kibeti.web")
Handler = Callable[[Request, Any], Any]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_STATUS_CODES = {
    400: "web.error.bad_request",
    403: "web.error.forbidden",
    404: "web.error.not_found",
    405: "web.error.not_found",
    409: "web.error.conflict",
    413: "web.error.too_large",
    422: "web.error.bad_request",
    429: "web.error.rate_limited",
    500: "web.error.internal",
}


class WebHeaders:
    """Security headers on every web response; `Cache-Control: no-store` on pages (not static)."""

    def __init__(self, app: ASGIApp, *, prefixes: tuple[str, ...], static_prefix: str) -> None:
        self.app, self.prefixes, self.static_prefix = app, prefixes, static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        static = path.startswith(self.static_prefix)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"cache-control" or static]
                headers.extend(SECURITY_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def error_page(portal: Portal | None, status: int, code: str, language: str, **values: Any) -> HTMLResponse:
    folders = [portal.template_folder] if portal else []
    env = make_environment(folders)
    context = base_context(language)
    context.update(status=status, code=code, values=values, portal=portal, notice="", csrf_token="")
    html = env.get_template("web/error.html").render(context)
    return HTMLResponse(html, status_code=status)


def _unavailable_page(portal: Portal, exc: KibetiError, language: str) -> HTMLResponse:
    """A domain error a page did not handle that says the service is unavailable (503): its text in
    the user's language, with Retry-After when it says when to come back; never the 500 page."""
    code = f"error.{exc.code}" if has(f"error.{exc.code}") else "error.service_unavailable"
    response = error_page(portal, 503, code, language)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def install(app: FastAPI, portals: Sequence[Portal], *, static_prefix: str) -> None:
    """Register the portals' error handling on `app`, in front of the JSON handlers."""
    prefixes = tuple(p.prefix for p in portals)

    def portal_of(path: str) -> Portal | None:
        return next((p for p in portals if path == p.prefix or path.startswith(p.prefix + "/")), None)

    def language_of(request: Request) -> str:
        return str(getattr(request.state, "web_language", "en"))

    async def sign_in_required(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInRequired)
        target = exc.portal.sign_in
        query = []
        if exc.next_url and exc.next_url != exc.portal.prefix:
            query.append(f"next={quote(exc.next_url)}")
        if exc.reason:
            query.append(f"ended={quote(exc.reason)}")
        response = RedirectResponse(target + ("?" + "&".join(query) if query else ""), status_code=303)
        if exc.reason:
            sessions.clear(response, policy=exc.portal.policy(_settings(request)))
        return response

    async def web_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WebError)
        return error_page(portal_of(request.url.path), exc.status, exc.code, exc.language, **exc.values)

    def wrap(fallback: Handler) -> Handler:
        async def handler(request: Request, exc: Exception) -> Response:
            portal = portal_of(request.url.path)
            if portal is None or (isinstance(exc, KibetiError) and exc.http_status != 503):
                answer = fallback(request, exc)
                found: Response = await answer if inspect.isawaitable(answer) else answer
                return found
            if isinstance(exc, KibetiError):  # a part is unavailable (Redis for a limit): try again
                return _unavailable_page(portal, exc, language_of(request))
            if isinstance(exc, StarletteHTTPException):
                status = exc.status_code
            elif isinstance(exc, RequestValidationError):
                status = 404  # a malformed id in the path: there is no such page
            else:
                log.error("web_unhandled_error", error_type=type(exc).__name__, path=request.url.path)
                status = 500
            response = error_page(portal, status, _STATUS_CODES.get(status, "web.error.internal"),
                                  language_of(request))  # fmt: skip
            if isinstance(exc, StarletteHTTPException) and exc.headers:
                response.headers.update(exc.headers)
            return response

        return handler

    for exc_class in (StarletteHTTPException, RequestValidationError, KibetiError, Exception):
        previous = app.exception_handlers.get(exc_class)
        if previous is not None:
            app.add_exception_handler(exc_class, wrap(previous))
    app.add_exception_handler(SignInRequired, sign_in_required)
    app.add_exception_handler(WebError, web_error)
    app.add_middleware(WebHeaders, prefixes=(*prefixes, static_prefix), static_prefix=static_prefix)


def _settings(request: Request) -> Settings:
    return get_runtime(request).settings
