"""Dashboard sign-in (email, password, authenticator code), sign-out, language."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import Response

from core.merchant_users import service as users
from core.merchant_users.errors import MerchantSignInFailed, MerchantUserLocked
from core.ratelimit import LOGIN_PER_IP
from webapp.deps_auth import DbSession, enforce_limit, get_keyring, get_runtime, request_ip
from webapp.merchant_portal.auth import PREFIX, PublicPage, ViewerPage, render, viewer_of
from webapp.web import forms, i18n

router = APIRouter(prefix=PREFIX, include_in_schema=False)


class SignInForm(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)
    totp: str = Field(min_length=6, max_length=8, pattern=r"^\d+$")


class LanguageForm(BaseModel):
    language: str = Field(pattern="^(en|sw)$")


@router.get("/sign-in")
async def sign_in_form(page: PublicPage) -> Response:
    ended = page.request.query_params.get("ended", "") in ("idle", "ended")
    return render(
        page, "merchant/sign_in.html", errors={}, values={}, message="merchant.sign_in.ended" if ended else ""
    )


@router.post("/sign-in")
async def sign_in(page: PublicPage, session: DbSession) -> Response:
    request = page.request
    await enforce_limit(request, LOGIN_PER_IP, request_ip(request))
    result = await forms.parse(SignInForm, await request.form(), page.language)
    if result.value is None:
        return render(
            page, "merchant/sign_in.html", 422, errors=result.errors, values=result.values, message=""
        )
    rt = get_runtime(request)
    try:
        row = await users.sign_in(
            session=session, email=result.value.email, password=result.value.password, code=result.value.totp,
            keyring=get_keyring(rt), now=page.now,
        )  # fmt: skip
    except MerchantUserLocked as exc:
        await session.commit()
        message = i18n.text(
            "merchant.sign_in.locked", page.language, minutes=max(1, -(-exc.retry_after // 60))
        )
        return render(
            page, "merchant/sign_in.html", 429, errors={"_form": message}, values=result.values, message=""
        )
    except MerchantSignInFailed:
        await session.commit()  # the failed count stays
        message = i18n.text("merchant.sign_in.failed", page.language)
        return render(
            page, "merchant/sign_in.html", 401, errors={"_form": message}, values=result.values, message=""
        )
    await session.commit()
    page.start_session(row.id)
    return page.redirect(f"{PREFIX}/")


@router.post("/sign-out")
async def sign_out(page: ViewerPage, session: DbSession) -> Response:
    await users.sign_out(session=session, session_id=page.session.sid, now=page.now)
    await session.commit()
    _ = viewer_of(page)
    page.end_session()
    return page.redirect(f"{PREFIX}/sign-in", notice="merchant.notice.signed_out")


@router.post("/language")
async def change_language(page: PublicPage) -> Response:
    result = await forms.parse(LanguageForm, await page.request.form(), page.language)
    if result.value is not None:
        page.set_language(result.value.language)
    back = "/" + page.request.headers.get("referer", "").split("://", 1)[-1].partition("/")[2]
    return page.redirect(back if back.startswith(PREFIX) and not back.startswith("//") else f"{PREFIX}/")
