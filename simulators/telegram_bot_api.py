"""A Bot API double: a SIMULATED Telegram Bot API server for tests and the embedded default.

It speaks the wire format python-telegram-bot uses (POST /bot<token>/<method>, form fields whose
non-string values are JSON strings, multipart when a file is attached) and answers in the Bot API
envelope (`{"ok": true, "result": ...}` or `{"ok": false, "error_code", "description"}`).
Every call is recorded in order (`double.calls`), so a test asserts what the bot sent.
It never talks to Telegram: `getMe` names it a simulator.

Three ways to use it:
- `DoubleServer(double).start()`: a real HTTP server on 127.0.0.1 (a thread), for tests pointing
  `TELEGRAM_API_BASE_URL` at `server.base_url`;
- `double_app(double)`: the same as an ASGI app, to mount beside the web app;
- `DoubleRequest(double)`: a PTB request object that calls the double in-process, without sockets
  (the embedded default, where no real token is set).
Fault injection: `double.fail[method] = (http_status, description, parameters)` answers that error once.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from telegram.request import BaseRequest, RequestData

SIMULATOR_NAME = "Kibeti Bot API simulator"
BOT_ID = 900000001
BOT_USERNAME = "kibeti_simulated_bot"
# Values PTB sends JSON-encoded inside a form field
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
    }
)
SENT_MESSAGE_METHODS = frozenset({"sendMessage", "sendPhoto"})


@dataclass(frozen=True)
class BotCall:
    """One request the bot made: the method and its parameters (JSON fields decoded, files as sizes)."""

    method: str
    params: dict[str, Any]
    token: str


@dataclass
class BotApiDouble:
    token: str | None = None  # None: any token is accepted
    calls: list[BotCall] = field(default_factory=list)
    fail: dict[str, tuple[int, str, dict[str, Any] | None]] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # uploaded photos by the file_id answered
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- what tests read

    def calls_to(self, method: str, *, chat_id: int | None = None) -> list[BotCall]:
        with self._lock:
            found = [c for c in self.calls if c.method == method]
        if chat_id is not None:
            found = [c for c in found if str(c.params.get("chat_id")) == str(chat_id)]
        return found

    def sent_to(self, chat_id: int) -> list[BotCall]:
        """Messages the bot sent (or edited) in a chat, in order."""
        with self._lock:
            calls = list(self.calls)
        wanted = SENT_MESSAGE_METHODS | {"editMessageText"}
        return [c for c in calls if c.method in wanted and str(c.params.get("chat_id")) == str(chat_id)]

    def request(self) -> DoubleRequest:
        """A python-telegram-bot request that calls this double in-process (no HTTP)."""
        return DoubleRequest(self)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    # --- the API

    def handle(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one Bot API call: (HTTP status, envelope)."""
        if self.token is not None and token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        decoded = {name: _decode(name, value) for name, value in params.items()}
        with self._lock:
            self.calls.append(BotCall(method=method, params=decoded, token=token))
            failure = self.fail.pop(method, None)
        if failure is not None:
            status, description, parameters = failure
            body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
            if parameters:
                body["parameters"] = parameters
            return status, body
        answer = getattr(self, f"_{method}", None)
        if answer is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
        try:
            result = answer(decoded)
        except (KeyError, ValueError, TypeError) as exc:
            return 400, {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
        if isinstance(result, dict) and "message_id" in result:  # which message a sent one became
            decoded.setdefault("message_id", result["message_id"])
        return 200, {"ok": True, "result": result}

    def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": BOT_ID,
            "is_bot": True,
            "first_name": SIMULATOR_NAME,
            "username": BOT_USERNAME,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _setWebhook(self, params: dict[str, Any]) -> bool:
        url = str(params["url"])
        self.webhook = {
            "url": url,
            "secret_token": params.get("secret_token"),
            "allowed_updates": params.get("allowed_updates"),
            "max_connections": int(params.get("max_connections") or 40),
        }
        return True

    def _deleteWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = {}
        return True

    def _getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
            "max_connections": self.webhook.get("max_connections", 40),
        }
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    def _message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": int(params.get("message_id") or next(self._message_ids)),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": SIMULATOR_NAME, "username": BOT_USERNAME},
            **content,
        }
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        return message

    def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text = str(params["text"])
        if not text or len(text) > 4096:
            raise ValueError("message text is empty or too long")
        return self._message(params, text=text)

    def _sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        photo = params["photo"]
        size = photo.get("size", 0) if isinstance(photo, dict) else 0
        file_id = f"sim-photo-{next(self._message_ids)}"
        if isinstance(
            photo, dict
        ):  # the image is kept apart (the /chat page shows it); the call keeps its id
            with self._lock:
                self.files[file_id] = photo.pop("content", b"")
            photo["file_id"] = file_id
        sizes = [
            {"file_id": file_id, "file_unique_id": file_id, "width": 320, "height": 320, "file_size": size}
        ]
        content: dict[str, Any] = {"photo": sizes}
        if params.get("caption"):
            content["caption"] = str(params["caption"])
        return self._message(params, **content)

    def _editMessageText(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        int(params["message_id"])
        return self._message(params, text=str(params["text"]), edit_date=int(time.time()))

    def _editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any] | bool:
        if "inline_message_id" in params:
            return True
        int(params["message_id"])
        return self._message(params, text="", edit_date=int(time.time()))

    def _deleteMessage(self, params: dict[str, Any]) -> bool:
        int(params["chat_id"]), int(params["message_id"])
        return True

    def _answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        str(params["callback_query_id"])
        return True


