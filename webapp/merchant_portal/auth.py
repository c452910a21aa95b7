"""Who is looking at a /merchant page: the cookie names a merchant_sessions row (12 hours, 30 minutes
idle); the user must be active; a rule names the role a page needs (viewer reads, owner changes)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends
from starlette.responses import Response

from core.config import Settings
from core.merchant_users import queries as user_queries
from core.merchant_users.service import SESSION_LIFETIME
from core.merchant_users.types import DashboardMerchant, DashboardUser, MerchantRole
from webapp.deps_auth import RULE_ATTRIBUTE, DbSession
from webapp.web.portal import Page, Portal, SignInRequired, WebError
from webapp.web.sessions import CookiePolicy

PREFIX = "/merchant"
IDLE = timedelta(minutes=30)


def merchant_cookie_policy(settings: Settings) -> CookiePolicy:
    return CookiePolicy(
        name="kibeti_merchant",
        path=PREFIX,
        idle=IDLE,
        max_age=SESSION_LIFETIME,
        secure=settings.is_production,
    )


portal = Portal(
    name="merchant",
    prefix=PREFIX,
    template_folder=Path(__file__).resolve().parent / "templates",
    policy=merchant_cookie_policy,
)
PortalPage = Annotated[Page, Depends(portal.page)]


@dataclass(frozen=True)
class Viewer:
    user: DashboardUser
    merchant: DashboardMerchant

    @property
    def is_owner(self) -> bool:
        return self.user.role == MerchantRole.OWNER.value


def merchant_page(role: MerchantRole = MerchantRole.VIEWER) -> Callable[..., Coroutine[Any, Any, Page]]:
    """Rule: a signed-in dashboard user; `owner` pages refuse a viewer with a 403 page."""

    async def check(page: PortalPage, session: DbSession) -> Page:
        sid = page.require_signed_in()
        found = await user_queries.signed_in(session=session, session_id=sid, now=page.now)
        await session.commit()  # end the read: on SQLite every transaction holds the write lock
        if found is None:
            raise SignInRequired(portal, reason="ended")
        viewer = Viewer(*found)
        page.principal = viewer
        if role is MerchantRole.OWNER and not viewer.is_owner:
            raise WebError(403, "web.error.forbidden", page.language)
        return page

    setattr(check, RULE_ATTRIBUTE, f"merchant_{role.value}")
    return check


def public_page() -> Callable[..., Coroutine[Any, Any, Page]]:
    async def check(page: PortalPage) -> Page:
        return page

    setattr(check, RULE_ATTRIBUTE, "public")
    return check


ViewerPage = Annotated[Page, Depends(merchant_page())]
OwnerPage = Annotated[Page, Depends(merchant_page(MerchantRole.OWNER))]
PublicPage = Annotated[Page, Depends(public_page())]


def viewer_of(page: Page) -> Viewer:
    assert isinstance(page.principal, Viewer)
    return page.principal


NAV = (
    (f"{PREFIX}/", "merchant.nav.invoices"),
    (f"{PREFIX}/settlements", "merchant.nav.settlements"),
    (f"{PREFIX}/keys", "merchant.nav.keys"),
    (f"{PREFIX}/webhooks", "merchant.nav.webhooks"),
    (f"{PREFIX}/settings", "merchant.nav.settings"),
)


def render(page: Page, template: str, status: int = 200, **context: Any) -> Response:
    return page.render(template, status=status, nav=NAV if page.principal else (), **context)
