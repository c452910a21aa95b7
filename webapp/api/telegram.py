"""Telegram webhook (issue 14): POST /telegram/{secret}, and the Bot API double on the embedded default.

The update is authenticated twice (the path secret and the X-Telegram-Bot-Api-Secret-Token header
setWebhook registered), put on the bot's queue and answered 200 at once: the bot replies through
the Bot API, not in this response. A redelivered update_id is answered 200 and not acted on again.
A refused call is logged without its body.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from telegram import Update
from telegram.error import TelegramError

from channels.telegram.bot import embedded_double, running_application, simulated, stop_application
from core.runtime import Runtime
from webapp.deps_auth import get_runtime

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# Where the embedded default's Bot API double answers (the /chat page will read its calls)
DOUBLE_PATH = "/telegram-sim"


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    current = getattr(app.state, "runtime", None)  # set by the app's own lifespan
    if current is not None:  # None: an app without the lifespan, whose bot never started
        await stop_application(current)


router = APIRouter(tags=["telegram"], lifespan=_lifespan)


def _authorised(rt: Runtime, secret: str, request: Request) -> bool:
    expected = rt.settings.telegram_webhook_secret.get_secret_value()
    if not expected:
        return False
    if rt.settings.is_production and (simulated(rt) or expected.startswith("dev-")):
        # No bot configured: the public dev secret must not let anyone drive linking (and its SMS).
        return False
    header = request.headers.get(SECRET_HEADER, "")
    path_ok = hmac.compare_digest(secret.encode(), expected.encode())
    header_ok = hmac.compare_digest(header.encode(), expected.encode())
    return path_ok and header_ok


# What the bot reads of the message a tapped button sits under: which chat, which message, whether it
# is still accessible (date 0 means not). Telegram sends the whole message (its text, entities and
# keyboard); parsing all of it into PTB objects was a third of the update's parse.
_TAPPED_MESSAGE_FIELDS = ("message_id", "date", "chat", "message_thread_id")


def _trimmed(data: dict[str, Any]) -> dict[str, Any]:
    query = data.get("callback_query")
    message = query.get("message") if isinstance(query, dict) else None
    if not isinstance(message, dict):
        return data
    kept = {name: message[name] for name in _TAPPED_MESSAGE_FIELDS if name in message}
    return {**data, "callback_query": {**query, "message": kept}}  # type: ignore[dict-item]


async def telegram_webhook(request: Request) -> Response:
    """Every update. A plain Starlette route (added below), not a FastAPI path operation, as the
    USSD hop's: FastAPI's parameter solving and response handling cost ~60 us a request, and the
    webhook takes nothing but the path secret and the raw body."""
    secret: str = request.path_params["secret"]
    rt = get_runtime(request)
    if not _authorised(rt, secret, request):
        log.warning("telegram webhook refused: wrong or missing secret")
        return JSONResponse({"ok": False}, status_code=403)
    if request.headers.get("content-type", "").split(";", 1)[0].strip().lower() != "application/json":
        return JSONResponse({"ok": False, "description": "expected application/json"}, status_code=400)
    try:
        data: Any = json.loads(await request.body())
    except (ValueError, RecursionError):
        log.warning("telegram webhook: body is not JSON")
        return JSONResponse({"ok": False, "description": "not JSON"}, status_code=400)
    try:
        application = await running_application(rt)
    except TelegramError as exc:  # the Bot API is unreachable (getMe): Telegram retries a non-2xx later
        log.warning("telegram bot cannot start: %s", type(exc).__name__)
        return JSONResponse({"ok": False}, status_code=503, headers={"Retry-After": "30"})
    try:
        if not isinstance(data, dict):
            raise TypeError("an update is a JSON object")
        update = Update.de_json(_trimmed(data), application.bot)
    except Exception as exc:  # any shape de_json cannot read is not an update we can act on
        log.warning("telegram webhook: not an Update (%s)", type(exc).__name__)
        return JSONResponse({"ok": False, "description": "not an Update"}, status_code=400)
    # Telegram redelivers an update it got no 200 for: the bot acts on each update_id once, checked as
    # the update's turn comes (channels.telegram.ordering, with the read of the user's state)
    await application.update_queue.put(update)
    return JSONResponse({"ok": True})


router.add_route("/telegram/{secret}", telegram_webhook, methods=["POST"], include_in_schema=False)


@router.api_route(DOUBLE_PATH + "/bot{token}/{method}", methods=["GET", "POST"], include_in_schema=False)
async def bot_api_double(token: str, method: str, request: Request) -> Response:
    """The embedded default's Bot API double (a simulator, not Telegram); 404 when a real bot is set."""
    rt = get_runtime(request)
    if not rt.settings.embedded or not simulated(rt) or rt.telegram_double is None:
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    params: dict[str, Any] = dict(request.query_params)
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/x-www-form"
    ):
        async with request.form() as form:
            params.update({name: value for name, value in form.multi_items() if isinstance(value, str)})
    status, body = embedded_double(rt).handle(token, method, params)
    return JSONResponse(body, status_code=status)
