"""Merchants: list, create, activate after screening, suspend (core.merchants.service, as the staff
API); API keys (create shown once, revoke); webhook endpoints' health and recent settlements."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from starlette.responses import Response

from core.auth import api_keys
from core.auth import queries as auth_queries
from core.auth.permissions import API_KEY_SCOPES, Permission
from core.merchants import queries as merchant_queries
from core.merchants import service as merchants
from core.merchants.types import MerchantStatus, SettlementMethod
from core.settlements import settle as settling
from core.webhooks import service as webhooks
from webapp.deps_auth import DbSession, get_runtime
from webapp.staff_portal.actions import attempt
from webapp.staff_portal.auth import PREFIX, may, render, staff_of, staff_page
from webapp.web import forms, pagination
from webapp.web.portal import Page, WebError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
MerchantsPage = Annotated[Page, Depends(staff_page(Permission.MERCHANTS_MANAGE))]
KeysPage = Annotated[Page, Depends(staff_page(Permission.API_KEYS_MANAGE))]
MerchantId = Annotated[int, Path(ge=1, le=2**62)]
KeyId = Annotated[str, Path(min_length=4, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
METHODS = "|".join(m.value for m in SettlementMethod)


class MerchantForm(BaseModel):
    name: str = Field(min_length=2, max_length=100)
    kra_pin: str = Field(default="", max_length=11)
    directors: str = Field(default="", max_length=500)  # one per line
    contact_phone: str = Field(default="", max_length=20)
    settlement_method: str = Field(pattern=f"^({METHODS})$")
    settlement_till: str = Field(default="", max_length=10)
    settlement_paybill: str = Field(default="", max_length=10)
    settlement_account: str = Field(default="", max_length=20)
    settlement_phone: str = Field(default="", max_length=20)
    fee_bps: int = Field(default=150, ge=100, le=200)


class SuspendForm(BaseModel):
    reason: str = Field(min_length=3, max_length=200)


class KeyForm(BaseModel):
    name: str = Field(min_length=1, max_length=100)


def _actor(page: Page) -> str:
    return f"staff:{staff_of(page).id}"


async def _list(page: Page, session: DbSession, status: int = 200, **extra: Any) -> Response:
    wanted = page.request.query_params.get("status", "")
    found = await merchant_queries.merchants_page(
        session=session,
        status=wanted if wanted in {s.value for s in MerchantStatus} else None,
        before=pagination.cursor(page.request.query_params.get("before")),
    )
    await session.commit()
    context: dict[str, Any] = {
        "errors": {},
        "values": {"settlement_method": "till", "fee_bps": "150"},
        "error": "",
    }
    context.update(extra)
    return render(
        page, "staff/merchants.html", status=status, merchants=found, wanted=wanted,
        statuses=[s.value for s in MerchantStatus], methods=[m.value for m in SettlementMethod], **context,
    )  # fmt: skip


@router.get("/merchants")
async def merchant_list(page: MerchantsPage, session: DbSession) -> Response:
    return await _list(page, session)


@router.post("/merchants")
async def create(page: MerchantsPage, session: DbSession) -> Response:
    result = await forms.parse(MerchantForm, await page.request.form(), page.language)
    if result.value is None:
        return await _list(page, session, 422, errors=result.errors, values=result.values)
    form = result.value
    work = merchants.create_merchant(
        session=session, name=form.name, actor=_actor(page), clock=get_runtime(page.request).clock,
        kra_pin=form.kra_pin, directors=[d.strip() for d in form.directors.splitlines() if d.strip()],
        contact_phone=form.contact_phone, settlement_method=form.settlement_method,
        settlement_till=form.settlement_till, settlement_paybill=form.settlement_paybill,
        settlement_account=form.settlement_account, settlement_phone=form.settlement_phone,
        fee_bps=form.fee_bps,
    )  # fmt: skip
    outcome = await attempt(session, work, page.language)
    if outcome.value is None:
        return await _list(page, session, 422, error=outcome.error, values=result.values)
    return page.redirect(f"{PREFIX}/merchants/{outcome.value.id}", notice="staff.notice.merchant_created")


async def _detail(page: Page, session: DbSession, merchant_id: int, **extra: Any) -> Response:
    merchant = await merchant_queries.find_merchant(session=session, merchant_id=merchant_id)
    if merchant is None:
        raise WebError(404, "web.error.not_found", page.language)
    keys = await api_keys.list_api_keys(session=session, merchant_id=merchant_id)
    hooks = await webhooks.list_endpoints(session=session, merchant_id=merchant_id)
    settlements = await settling.list_settlements(session=session, merchant_id=merchant_id, limit=20)
    await session.commit()
    context: dict[str, Any] = {"errors": {}, "values": {}, "error": "", "issued": None}
    context.update(extra)
    return render(
        page, "staff/merchant.html", status=422 if context["error"] else 200, merchant=merchant, keys=keys,
        hooks=hooks, settlements=settlements, scopes=sorted(API_KEY_SCOPES),
        may_keys=may(page, Permission.API_KEYS_MANAGE), **context,
    )  # fmt: skip


@router.get("/merchants/{merchant_id}")
async def detail(merchant_id: MerchantId, page: MerchantsPage, session: DbSession) -> Response:
    return await _detail(page, session, merchant_id)


@router.post("/merchants/{merchant_id}/activate")
async def activate(merchant_id: MerchantId, page: MerchantsPage, session: DbSession) -> Response:
    runtime = get_runtime(page.request)
    if runtime.compliance is None:
        raise WebError(503, "web.error.internal", page.language)
    work = merchants.activate_merchant(
        session=session,
        merchant_id=merchant_id,
        actor=_actor(page),
        clock=runtime.clock,
        compliance=runtime.compliance,
    )
    outcome = await attempt(session, work, page.language)
    if outcome.value is None:
        return await _detail(page, session, merchant_id, error=outcome.error)
    active = outcome.value.merchant.status == MerchantStatus.ACTIVE.value
    notice = "staff.notice.merchant_active" if active else "staff.notice.merchant_held"
    return page.redirect(f"{PREFIX}/merchants/{merchant_id}", notice=notice)


@router.post("/merchants/{merchant_id}/suspend")
async def suspend(merchant_id: MerchantId, page: MerchantsPage, session: DbSession) -> Response:
    result = await forms.parse(SuspendForm, await page.request.form(), page.language)
    if result.value is None:
        return await _detail(
            page, session, merchant_id, errors=result.errors, values=result.values, error=" "
        )
    work = merchants.suspend_merchant(
        session=session, merchant_id=merchant_id, actor=_actor(page), clock=get_runtime(page.request).clock,
        reason=result.value.reason,
    )  # fmt: skip
    outcome = await attempt(session, work, page.language)
    if not outcome.ok:
        return await _detail(page, session, merchant_id, error=outcome.error)
    return page.redirect(f"{PREFIX}/merchants/{merchant_id}", notice="staff.notice.merchant_suspended")


@router.post("/merchants/{merchant_id}/keys")
async def create_key(merchant_id: MerchantId, page: KeysPage, session: DbSession) -> Response:
    """The key is shown on this response only (never stored in clear, never in a redirect URL)."""
    form = await page.request.form()
    result = await forms.parse(KeyForm, form, page.language)
    scopes = [s for s in form.getlist("scopes") if isinstance(s, str) and s in API_KEY_SCOPES]
    if result.value is None or not scopes:
        errors = result.errors or {"scopes": forms.message_for("missing", page.language)}
        return await _detail(page, session, merchant_id, errors=errors, values=result.values, error=" ")
    work = api_keys.create_api_key(
        session=session, merchant_id=merchant_id, scopes=scopes, name=result.value.name,
        clock=get_runtime(page.request).clock, actor=_actor(page),
    )  # fmt: skip
    outcome = await attempt(session, work, page.language)
    if outcome.value is None:
        return await _detail(page, session, merchant_id, error=outcome.error)
    return await _detail(page, session, merchant_id, issued=outcome.value.plaintext)


@router.post("/merchants/{merchant_id}/keys/{key_id}/revoke")
async def revoke_key(merchant_id: MerchantId, key_id: KeyId, page: KeysPage, session: DbSession) -> Response:
    if await auth_queries.api_key_owner(session=session, key_id=key_id) != merchant_id:
        raise WebError(404, "web.error.not_found", page.language)
    work = api_keys.revoke_api_key(
        session=session, key_id=key_id, clock=get_runtime(page.request).clock, actor=_actor(page)
    )
    outcome = await attempt(session, work, page.language)
    if not outcome.ok:
        return await _detail(page, session, merchant_id, error=outcome.error)
    return page.redirect(f"{PREFIX}/merchants/{merchant_id}", notice="staff.notice.key_revoked")
