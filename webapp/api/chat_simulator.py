"""The Telegram chat simulator (issue 14 item 7): a chat-shaped page where a test user talks to the
real bot code. What the user types, shares or taps is posted as Telegram's JSON to the real webhook
(with its secret header, as Telegram would); what the bot sent comes from the in-process Bot API
double (a simulator): messages, buttons, QR images, and which messages it deleted.

Served only on the embedded default with no real bot configured (404 otherwise).
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from channels.telegram.bot import simulated
from core.runtime import Runtime
from webapp.deps_auth import get_runtime

router = APIRouter(tags=["simulator"])
PREFIX = "/simulator/chat"
PAGE = Path(__file__).resolve().parent.parent / "pages" / "chat_simulator.html"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
SHOWN = frozenset({"sendMessage", "sendPhoto", "editMessageText", "editMessageReplyMarkup", "deleteMessage"})
_update_ids = itertools.count(int(time.time()))
_message_ids = itertools.count(1)


class UserAction(BaseModel):
    user_id: int = Field(ge=1, le=2**52)
    first_name: str = Field(default="Test", max_length=64)
    language: str = Field(default="en", pattern=r"^(en|sw)$")
    kind: Literal["text", "contact", "tap"]
    text: str = Field(default="", max_length=5000)
    phone: str = Field(default="", max_length=32)
    data: str = Field(default="", max_length=64)
    message_id: int = Field(default=1, ge=1)  # the bot message whose button was tapped


def _runtime(request: Request) -> Runtime:
    rt = get_runtime(request)
    if rt.settings.is_production or not simulated(rt) or rt.telegram_double is None:
        raise HTTPException(status_code=404)
    return rt


def _update(action: UserAction) -> tuple[dict[str, Any], int | None]:
    """Telegram's JSON for what the user did, and the id of the message it made (if any)."""
    sender = {
        "id": action.user_id,
        "is_bot": False,
        "first_name": action.first_name,
        "language_code": action.language,
    }
    chat = {"id": action.user_id, "type": "private", "first_name": action.first_name}
    update_id = next(_update_ids)
    if action.kind == "tap":
        query = {
            "id": f"sim-{update_id}", "chat_instance": f"sim-{action.user_id}", "data": action.data,
            "from": sender,
            "message": {"message_id": action.message_id, "date": int(time.time()), "chat": chat, "text": ""},
        }  # fmt: skip
        return {"update_id": update_id, "callback_query": query}, None
    message_id = next(_message_ids)
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": chat,
        "from": sender,
    }
    if action.kind == "contact":
        message["contact"] = {
            "phone_number": action.phone,
            "first_name": action.first_name,
            "user_id": action.user_id,
        }
    else:
        message["text"] = action.text
        command = action.text.split(" ", 1)[0]
        if command.startswith("/") and len(command) > 1:
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"update_id": update_id, "message": message}, message_id


@router.get("/chat", response_class=HTMLResponse)
async def page(request: Request) -> HTMLResponse:
    _runtime(request)
    return HTMLResponse(PAGE.read_text(encoding="utf-8"))


@router.post(f"{PREFIX}/update")
async def send_update(action: UserAction, request: Request) -> dict[str, Any]:
    """Post the user's action to the real webhook, exactly as Telegram would."""
    rt = _runtime(request)
    update, message_id = _update(action)
    secret = rt.settings.telegram_webhook_secret.get_secret_value()
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://simulator") as client:
        response = await client.post(f"/telegram/{secret}", json=update, headers={SECRET_HEADER: secret})
    return {"status": response.status_code, "message_id": message_id}


def _buttons(markup: Any) -> dict[str, Any]:
    if not isinstance(markup, dict):
        return {}
    if "inline_keyboard" in markup:
        rows = [
            [{"text": b.get("text", ""), "data": b.get("callback_data", "")} for b in row]
            for row in markup["inline_keyboard"]
        ]
        return {"inline": rows}
    if "keyboard" in markup:
        rows = [
            [{"text": b.get("text", ""), "contact": bool(b.get("request_contact"))} for b in row]
            for row in markup["keyboard"]
        ]
        return {"keyboard": rows}
    return {}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@router.get(f"{PREFIX}/events")
async def events(request: Request, chat_id: int, since: int = 0) -> dict[str, Any]:
    """What the bot did in this chat since call number `since` (sent, edited, deleted messages)."""
    rt = _runtime(request)
    double = rt.telegram_double
    calls = list(double.calls)
    shown = []
    for index, call in enumerate(calls[since:], start=since):
        if call.method not in SHOWN or str(call.params.get("chat_id")) != str(chat_id):
            continue
        params = call.params
        photo = params.get("photo")
        event: dict[str, Any] = {
            "i": index, "method": call.method, "message_id": _int(params.get("message_id")),
            "text": params.get("text") or params.get("caption") or "",
            "html": params.get("parse_mode") == "HTML",
            **_buttons(params.get("reply_markup")),
        }  # fmt: skip
        if isinstance(photo, dict) and photo.get("file_id"):
            event["photo"] = f"{PREFIX}/photo/{photo['file_id']}"
        shown.append(event)
    return {"next": len(calls), "events": shown}


@router.get(f"{PREFIX}/photo/{{file_id}}")
async def photo(file_id: str, request: Request) -> Response:
    rt = _runtime(request)
    content = rt.telegram_double.files.get(file_id)
    if not content:
        raise HTTPException(status_code=404)
    return Response(content, media_type="image/png", headers={"Cache-Control": "no-store"})