def _decode(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


async def _form_params(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    if not content_type:
        return {}
    params: dict[str, Any] = {}
    async with request.form() as form:  # closes the uploaded parts' temporary files
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                params[name] = {"filename": value.filename, "size": len(data), "content": data}
            else:
                params[name] = value
    for name, value in list(params.items()):  # attach://<name> points at an uploaded part
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in params:
            params[name] = params.pop(value[9:])
    return params


def double_app(double: BotApiDouble) -> Starlette:
    """The double as an ASGI app: POST /bot<token>/<method> (GET works too, as on Telegram)."""

    async def call(request: Request) -> JSONResponse:
        token = request.path_params["token"]
        params = dict(request.query_params)
        if request.method == "POST":
            params.update(await _form_params(request))
        status, body = double.handle(token, request.path_params["method"], params)
        return JSONResponse(body, status_code=status)

    async def about(request: Request) -> JSONResponse:
        return JSONResponse(
            {"simulator": SIMULATOR_NAME, "note": "not Telegram: nothing leaves this machine"}
        )

    return Starlette(
        routes=[
            Route("/bot{token}/{method}", call, methods=["GET", "POST"]),
            Route("/", about, methods=["GET"]),
        ]
    )


class DoubleServer:
    """The double behind a real HTTP socket on 127.0.0.1 (port 0: a free one), served from a thread."""

    def __init__(self, double: BotApiDouble, host: str = "127.0.0.1", port: int = 0) -> None:
        self.double = double
        config = uvicorn.Config(double_app(double), host=host, port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="bot-api-double", daemon=True)
        self.host = host

    def start(self, timeout: float = 15.0) -> DoubleServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the Bot API double did not start")
            time.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        sockets = self._server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        """What TELEGRAM_API_BASE_URL takes: PTB appends the token, then /<method>."""
        return f"http://{self.host}:{self.port}/bot"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


class DoubleRequest(BaseRequest):
    """A PTB request that hands each call to an in-process double: the same parameters the wire carries
    (JSON-encoded fields), no socket."""

    def __init__(self, double: BotApiDouble) -> None:
        self.double = double

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        *_, token_part, api_method = url.split("/")
        token = token_part.removeprefix("bot")
        params: dict[str, Any] = dict(request_data.json_parameters) if request_data else {}
        if request_data is not None and request_data.contains_files:
            for name, part in request_data.multipart_data.items():
                content = part[1] if isinstance(part, tuple) else part
                size = len(content) if isinstance(content, bytes) else 0
                params[name] = {
                    "filename": part[0] if isinstance(part, tuple) else name,
                    "size": size,
                    "content": content if isinstance(content, bytes) else b"",
                }
            for name, value in list(params.items()):
                if isinstance(value, str) and value.startswith("attach://") and value[9:] in params:
                    params[name] = params.pop(value[9:])
        await asyncio.sleep(0)
        status, body = self.double.handle(token, api_method, params)
        return status, json.dumps(body).encode()
