"""What an owner changes (a viewer only reads): API keys (a new key is shown once), webhook
endpoints (the signing secret is shown once) with test-send, the delivery log and redeliver, and
the phones that get an SMS for every payment. Fee and settlement terms are shown, set by staff."""

from __future__ import annotations

import re

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from core.auth import api_keys
from core.auth.permissions import API_KEY_SCOPES
from core.errors import KibetiError
from core.identity.errors import InvalidPhoneNumber
from core.identity.phone import normalize_phone
from core.merchants import service as merchants
from core.webhooks import service as webhooks
from core.webhooks.destinations import DestinationPolicy
from core.webhooks.events import EventType
from core.webhooks.flows import register_endpoint
from webapp.deps_auth import DbSession, get_keyring, get_runtime
from webapp.merchant_portal.auth import PREFIX, OwnerPage, ViewerPage, render, viewer_of
from webapp.web import forms, i18n
from webapp.web.portal import Page, WebError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
SCOPES = sorted(API_KEY_SCOPES)
EVENTS = [event.value for event in EventType]


class NewKeyForm(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class NewEndpointForm(BaseModel):
    url: str = Field(min_length=8, max_length=2000)
    description: str = Field(default="", max_length=200)


class PhonesForm(BaseModel):
    phones: str = Field(min_length=9, max_length=200)


def _actor(page: Page) -> str:
    return f"merchant_user:{viewer_of(page).user.id}"


# --- API keys ------------------------------------------------------------------------------------


async def _keys_page(page: Page, session: DbSession, status: int = 200, **context: object) -> Response:
    keys = await api_keys.list_api_keys(session=session, merchant_id=viewer_of(page).merchant.id)
    await session.commit()
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return render(page, "merchant/keys.html", status, keys=keys, scopes=SCOPES, **context)


@router.get("/keys")
async def keys_page(page: ViewerPage, session: DbSession) -> Response:
    return await _keys_page(page, session)


@router.post("/keys")
async def create_key(page: OwnerPage, session: DbSession) -> Response:
    form = await page.request.form()
    result = await forms.parse(NewKeyForm, form, page.language)
    chosen = [scope for scope in form.getlist("scopes") if isinstance(scope, str) and scope in API_KEY_SCOPES]
    if result.value is None or not chosen:
        errors = dict(result.errors)
        if not chosen:
            errors["scopes"] = i18n.text("merchant.keys.choose_scope", page.language)
        return await _keys_page(page, session, 422, errors=errors, values=result.values)
    rt = get_runtime(page.request)
    issued = await api_keys.create_api_key(
        session=session, merchant_id=viewer_of(page).merchant.id, scopes=chosen, name=result.value.name,
        clock=rt.clock, actor=_actor(page),
    )  # fmt: skip
    await session.commit()
    return await _keys_page(page, session, new_key=issued.plaintext)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, page: OwnerPage, session: DbSession) -> Response:
    own = {
        key.key_id
        for key in await api_keys.list_api_keys(session=session, merchant_id=viewer_of(page).merchant.id)
    }
    if key_id not in own:  # another merchant's key: as if it did not exist
        raise WebError(404, "web.error.not_found", page.language)
    await api_keys.revoke_api_key(
        session=session, key_id=key_id, clock=get_runtime(page.request).clock, actor=_actor(page)
    )
    await session.commit()
    return page.redirect(f"{PREFIX}/keys", notice="merchant.notice.key_revoked")


# --- webhooks ------------------------------------------------------------------------------------


async def _webhooks_page(page: Page, session: DbSession, status: int = 200, **context: object) -> Response:
    merchant_id = viewer_of(page).merchant.id
    endpoints = await webhooks.list_endpoints(session=session, merchant_id=merchant_id)
    deliveries = await webhooks.list_deliveries(session=session, merchant_id=merchant_id, limit=25)
    await session.commit()
    context.setdefault("errors", {})
    context.setdefault("values", {})
    return render(
        page,
        "merchant/webhooks.html",
        status,
        endpoints=endpoints,
        deliveries=deliveries,
        events=EVENTS,
        **context,
    )


@router.get("/webhooks")
async def webhooks_page(page: ViewerPage, session: DbSession) -> Response:
    return await _webhooks_page(page, session)


