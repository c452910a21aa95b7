"""Sign-in with the phone number and a code sent by SMS; sign-out; the language switch."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from core.devices.flows import PortalSignIn
from core.errors import KibetiError
from core.flows.service import CoreFlows
from core.identity.errors import InvalidPhoneNumber
from core.identity.phone import normalize_phone
from webapp.customer_portal.auth import HOME, PREFIX, CustomerPage, PublicPage, customer_of, render
from webapp.customer_portal.errors import refusal
from webapp.deps_auth import get_runtime
from webapp.web import forms
from webapp.web.portal import Page

router = APIRouter(prefix=PREFIX, include_in_schema=False)


class PhoneForm(BaseModel):
    phone: str = Field(min_length=9, max_length=20, pattern=r"^[0-9 +()-]+$")


class CodeForm(BaseModel):
    phone: str = Field(min_length=9, max_length=20, pattern=r"^[0-9 +()-]+$")
    otp: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")


class LanguageForm(BaseModel):
    language: str = Field(pattern="^(en|sw)$")


def _label(page: Page) -> str:
    """A name the customer recognises in their device list, from the browser's user agent."""
    agent = page.request.headers.get("user-agent", "")
    browser = next((name for name in ("Firefox", "Edg", "OPR", "Chrome", "Safari") if name in agent), "")
    system = next((name for name in ("Android", "iPhone", "Windows", "Mac OS", "Linux") if name in agent), "")
    names = {"Edg": "Edge", "OPR": "Opera", "Mac OS": "macOS"}
    parts = [names.get(browser, browser), names.get(system, system)]
    return " / ".join(part for part in parts if part) or "browser"


def _shortcode(page: Page) -> str:
    return get_runtime(page.request).settings.at_shortcode


@router.get("/sign-in")
async def sign_in_form(page: PublicPage) -> Response:
    ended = page.request.query_params.get("ended", "")
    message = "app.sign_in.ended" if ended in ("idle", "ended") else ""
    return render(page, "app/sign_in.html", step="phone", errors={}, values={}, message=message)


@router.post("/sign-in")
async def request_code(page: PublicPage) -> Response:
    result = await forms.parse(PhoneForm, await page.request.form(), page.language)
    if result.value is None:
        return render(
            page,
            "app/sign_in.html",
            422,
            step="phone",
            errors=result.errors,
            values=result.values,
            message="",
        )
    try:
        phone = await PortalSignIn(get_runtime(page.request)).request_code(phone_text=result.value.phone)
    except InvalidPhoneNumber:
        errors = {"phone": forms.message_for("string_pattern_mismatch", page.language)}
        return render(
            page, "app/sign_in.html", 422, step="phone", errors=errors, values=result.values, message=""
        )
    except KibetiError as exc:
        errors = {"phone": refusal(exc, page.language, _shortcode(page))}
        return render(
            page, "app/sign_in.html", 422, step="phone", errors=errors, values=result.values, message=""
        )
    return render(
        page,
        "app/sign_in.html",
        step="code",
        errors={},
        values={"phone": phone},
        message="app.sign_in.code_sent",
    )


@router.post("/sign-in/code")
async def check_code(page: PublicPage) -> Response:
    result = await forms.parse(CodeForm, await page.request.form(), page.language)
    if result.value is None:
        return render(
            page, "app/sign_in.html", 422, step="code", errors=result.errors, values=result.values, message=""
        )
    try:
        phone = normalize_phone(result.value.phone)
        customer = await PortalSignIn(get_runtime(page.request)).sign_in(
            phone_text=phone, code=result.value.otp, label=_label(page)
        )
    except KibetiError as exc:
        errors = {"otp": refusal(exc, page.language, _shortcode(page))}
        return render(
            page, "app/sign_in.html", 422, step="code", errors=errors, values=result.values, message=""
        )
    page.start_session(customer.device_id)
    page.set_language(customer.language)
    return page.redirect(HOME)


@router.post("/sign-out")
async def sign_out(page: CustomerPage) -> Response:
    await PortalSignIn(get_runtime(page.request)).sign_out(device_id=customer_of(page).device_id)
    page.end_session()
    return page.redirect(f"{PREFIX}/sign-in", notice="app.notice.signed_out")


@router.post("/sign-out-everywhere")
async def sign_out_everywhere(page: CustomerPage) -> Response:
    await PortalSignIn(get_runtime(page.request)).sign_out_everywhere(
        customer_id=customer_of(page).customer_id
    )
    page.end_session()
    return page.redirect(f"{PREFIX}/sign-in", notice="app.notice.signed_out_everywhere")


@router.post("/language")
async def change_language(page: PublicPage) -> Response:
    """The page language; a signed-in customer's language everywhere (SMS, USSD, the bot) too."""
    result = await forms.parse(LanguageForm, await page.request.form(), page.language)
    if result.value is not None:
        page.set_language(result.value.language)
        if not page.session.anonymous:
            rt = get_runtime(page.request)
            customer = await PortalSignIn(rt).current(device_id=page.session.sid)
            if customer is not None:
                await CoreFlows(rt).set_language(
                    customer_id=customer.customer_id, language=result.value.language
                )
    back = page.request.headers.get("referer", "")
    path = "/" + back.split("://", 1)[-1].partition("/")[2]
    return page.redirect(path if path.startswith(PREFIX) and not path.startswith("//") else HOME)
