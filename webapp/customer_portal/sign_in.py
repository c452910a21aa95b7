"""Sign-in with the phone number and a code sent by SMS; sign-out; the language switch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.datastructures import FormData
from starlette.responses import Response

from core.devices.flows import PortalSignIn
from core.errors import KibetiError
from core.flows.service import CoreFlows
from core.identity.errors import InvalidPhoneNumber, OtpExpired, OtpInvalid
from core.identity.phone import normalize_phone
from webapp.customer_portal.auth import HOME, PREFIX, CustomerPage, PublicPage, customer_of, render
from webapp.customer_portal.errors import refusal
from webapp.deps_auth import get_runtime
from webapp.web import forms, i18n
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


def _field_errors(errors: dict[str, str], form: FormData, language: str) -> dict[str, str]:
    """What is wrong with a typed phone number or code, said for that field: the generic "Fill in
    this field" or "This is not valid" helps no one who typed "abc" or five digits. A field left
    empty keeps "Fill in this field"."""
    specific = {"phone": "app.sign_in.bad_phone", "otp": "app.sign_in.bad_code"}
    typed = {name for name in specific if str(form.get(name) or "").strip()}
    return {
        name: i18n.text(specific[name], language) if name in typed else text for name, text in errors.items()
    }


def _code_refusal(exc: KibetiError, language: str, shortcode: str) -> str:
    """A wrong or dead sign-in code, in the portal's words: the last try is singular, and a code that
    no longer works says to ask for a new one here (not the USSD PIN reset's 9 > 4 > 1)."""
    if isinstance(exc, OtpInvalid) and exc.attempts_left == 1:
        return i18n.text("app.sign_in.code_wrong_last", language)
    if isinstance(exc, OtpExpired) or (isinstance(exc, OtpInvalid) and exc.attempts_left <= 0):
        return i18n.text("app.sign_in.code_expired", language)
    return refusal(exc, language, shortcode)


def _status(exc: KibetiError) -> int:
    """422 for a refusal; 503 when a part is unavailable (the rate limits' Redis): try again later."""
    return 503 if exc.http_status == 503 else 422


def _refused(
    page: Page, exc: KibetiError, step: str, errors: dict[str, str], values: dict[str, Any]
) -> Response:
    """The sign-in form again at `step` with the refusal beside its field: 422, or 503 with
    Retry-After when a part is unavailable and the error says when to come back."""
    response = render(
        page, "app/sign_in.html", _status(exc), step=step, errors=errors, values=values, message=""
    )
    retry_after = getattr(exc, "retry_after", None)
    if exc.http_status == 503 and retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def _shortcode(page: Page) -> str:
    return get_runtime(page.request).settings.at_shortcode


@router.get("/sign-in")
async def sign_in_form(page: PublicPage) -> Response:
    ended = page.request.query_params.get("ended", "")
    message = "app.sign_in.ended" if ended in ("idle", "ended") else ""
    return render(page, "app/sign_in.html", step="phone", errors={}, values={}, message=message)


@router.post("/sign-in")
async def request_code(page: PublicPage) -> Response:
    form = await page.request.form()
    result = await forms.parse(PhoneForm, form, page.language)
    if result.value is None:
        return render(
            page,
            "app/sign_in.html",
            422,
            step="phone",
            errors=_field_errors(result.errors, form, page.language),
            values=result.values,
            message="",
        )
    try:
        phone = await PortalSignIn(get_runtime(page.request)).request_code(phone_text=result.value.phone)
    except InvalidPhoneNumber:
        errors = {"phone": i18n.text("app.sign_in.bad_phone", page.language)}
        return render(
            page, "app/sign_in.html", 422, step="phone", errors=errors, values=result.values, message=""
        )
    except KibetiError as exc:
        errors = {"phone": refusal(exc, page.language, _shortcode(page))}
        return _refused(page, exc, "phone", errors, result.values)
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
    form = await page.request.form()
    result = await forms.parse(CodeForm, form, page.language)
    if result.value is None:
        errors = _field_errors(result.errors, form, page.language)
        return render(
            page, "app/sign_in.html", 422, step="code", errors=errors, values=result.values, message=""
        )
    try:
        phone = normalize_phone(result.value.phone)
        customer = await PortalSignIn(get_runtime(page.request)).sign_in(
            phone_text=phone, code=result.value.otp, label=_label(page)
        )
    except KibetiError as exc:
        errors = {"otp": _code_refusal(exc, page.language, _shortcode(page))}
        return _refused(page, exc, "code", errors, result.values)
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
