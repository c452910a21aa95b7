"""Africa's Talking USSD callbacks: POST /ussd/{secret} (every hop) and /ussd/{secret}/events.

AT sends form fields sessionId, serviceCode, phoneNumber, networkCode, text and expects a
text/plain answer starting with "CON " (wait for input) or "END " (close). Anything else, or a
40x, ends the session on the phone; a 5xx must never happen.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import unquote, unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.requests import ClientDisconnect
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from channels.ussd.engine import Contacts, Engine, HopRequest, Screen
from channels.ussd.session import MemorySessionStore, RedisSessionStore, SessionStore
from channels.ussd.states import TABLE
from core import runtime as runtime_module
from core import telemetry
from core.flows.service import CoreFlows
from core.i18n import translate
from core.runtime import Runtime
from core.security.callbacks import at_callback_allowed

log = logging.getLogger(__name__)
router = APIRouter(tags=["ussd"])
MAX_FIELD = 600
MAX_FORM_FIELDS = 100  # AT sends five
_URLENCODED = "application/x-www-form-urlencoded"


def build_engine(rt: Runtime) -> Engine:
    store: SessionStore
    store = RedisSessionStore(rt.redis) if rt.redis is not None else MemorySessionStore()
    secret = rt.settings.secret_key.get_secret_value().encode()
    return Engine(
        table=TABLE,
        store=store,
        flows=CoreFlows(rt),
        secret=secret,
        default_service_code=rt.settings.at_shortcode,
        contacts=Contacts(care_phone=rt.settings.customer_care_phone, paybill=rt.settings.mpesa_shortcode),
        now=lambda: rt.clock.now().timestamp(),  # the Runtime's clock (a test's fixed clock too)
    )


def get_engine(rt: Runtime) -> Engine:
    """The engine webapp.bootstrap built for this web process."""
    if not isinstance(rt.ussd_engine, Engine):
        raise RuntimeError("no USSD engine in this Runtime: webapp.bootstrap.wire_web builds it")
    return rt.ussd_engine


def _authorised(rt: Runtime, secret: str, request: Request) -> bool:
    """Secret path token, and the optional IP allow-list (X-Forwarded-For only from trusted proxies)."""
    return at_callback_allowed(
        rt.settings,
        path_token=secret,
        peer=request.client.host if request.client else "",
        forwarded_for=request.headers.get("x-forwarded-for"),
    )


_PLAIN_ESCAPES = (("%2A", "*"), ("%2a", "*"), ("%2B", "+"), ("%2b", "+"), ("%23", "#"))


class FormRefused(ValueError):
    """A body that is not a form a hop can be read from (too many fields, an unreadable one)."""


def decode_form(body: bytes) -> dict[str, str]:
    """An urlencoded body's fields as Starlette's form parser gives them (latin-1, then each name and
    value unquoted with '+' as a space and percent-escapes as UTF-8, invalid ones replaced; the last
    of repeated fields), at a fraction of the CPU on every hop. An ASCII body (all Africa's Talking
    sends) is unquoted only where it holds an escape, and the escapes AT sends ('*', '+', '#') by
    plain replaces: an escape is '%' and two hex digits wherever it stands, and none of these gives
    a '%', so replacing them leaves every other escape for `unquote` to decode exactly as before.
    Raises FormRefused past MAX_FORM_FIELDS fields."""
    if body.count(b"&") >= MAX_FORM_FIELDS:
        raise FormRefused("too many form fields")
    form: dict[str, str] = {}
    if not body.isascii():  # a raw non-ASCII byte: the general decoding, as Starlette's
        for pair in body.decode("latin-1").split("&"):
            if pair:
                name, _, value = pair.partition("=")
                form[unquote_plus(name)] = unquote_plus(value)
        return form
    for pair in body.decode("ascii").split("&"):
        if pair:
            name, _, value = pair.partition("=")
            if "+" in value:  # unquote_plus(v) is unquote(v with '+' as ' '): the '+' first
                value = value.replace("+", " ")
            if "%" in value:  # what AT escapes: '*' (every separator), '+' and '#' (phone, code)
                for escape, char in _PLAIN_ESCAPES:
                    value = value.replace(escape, char)
                if "%" in value:
                    value = unquote(value)
            if "%" in name or "+" in name:
                name = unquote_plus(name)
            form[name] = value
    return form


def _fields(form: Mapping[str, object]) -> dict[str, str]:
    fields = {
        k: str(form.get(k, ""))[:MAX_FIELD] for k in ("sessionId", "serviceCode", "phoneNumber", "text")
    }
    fields["networkCode"] = str(form.get("networkCode", ""))[:16]
    return fields


async def _answer(rt: Runtime, form: Mapping[str, object] | None) -> Screen:
    """The hop's screen for a decoded form (None: unreadable)."""
    if form is None:
        return Screen(translate("error.generic", "en"), end=True)
    fields = _fields(form)
    if not fields["sessionId"] or not fields["phoneNumber"]:
        return Screen(translate("error.generic", "en"), end=True)
    hop = HopRequest(
        session_id=fields["sessionId"],
        phone=fields["phoneNumber"],
        text=fields["text"],
        service_code=fields["serviceCode"],
        network_code=fields["networkCode"],
    )
    return await get_engine(rt).hop(hop)


