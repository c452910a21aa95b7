"""A portal (staff /staff, customer /app, merchant /merchant) and the per-request `Page`.

`Portal.page` is the first dependency of every portal route: it reads the signed cookie (a stale
or forged one becomes a fresh anonymous session), refuses an unsafe request without the session's
CSRF token, and hands the route a `Page` that renders templates and redirects with the cookie
refreshed. Who the viewer is (the principal) is the portal's business: its own dependency loads it
from the server-side row named by `page.session.sid` and calls `page.require_signed_in()` first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.responses import Response

from core.config import Settings
from core.i18n.catalog import normalize_language
from webapp.deps_auth import get_runtime
from webapp.web import csrf, sessions
from webapp.web.sessions import CookiePolicy, WebSession
from webapp.web.templating import base_context, make_environment

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Exception):
    """Not signed in (or the session ended): answered with a redirect to the portal's sign-in."""

    def __init__(self, portal: Portal, next_url: str = "", reason: str = "") -> None:
        super().__init__(reason or "sign in required")
        self.portal, self.next_url, self.reason = portal, next_url, reason


class WebError(Exception):
    """An error page: 403 (not allowed, bad CSRF), 404, 409, 429 ... with a catalog code."""

    def __init__(self, status: int, code: str, language: str = "en", **values: Any) -> None:
        super().__init__(code)
        self.status, self.code, self.language, self.values = status, code, language, values


@dataclass(frozen=True)
class Portal:
    name: str
    prefix: str
    template_folder: Path
    policy: Callable[[Settings], CookiePolicy]
    sign_in_path: str = ""
    notice_prefix: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sign_in(self) -> str:
        return self.sign_in_path or f"{self.prefix}/sign-in"

    async def page(self, request: Request) -> Page:
        runtime = get_runtime(request)
        secret = runtime.settings.secret_key.get_secret_value()
        policy = self.policy(runtime.settings)
        now = runtime.clock.now()
        found = sessions.read(request, secret_key=secret, policy=policy)
        ended = ""
        if found is not None and not sessions.is_fresh(found, now=now, policy=policy):
            ended = "idle" if not found.anonymous else ""
            found = sessions.new_anonymous(now, found.language)
        session = found or sessions.new_anonymous(now, _preferred_language(request))
        request.state.web_language = session.language
        page = Page(request=request, portal=self, session=session, secret_key=secret, policy=policy, now=now)
        page.ended = ended
        if request.method not in SAFE_METHODS:
            await page.check_csrf()
        return page


def _preferred_language(request: Request) -> str:
    accepted = request.headers.get("accept-language", "")
    return normalize_language(accepted.split(",", 1)[0].split(";", 1)[0].strip() or None)


@dataclass
class Page:
    request: Request
    portal: Portal
    session: WebSession
    secret_key: str
    policy: CookiePolicy
    now: datetime
    principal: Any = None
    ended: str = ""  # "idle" when a signed-in session timed out on this request

    @property
    def language(self) -> str:
        return self.session.language

    @property
    def csrf_token(self) -> str:
        return csrf.token_for(self.session.sid, secret_key=self.secret_key)

    async def check_csrf(self) -> None:
        given = self.request.headers.get(csrf.HEADER)
        if not given:
            form = await self.request.form()
            value = form.get(csrf.FIELD)
            given = value if isinstance(value, str) else None
        if not csrf.is_valid(self.session.sid, given, secret_key=self.secret_key):
            raise WebError(403, "web.error.csrf", self.language)

    def require_signed_in(self) -> str:
        """The session id of a signed-in viewer, or SignInRequired (anonymous or timed out)."""
        if self.session.anonymous:
            target = self.request.url.path if self.request.method in SAFE_METHODS else ""
            raise SignInRequired(self.portal, target, self.ended)
        return self.session.sid

    def start_session(self, sid: str) -> None:
        """Signed in: a new session id (and so a new CSRF token); the old anonymous one is gone."""
        self.session = sessions.new_signed_in(sid, self.now, self.language)

    def end_session(self) -> None:
        self.session = sessions.new_anonymous(self.now, self.language)

    def set_language(self, language: str) -> None:
        self.session = WebSession(
            self.session.sid, normalize_language(language), self.session.issued, self.session.seen
        )
        self.request.state.web_language = self.session.language

    def notice(self) -> str:
        code = self.request.query_params.get("notice", "")
        prefix = self.portal.notice_prefix or f"{self.portal.name}.notice."
        return code if code.startswith(prefix) and len(code) <= 80 else ""

    def _finish(self, response: Response) -> Response:
        sessions.write(
            response, self.session.touched(self.now), secret_key=self.secret_key, policy=self.policy
        )
        return response

    def render(self, template: str, status: int = 200, **context: Any) -> Response:
        env = make_environment([self.portal.template_folder])
        values = base_context(self.language)
        values.update(
            page=self,
            csrf_token=self.csrf_token,
            portal=self.portal,
            notice=self.notice(),
            principal=self.principal,
            request_path=self.request.url.path,
        )
        values.update(context)
        html = env.get_template(template).render(values)
        return self._finish(HTMLResponse(html, status_code=status))

    def redirect(self, url: str, notice: str = "") -> Response:
        if notice:
            url = f"{url}{'&' if '?' in url else '?'}notice={quote(notice)}"
        return self._finish(RedirectResponse(url, status_code=303))

    def respond(self, response: Response) -> Response:
        """A download or other non-page answer, with the session kept alive."""
        return self._finish(response)
