"""The USSD phone simulator (demos, staff, support): a phone-shaped page that dials the shortcode as
any test number through the real Africa's Talking callback, and shows the SMS that number received
from the Africa's Talking fake's outbox. Not served in production.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from channels.sms.adapter import at_base_url
from core.identity.errors import InvalidPhoneNumber
from core.identity.phone import normalize_phone
from core.runtime import Runtime
from webapp.deps_auth import get_runtime

router = APIRouter(tags=["simulator"])
PREFIX = "/simulator/phone"
PAGE = Path(__file__).resolve().parent.parent / "pages" / "phone_simulator.html"


class Hop(BaseModel):
    phone: str = Field(max_length=32)
    session_id: str = Field(default="", max_length=64)
    text: str = Field(default="", max_length=600)


class HopReply(BaseModel):
    session_id: str
    phone: str
    kind: str  # CON | END
    screen: str


def _runtime(request: Request) -> Runtime:
    rt = get_runtime(request)
    if rt.settings.is_production:
        raise HTTPException(status_code=404)
    return rt


@router.get("/phone", response_class=HTMLResponse)
@router.get(PREFIX, response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    rt = _runtime(request)
    html = PAGE.read_text(encoding="utf-8").replace("{{SHORTCODE}}", rt.settings.at_shortcode)
    return HTMLResponse(html)


@router.post(
    f"{PREFIX}/hop",
    response_model=HopReply,
    responses={422: {"description": 'Not a Kenyan mobile number: `{"detail": "<text to show>"}`'}},
)
async def hop(body: Hop, request: Request) -> HopReply:
    """One hop, posted form-encoded to the real /ussd/{secret} callback exactly as AT would.

    A number that is not a Kenyan mobile answers 422 `{"detail": "<text>"}`: the detail is a plain
    English sentence to show as it is (the page shows it, never the JSON)."""
    rt = _runtime(request)
    try:
        phone = normalize_phone(body.phone)
    except InvalidPhoneNumber as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    session_id = body.session_id or f"ATUid_sim_{uuid.uuid4().hex[:16]}"
    form = {
        "sessionId": session_id,
        "serviceCode": rt.settings.at_shortcode,
        "phoneNumber": phone,
        "networkCode": "99999",
        "text": body.text,
    }
    token = rt.settings.at_callback_token.get_secret_value()
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulator") as client:
        response = await client.post(f"/ussd/{token}", data=form)
    text = response.text
    kind, _, screen = text.partition(" ")
    if kind not in ("CON", "END"):
        kind, screen = "END", f"(HTTP {response.status_code}) {text[:120]}"
    return HopReply(session_id=session_id, phone=phone, kind=kind, screen=screen)


@router.get(f"{PREFIX}/sms")
async def inbox(phone: str, request: Request) -> dict[str, object]:
    """The SMS this number received, from the Africa's Talking fake's outbox (newest last)."""
    rt = _runtime(request)
    try:
        e164 = normalize_phone(phone)
    except InvalidPhoneNumber as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    async with httpx.AsyncClient(timeout=3.0) as client:
        try:
            response = await client.get(f"{at_base_url(rt).rstrip('/')}/outbox", params={"phone": e164})
            messages = response.json().get("messages", []) if response.status_code == 200 else []
        except (httpx.HTTPError, ValueError):
            messages = []
    return {"phone": e164, "messages": messages}
