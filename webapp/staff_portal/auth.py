"""Who is looking at a staff page, and may they: the portal's session is the staff login's
`staff_sessions` row (revoked on sign-out, on disabling the user, on refresh-token reuse), and each
route carries one rule from the staff API's permission table (core.auth.permissions)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from core.audit import service as audit
from core.auth.permissions import Permission, has_permission
from core.auth.sessions import SESSION_MAX_AGE, signed_in_staff
from core.auth.types import SignedInStaff
from core.config import Settings
from webapp.deps_auth import RULE_ATTRIBUTE, DbSession
from webapp.web.portal import Page, Portal, SignInRequired, WebError
from webapp.web.sessions import CookiePolicy

PREFIX = "/staff"


def staff_cookie_policy(settings: Settings) -> CookiePolicy:
    return CookiePolicy(
        name="kibeti_staff",
        path=PREFIX,
        idle=timedelta(minutes=settings.staff_portal_idle_minutes),
        max_age=SESSION_MAX_AGE,
        secure=settings.is_production,
    )


portal = Portal(
    name="staff",
    prefix=PREFIX,
    template_folder=Path(__file__).resolve().parent / "templates",
    policy=staff_cookie_policy,
)
PortalPage = Annotated[Page, Depends(portal.page)]


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # catalog code
    permission: Permission | None


NAV = (
    NavItem(PREFIX, "staff.nav.dashboard", None),
    NavItem(f"{PREFIX}/kyc", "staff.nav.kyc", Permission.KYC_REVIEW),
    NavItem(f"{PREFIX}/cases", "staff.nav.cases", Permission.COMPLIANCE_CASES),
    NavItem(f"{PREFIX}/payouts", "staff.nav.payouts", Permission.PAYOUTS_READ),
    NavItem(f"{PREFIX}/customers", "staff.nav.customers", Permission.CUSTOMERS_READ),
    NavItem(f"{PREFIX}/merchants", "staff.nav.merchants", Permission.MERCHANTS_MANAGE),
    NavItem(f"{PREFIX}/config", "staff.nav.config", Permission.CONFIG_PROPOSE),
    NavItem(f"{PREFIX}/fx", "staff.nav.fx", Permission.FX_OVERRIDE),
    NavItem(f"{PREFIX}/limits", "staff.nav.limits", Permission.LIMITS_CHANGE),
    NavItem(f"{PREFIX}/audit", "staff.nav.audit", Permission.AUDIT_READ),
)


def nav_for(role: str) -> list[NavItem]:
    return [item for item in NAV if item.permission is None or has_permission(role, item.permission)]


def actor(staff: SignedInStaff) -> str:
    """The actor string the staff API writes (`staff:<id>:<email>`), so both read the same."""
    return f"staff:{staff.id}:{staff.email}"


async def _signed_in(page: Page, session: AsyncSession) -> SignedInStaff:
    staff = await signed_in_staff(session=session, session_id=page.require_signed_in(), now=page.now)
    # End the read transaction: on SQLite every transaction holds the one write lock.
    await session.commit()
    if staff is None:  # revoked, expired, or the user disabled
        raise SignInRequired(portal, reason="ended")
    page.principal = staff
    return staff


async def refuse(page: Page, session: AsyncSession, staff: SignedInStaff, permission: Permission) -> WebError:
    await audit.record(
        session=session,
        actor=f"staff:{staff.id}",
        action="staff.portal_denied",
        subject=f"staff:{staff.id}",
        details={"path": page.request.url.path, "permission": permission.value},
        clock=_FixedNow(page),
    )
    await session.commit()
    return WebError(403, "web.error.forbidden", page.language)


class _FixedNow:
    def __init__(self, page: Page) -> None:
        self._now = page.now

    def now(self) -> Any:
        return self._now


def staff_page(permission: Permission | None = None) -> Callable[..., Coroutine[Any, Any, Page]]:
    """Rule: a signed-in staff user whose role has `permission` (None: any staff role). Refusal is a
    403 page and an audit row; a revoked or disabled user is sent to sign-in."""

    async def check(page: PortalPage, session: DbSession) -> Page:
        staff = await _signed_in(page, session)
        if permission is not None and not has_permission(staff.role, permission):
            raise await refuse(page, session, staff, permission)
        return page

    setattr(check, RULE_ATTRIBUTE, permission if permission is not None else "any_staff")
    check.__name__ = f"staff_page_{permission.name.lower() if permission else 'any'}"
    return check


def staff_of(page: Page) -> SignedInStaff:
    assert isinstance(page.principal, SignedInStaff)
    return page.principal


def may(page: Page, permission: Permission) -> bool:
    return isinstance(page.principal, SignedInStaff) and has_permission(page.principal.role, permission)


def public_page() -> Callable[..., Coroutine[Any, Any, Page]]:
    async def check(page: PortalPage) -> Page:
        return page

    setattr(check, RULE_ATTRIBUTE, "public")
    return check


def render(page: Page, template: str, status: int = 200, **context: Any) -> Response:
    """A staff page: the layout's navigation holds only what the viewer's role may open."""
    role = page.principal.role if isinstance(page.principal, SignedInStaff) else ""
    return page.render(template, status=status, nav=nav_for(role) if role else [], **context)
