"""The account page: KYC level and limits with the ID-photo upload, devices and signing out
everywhere, Telegram linking, language."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.datastructures import UploadFile
from starlette.responses import Response

from compliance import kyc
from compliance.errors import InvalidDocument
from core.devices.flows import PortalSignIn
from core.flows.service import CoreFlows
from core.telegram.errors import NotLinked
from core.telegram.flows import TelegramLinks
from webapp.customer_portal.auth import PREFIX, CustomerPage, customer_of, render
from webapp.deps_auth import get_keyring, get_runtime
from webapp.web import i18n
from webapp.web.portal import Page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
KINDS = ("id_front", "id_back", "selfie")
MAX_UPLOAD = kyc.MAX_DOCUMENT_BYTES


async def _account(page: Page, status: int = 200, errors: dict[str, str] | None = None) -> Response:
    rt = get_runtime(page.request)
    customer = customer_of(page)
    account = await CoreFlows(rt).account_status(customer_id=customer.customer_id)
    devices = await PortalSignIn(rt).devices(
        customer_id=customer.customer_id, current_device_id=customer.device_id
    )
    telegram_since = await TelegramLinks(rt).link_of_customer(customer_id=customer.customer_id)
    return render(
        page, "app/account.html", status, customer=customer, account=account, devices=devices,
        telegram_since=telegram_since,
        errors=errors or {}, kinds=KINDS, max_mb=MAX_UPLOAD // (1024 * 1024),
        shortcode=rt.settings.at_shortcode,
    )  # fmt: skip


@router.get("/account")
async def account(page: CustomerPage) -> Response:
    return await _account(page)


@router.post("/account/telegram/unlink")
async def unlink_telegram(page: CustomerPage) -> Response:
    """Only the signed-in customer's own chat: the form names no chat and no customer."""
    try:
        await TelegramLinks(get_runtime(page.request)).unlink_customer(
            customer_id=customer_of(page).customer_id
        )
    except NotLinked:
        return page.redirect(f"{PREFIX}/account")  # a second tap, or another device unlinked it first
    return page.redirect(f"{PREFIX}/account", notice="app.notice.telegram_unlinked")


async def _read(upload: UploadFile) -> bytes | None:
    """At most one byte more than allowed: enough to tell a file is too large without reading it all."""
    return await upload.read(MAX_UPLOAD + 1)


@router.post("/account/kyc")
async def upload_kyc(page: CustomerPage) -> Response:
    form = await page.request.form()
    try:
        return await _store(page, {kind: form.get(kind) for kind in KINDS})
    finally:
        await form.close()


async def _store(page: Page, files: dict[str, object]) -> Response:
    chosen = {kind: f for kind, f in files.items() if isinstance(f, UploadFile) and f.filename}
    if not chosen:
        return await _account(page, 422, {"kyc": i18n.text("app.kyc.choose", page.language)})
    contents: dict[str, bytes] = {}
    errors: dict[str, str] = {}
    for kind, upload in chosen.items():
        content = await _read(upload) or b""
        if len(content) > MAX_UPLOAD:
            errors[kind] = i18n.text("app.kyc.too_large", page.language, mb=MAX_UPLOAD // (1024 * 1024))
        else:
            try:
                kyc.sniff_image(content)
                contents[kind] = content
            except InvalidDocument:
                errors[kind] = i18n.text("app.kyc.not_image", page.language)
    if errors:  # nothing is stored unless every chosen file is acceptable
        return await _account(page, 422, errors)
    rt = get_runtime(page.request)
    customer = customer_of(page)
    async with rt.session_factory() as session:
        for kind, content in contents.items():
            await kyc.add_document(
                session=session, customer_id=customer.customer_id, kind=kind, content=content,
                keyring=get_keyring(rt), now=rt.clock.now(),
            )  # fmt: skip
        await session.commit()
    return page.redirect(f"{PREFIX}/account", notice="app.notice.kyc_received")
