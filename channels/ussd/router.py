"""Africa's Talking USSD callbacks: POST /ussd/{secret} (every hop) and /ussd/{secret}/events.

AT sends form fields sessionId, serviceCode, phoneNumber, networkCode, text and expects a
text/plain answer starting with "CON " (wait for input) or "END " (close). Anything else, or a
40x, ends the session on the phone; a 5xx must never happen.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import unquote_plus

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

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


async def _form(request: Request) -> Mapping[str, object]:
    """The callback's form. AT posts it urlencoded: decoded here as Starlette's form parser does
    (latin-1, then percent-escapes as UTF-8; the last of repeated fields), at a fraction of the
    CPU on every hop; anything else goes through Starlette."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != _URLENCODED:
        return await request.form()
    body = (await request.body()).decode("latin-1")
    form: dict[str, str] = {}
    for count, pair in enumerate(body.split("&"), start=1):
        if count > MAX_FORM_FIELDS:
            raise ValueError("too many form fields")
        if pair:
            name, _, value = pair.partition("=")
            form[unquote_plus(name)] = unquote_plus(value)
    return form


def _reply(screen: Screen) -> PlainTextResponse:
    return PlainTextResponse(("END " if screen.end else "CON ") + screen.text)


async def ussd_callback(request: Request) -> Response:
    """Every hop. A plain Starlette route (added below), not a FastAPI path operation: FastAPI's
    parameter solving and response handling cost ~60 us a request, and a hop takes nothing but
    the path token and the raw form."""
    secret: str = request.path_params["secret"]
    rt = runtime_module.get()
    if not _authorised(rt, secret, request):
        return PlainTextResponse("forbidden", status_code=403)
    try:
        form = await _form(request)
        fields = {
            k: str(form.get(k, ""))[:MAX_FIELD] for k in ("sessionId", "serviceCode", "phoneNumber", "text")
        }
        fields["networkCode"] = str(form.get("networkCode", ""))[:16]
    except Exception:
        log.warning("ussd: unreadable form")
        return _reply(Screen(translate("error.generic", "en"), end=True))
    if not fields["sessionId"] or not fields["phoneNumber"]:
        return _reply(Screen(translate("error.generic", "en"), end=True))
    hop = HopRequest(
        session_id=fields["sessionId"],
        phone=fields["phoneNumber"],
        text=fields["text"],
        service_code=fields["serviceCode"],
        network_code=fields["networkCode"],
    )
    return _reply(await get_engine(rt).hop(hop))


router.add_route("/ussd/{secret}", ussd_callback, methods=["POST"], include_in_schema=False)


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