@router.post("/webhooks")
async def add_endpoint(page: OwnerPage, session: DbSession) -> Response:
    form = await page.request.form()
    result = await forms.parse(NewEndpointForm, form, page.language)
    events = [event for event in form.getlist("events") if isinstance(event, str) and event in EVENTS]
    if result.value is None:
        return await _webhooks_page(page, session, 422, errors=result.errors, values=result.values)
    rt = get_runtime(page.request)
    try:
        _, secret = await register_endpoint(
            session=session, merchant_id=viewer_of(page).merchant.id, url=result.value.url, events=events,
            description=result.value.description, keyring=get_keyring(rt),
            policy=DestinationPolicy.from_settings(rt.settings), now=page.now,
        )  # fmt: skip
    except KibetiError as exc:
        await session.rollback()
        return await _webhooks_page(
            page, session, 422, errors={"url": _refused(page, exc)}, values=result.values
        )
    await session.commit()
    return await _webhooks_page(page, session, new_secret=secret)


def _refused(page: Page, exc: KibetiError, *, url: bool = True) -> str:
    """A refusal in the viewer's language: core's reason is English (and may quote the resolver's
    own words), so English readers get it and others the catalog's sentence."""
    if page.language == "en":
        return i18n.text("merchant.webhooks.refused", page.language, reason=str(exc))
    return i18n.text("merchant.webhooks.bad_url" if url else "error.generic", page.language)


@router.post("/webhooks/{endpoint_id}/test")
async def test_endpoint(endpoint_id: int, page: OwnerPage, session: DbSession) -> Response:
    try:
        await webhooks.send_test(
            session=session, merchant_id=viewer_of(page).merchant.id, endpoint_id=endpoint_id, now=page.now
        )
    except KibetiError as exc:
        raise WebError(404, "web.error.not_found", page.language) from exc
    await session.commit()
    return page.redirect(f"{PREFIX}/webhooks", notice="merchant.notice.test_sent")


@router.post("/webhooks/deliveries/{delivery_id}/redeliver")
async def redeliver(delivery_id: int, page: OwnerPage, session: DbSession) -> Response:
    try:
        await webhooks.redeliver(
            session=session, merchant_id=viewer_of(page).merchant.id, delivery_id=delivery_id, now=page.now
        )
    except KibetiError as exc:
        await session.rollback()
        return await _webhooks_page(page, session, 422, errors={"_form": _refused(page, exc, url=False)})
    await session.commit()
    return page.redirect(f"{PREFIX}/webhooks", notice="merchant.notice.redelivered")


# --- settings ------------------------------------------------------------------------------------


async def _settings_page(page: Page, status: int = 200, **context: object) -> Response:
    context.setdefault("errors", {})
    merchant = viewer_of(page).merchant
    context.setdefault("values", {"phones": ", ".join(merchant.notification_phones or [])})
    return render(page, "merchant/settings.html", status, merchant=merchant, **context)


@router.get("/settings")
async def settings_page(page: ViewerPage) -> Response:
    return await _settings_page(page)


@router.post("/settings/phones")
async def set_phones(page: OwnerPage, session: DbSession) -> Response:
    form = await page.request.form()
    result = await forms.parse(PhonesForm, form, page.language)
    typed = str(form.get("phones") or "").strip()
    if result.value is None:
        errors = dict(result.errors)
        if typed and "phones" in errors:  # typed, but no phone number fits in it (or too many do)
            errors["phones"] = _phones_refused(page, typed)
        return await _settings_page(page, 422, errors=errors, values=result.values)
    phones = [part.strip() for part in re.split(r"[,;\n]", result.value.phones) if part.strip()]
    try:
        await merchants.set_notification_phones(
            session=session, merchant_id=viewer_of(page).merchant.id, phones=phones, actor=_actor(page),
            clock=get_runtime(page.request).clock,
        )  # fmt: skip
    except KibetiError:
        await session.rollback()
        return await _settings_page(
            page, 422, errors={"phones": _phones_refused(page, typed)}, values=result.values
        )
    await session.commit()
    return page.redirect(f"{PREFIX}/settings", notice="merchant.notice.phones_saved")


def _phones_refused(page: Page, typed: str) -> str:
    """Which entry is not a Kenyan mobile number, or how many numbers fit, in the viewer's language
    (core's reason is English)."""
    parts = [part.strip() for part in re.split(r"[,;\n]", typed) if part.strip()]
    for part in parts:
        try:
            normalize_phone(part)
        except InvalidPhoneNumber:
            return i18n.text("merchant.settings.bad_phone", page.language, phone=part[:40])
    return i18n.text("merchant.settings.phone_count", page.language, max=merchants.MAX_NOTIFICATION_PHONES)