_TEXT_PLAIN = b"text/plain; charset=utf-8"


async def _send_text(send: Send, status: int, text: str) -> None:
    """What PlainTextResponse(text, status) sends, without building one."""
    body = text.encode("utf-8")
    headers = [(b"content-length", str(len(body)).encode("latin-1")), (b"content-type", _TEXT_PLAIN)]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (SecurityMiddleware has already refused one over its limit); a client
    gone before it arrived raises ClientDisconnect, as Request.body() does."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def ussd_hop(scope: Scope, receive: Receive, send: Send) -> None:
    """Every hop: a plain ASGI endpoint, the first route the served app tries (webapp.app), with no
    FastAPI parameter solving and no Request or Response object (~40 us a hop with the routing).
    The path token and address first (403 "forbidden"), then the form: an urlencoded body through
    `decode_form`, any other content type through Starlette's parser (multipart; no fields
    otherwise); an unreadable form, or one without sessionId or phoneNumber, is answered END with
    the generic error. The answer is text/plain "CON ..." or "END ...", as PlainTextResponse sends."""
    rt = runtime_module.get()
    content_type = forwarded_for = None
    for key, value in scope["headers"]:  # the first of repeated headers, as Request.headers gives
        if key == b"content-type" and content_type is None:
            content_type = value.decode("latin-1")
        elif key == b"x-forwarded-for" and forwarded_for is None:
            forwarded_for = value.decode("latin-1")
    client = scope.get("client")
    allowed = at_callback_allowed(
        rt.settings,
        path_token=scope["path_params"]["secret"],
        peer=client[0] if client else "",
        forwarded_for=forwarded_for,
    )
    if not allowed:
        await _send_text(send, 403, "forbidden")
        return
    form: Mapping[str, object] | None
    try:
        if (content_type or "").split(";", 1)[0].strip().lower() == _URLENCODED:
            form = decode_form(await _read_body(receive))
        else:  # multipart (its files closed once read), or no fields at all
            async with Request(scope, receive).form() as parsed:
                form = dict(parsed)
    except Exception:
        log.warning("ussd: unreadable form")
        form = None
    screen = await _answer(rt, form)
    await _send_text(send, 200, ("END " if screen.end else "CON ") + screen.text)


class _Endpoint:
    """`ussd_hop` as a Route endpoint Starlette calls as ASGI (it wraps a plain function in its
    request/response machinery)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await ussd_hop(scope, receive, send)


# Served first, ahead of every router (webapp.app puts it there): a hop is the most frequent request,
# and reaching it through FastAPI's included router cost ~30 us a hop (the docs routes tried first,
# the included router's matching and scope bookkeeping). `router` keeps /ussd/{secret}/events.
hop_route = Route("/ussd/{secret}", _Endpoint(), methods=["POST"], name="ussd_hop", include_in_schema=False)


@router.post("/ussd/{secret}/events")
async def ussd_session_event(secret: str, request: Request) -> Response:
    """End-of-session notification: logged; a dropped session keeps its resume point."""
    rt = runtime_module.get()
    if not _authorised(rt, secret, request):
        return PlainTextResponse("forbidden", status_code=403)
    form = await request.form()
    status = str(form.get("status", ""))
    log.info(
        "ussd session ended",
        extra={
            "status": status,
            "hops": str(form.get("hopsCount", "")),
            "error": str(form.get("errorMessage", "")),
        },
    )
    session_id = str(form.get("sessionId", ""))
    store = get_engine(rt).store
    session = await store.load(session_id) if session_id else None
    if session is not None and not session.ended:  # an ended one answers a retried final hop until its TTL
        telemetry.count("ussd.dropped", state=session.state)  # the screen the caller left on
        await store.delete(session_id)
    return PlainTextResponse("OK")
