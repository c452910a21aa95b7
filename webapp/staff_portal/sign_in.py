"""Sign-in (email, password, TOTP: the staff API's login), sign-out and the language switch."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import AfterValidator, BaseModel, Field
from starlette.responses import Response

from core.auth import service as staff_service
from core.auth import sessions as staff_sessions
from core.auth.errors import AccountLocked, LoginFailed
from core.ratelimit import LOGIN_PER_ACCOUNT, LOGIN_PER_IP, subject_key
from webapp.deps_auth import DbSession, enforce_limit, get_keyring, get_runtime, request_ip
from webapp.staff_portal.auth import PREFIX, portal, public_page, render, staff_page
from webapp.web import forms, i18n
from webapp.web.portal import Page

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PublicPage = Annotated[Page, Depends(public_page())]
AnyStaffPage = Annotated[Page, Depends(staff_page())]


def _printable(value: str) -> str:
    if any(unicodedata.category(ch)[0] == "C" for ch in value):
        raise ValueError("control characters")
    return value


class SignInForm(BaseModel):
    email: Annotated[str, Field(min_length=3, max_length=254), AfterValidator(_printable)]
    password: Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_printable)]
    totp: str = Field(min_length=6, max_length=8, pattern=r"^\d+$")


class LanguageForm(BaseModel):
    language: str = Field(pattern="^(en|sw)$")


def _safe_next(target: str | None) -> str:
    """Only a path inside the portal: never another site (`//evil`, `https://...`)."""
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return PREFIX


@router.get("/sign-in")
async def sign_in_form(page: PublicPage) -> Response:
    ended = page.request.query_params.get("ended", "")
    message = i18n.text("staff.sign_in.ended", page.language) if ended in ("idle", "ended") else ""
    return render(
        page,
        "staff/sign_in.html",
        errors={},
        values={},
        message=message,
        next=_safe_next(page.request.query_params.get("next")),
    )


@router.post("/sign-in")
async def sign_in(page: PublicPage, session: DbSession) -> Response:
    request = page.request
    result = await forms.parse(SignInForm, await request.form(), page.language)
    target = _safe_next(str((await request.form()).get("next") or ""))

    def again(message_code: str, status: int) -> Response:
        errors = dict(result.errors)
        errors.setdefault("_form", i18n.text(message_code, page.language))
        return render(
            page,
            "staff/sign_in.html",
            status=status,
            errors=errors,
            values=result.values,
            message="",
            next=target,
        )

    if result.value is None:
        return again("staff.sign_in.fix_fields", 422)
    form = result.value
    try:
        await enforce_limit(request, LOGIN_PER_IP, f"ip:{request_ip(request)}")
        await enforce_limit(request, LOGIN_PER_ACCOUNT, subject_key("staff", form.email.strip().lower()))
    except HTTPException:
        return again("staff.sign_in.too_many", 429)
    runtime = get_runtime(request)
    try:
        pair = await staff_service.login(
            session=session,
            email=form.email,
            password=form.password,
            totp_code=form.totp,
            clock=runtime.clock,
            secret_key=runtime.settings.secret_key.get_secret_value(),
            keyring=get_keyring(runtime),
        )
    except LoginFailed:
        await session.commit()  # keep the failure count, the lockout and the audit row
        return again("staff.sign_in.wrong", 401)
    except AccountLocked:  # the same answer as a wrong password: a lock must not confirm an email
        return again("staff.sign_in.wrong", 401)
    await session.commit()
    page.start_session(pair.session_id)
    return page.redirect(target)


@router.post("/sign-out")
async def sign_out(page: AnyStaffPage, session: DbSession) -> Response:
    await staff_sessions.logout(
        session=session, session_id=page.session.sid, clock=get_runtime(page.request).clock
    )
    await session.commit()
    page.end_session()
    return page.redirect(portal.sign_in)


@router.post("/language")
async def language(page: PublicPage) -> Response:
    result = await forms.parse(LanguageForm, await page.request.form(), page.language)
    if result.value is not None:
        page.set_language(result.value.language)
    referer = page.request.headers.get("referer", "")
    path = referer.split(str(page.request.base_url).rstrip("/"), 1)[-1] if referer else PREFIX
    return page.redirect(_safe_next(path))
