"""Who is looking at an /app page: the cookie names a device session (core.devices), live for 30
days unless the customer or staff revokes it; the customer must still be active."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends
from starlette.responses import Response

from core.config import Settings
from core.devices.flows import PortalSignIn, SignedInCustomer
from core.devices.service import DEVICE_LIFETIME
from webapp.deps_auth import RULE_ATTRIBUTE, get_runtime
from webapp.web.portal import Page, Portal, SignInRequired
from webapp.web.sessions import CookiePolicy

PREFIX = "/app"


def customer_cookie_policy(settings: Settings) -> CookiePolicy:
    return CookiePolicy(
        name="kibeti_app", path=PREFIX, idle=DEVICE_LIFETIME, max_age=DEVICE_LIFETIME,
        secure=settings.is_production,
    )  # fmt: skip


portal = Portal(
    name="app",
    prefix=PREFIX,
    template_folder=Path(__file__).resolve().parent / "templates",
    policy=customer_cookie_policy,
)
PortalPage = Annotated[Page, Depends(portal.page)]


def customer_page() -> Callable[..., Coroutine[Any, Any, Page]]:
    """Rule: a live device session of an active customer; otherwise the sign-in page."""

    async def check(page: PortalPage) -> Page:
        sid = page.require_signed_in()
        customer = await PortalSignIn(get_runtime(page.request)).current(device_id=sid)
        if customer is None:
            raise SignInRequired(portal, reason="ended")
        page.principal = customer
        return page

    setattr(check, RULE_ATTRIBUTE, "customer")
    return check


def public_page() -> Callable[..., Coroutine[Any, Any, Page]]:
    async def check(page: PortalPage) -> Page:
        return page

    setattr(check, RULE_ATTRIBUTE, "public")
    return check


CustomerPage = Annotated[Page, Depends(customer_page())]
PublicPage = Annotated[Page, Depends(public_page())]


def customer_of(page: Page) -> SignedInCustomer:
    assert isinstance(page.principal, SignedInCustomer)
    return page.principal


HOME = f"{PREFIX}/"
NAV = (
    (HOME, "app.nav.home"),
    (f"{PREFIX}/buy", "app.nav.buy"),
    (f"{PREFIX}/send", "app.nav.send"),
    (f"{PREFIX}/receive", "app.nav.receive"),
    (f"{PREFIX}/history", "app.nav.history"),
    (f"{PREFIX}/account", "app.nav.account"),
)


def render(page: Page, template: str, status: int = 200, **context: Any) -> Response:
    return page.render(template, status=status, nav=NAV if page.principal else (), **context)
