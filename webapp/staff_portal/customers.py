"""Customers: search by phone, name or national ID; personal data masked until a "reveal" (audited);
balances, recent movements, limits, linked channels; lock/unlock and the staff PIN reset (ID
re-checked, a one-time code by SMS, 24-hour withdrawal cool-down: the SIM-swap rules of
core.identity.service) as the staff API does them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from starlette.responses import Response

from compliance import kyc
from core.audit import service as audit
from core.auth.permissions import Permission
from core.identity import queries as identity_queries
from core.identity import service as identity
from core.identity.errors import CustomerNotFound
from core.identity.phone import mask_phone
from core.identity.types import CustomerStatus
from core.ledger import queries as ledger_queries
from core.ledger import service as ledger
from core.money import Asset
from core.telegram import service as telegram
from webapp.deps_auth import DbSession, get_runtime
from webapp.staff_portal.actions import attempt
from webapp.staff_portal.auth import PREFIX, may, render, staff_of, staff_page
from webapp.web import forms, pagination
from webapp.web.portal import Page, WebError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
ReadPage = Annotated[Page, Depends(staff_page(Permission.CUSTOMERS_READ))]
WritePage = Annotated[Page, Depends(staff_page(Permission.CUSTOMERS_WRITE))]
ResetPage = Annotated[Page, Depends(staff_page(Permission.CUSTOMERS_RESET_PIN))]
CustomerId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ASSET_CODES = frozenset(a.value for a in Asset)


class StatusForm(BaseModel):
    status: str = Field(pattern="^(active|suspended)$")


class ResetForm(BaseModel):
    kyc_rechecked: str = Field(pattern="^yes$")


def mask_name(name: str) -> str:
    return " ".join(word[:1] + "***" for word in name.split()) or "–"


def mask_id(number: str | None) -> str:
    return "****" + number[-3:] if number else "–"


@router.get("/customers")
async def search(page: ReadPage, session: DbSession) -> Response:
    q = page.request.query_params.get("q", "")[:100]
    found = await identity_queries.search_customers(
        session=session, text=q, before=pagination.cursor(page.request.query_params.get("before"))
    )
    await session.commit()
    return render(
        page, "staff/customers.html", customers=found, q=q, mask_phone=mask_phone, mask_name=mask_name
    )


async def _customer_page(
    page: Page, session: DbSession, customer_id: int, *, reveal: bool = False, **extra: Any
) -> Response:
    try:
        customer = await identity.get_customer(session=session, customer_id=customer_id)
    except CustomerNotFound:
        raise WebError(404, "web.error.not_found", page.language) from None
    wallets = await ledger_queries.customer_wallets(session=session, customer_id=customer_id)
    balances: list[tuple[str, int]] = []
    movements = []
    for account in wallets:
        if account.asset not in ASSET_CODES:
            # bad or legacy data the ledger cannot read as money: its stored balance, shown as stored
            balances.append((account.asset, account.balance))
            continue
        balances.append((account.asset, (await ledger.balance(session=session, account_id=account.id)).minor))
        movements.extend(await ledger.history(session=session, account_id=account.id, limit=10))
    movements.sort(key=lambda m: m.entry_id, reverse=True)
    profile = await kyc.get_profile(session=session, customer_id=customer_id)
    tier = await kyc.get_tier(session=session, tier=customer.kyc_tier)
    link = await telegram.link_for_customer(session=session, customer_id=customer_id)
    if reveal:
        await audit.record(
            session=session, actor=f"staff:{staff_of(page).id}", action="customer.pii_revealed",
            subject=f"customer:{customer_id}",
        )  # fmt: skip
    await session.commit()
    context: dict[str, Any] = {"errors": {}, "values": {}, "error": ""}
    context.update(extra)
    return render(
        page, "staff/customer.html", status=422 if context["error"] else 200, customer=customer,
        reveal=reveal, balances=balances, movements=movements[:20], profile=profile, link=link,
        limits=kyc.tier_limits_kes(tier),
        mask_phone=mask_phone, mask_name=mask_name, mask_id=mask_id,
        withdrawals_allowed_at=identity.withdrawals_allowed_at(customer),
        may_write=may(page, Permission.CUSTOMERS_WRITE), may_kyc=may(page, Permission.KYC_REVIEW),
        may_reset=may(page, Permission.CUSTOMERS_RESET_PIN),
        **context,
    )  # fmt: skip


@router.get("/customers/{customer_id}")
async def customer_page(customer_id: CustomerId, page: ReadPage, session: DbSession) -> Response:
    return await _customer_page(page, session, customer_id)


@router.post("/customers/{customer_id}/reveal")
async def reveal(customer_id: CustomerId, page: ReadPage, session: DbSession) -> Response:
    """The customer's name, phone and ID in clear, for this response only; the reveal is audited."""
    return await _customer_page(page, session, customer_id, reveal=True)


@router.post("/customers/{customer_id}/status")
async def set_status(customer_id: CustomerId, page: WritePage, session: DbSession) -> Response:
    result = await forms.parse(StatusForm, await page.request.form(), page.language)
    if result.value is None:
        raise WebError(400, "web.error.bad_request", page.language)
    work = identity.set_status(
        session=session,
        customer_id=customer_id,
        status=result.value.status,
        actor=f"staff:{staff_of(page).id}",
    )
    outcome = await attempt(session, work, page.language)
    if not outcome.ok:
        return await _customer_page(page, session, customer_id, error=outcome.error)
    locked = result.value.status == CustomerStatus.SUSPENDED.value
    return page.redirect(
        f"{PREFIX}/customers/{customer_id}",
        notice="staff.notice.locked" if locked else "staff.notice.unlocked",
    )


@router.post("/customers/{customer_id}/reset-pin")
async def reset_pin(customer_id: CustomerId, page: ResetPage, session: DbSession) -> Response:
    result = await forms.parse(ResetForm, await page.request.form(), page.language)
    if result.value is None:
        errors = {"kyc_rechecked": forms.message_for("missing", page.language)}
        return await _customer_page(page, session, customer_id, errors=errors, error=" ")
    runtime = get_runtime(page.request)
    if runtime.notifier is None:
        raise WebError(503, "web.error.internal", page.language)
    work = identity.start_staff_pin_reset(
        session=session, customer_id=customer_id, notifier=runtime.notifier, clock=runtime.clock,
        actor=f"staff:{staff_of(page).id}", limiter=runtime.rate_limiter,
    )  # fmt: skip
    outcome = await attempt(session, work, page.language)
    if not outcome.ok:
        return await _customer_page(page, session, customer_id, error=outcome.error)
    return page.redirect(f"{PREFIX}/customers/{customer_id}", notice="staff.notice.pin_reset")
