"""Africa's Talking SMS callbacks: inbound messages (POST /sms/{secret}/incoming) and delivery
reports (POST /sms/{secret}/delivery), both form-encoded.

AT retries an inbound message every minute until it gets a 200, for up to 12 h, so every answer is
200 once the token is right, and repeats are recognised by AT's message id. A refusal is a 403 and
the body is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from core import runtime as runtime_module
from core import telemetry
from core.messaging.flows import InboundSmsIn, SmsDesk
from core.messaging.service import Report
from core.security.callbacks import at_callback_allowed

log = logging.getLogger(__name__)
router = APIRouter(tags=["sms"])
MAX_FIELD = 1000  # an inbound SMS is at most a few concatenated parts
MAX_BODY = 16_384
_OK = PlainTextResponse("OK")


async def _authorised_form(secret: str, request: Request) -> Mapping[str, str] | None:
    rt = runtime_module.get()
    allowed = at_callback_allowed(
        rt.settings,
        path_token=secret,
        peer=request.client.host if request.client else "",
        forwarded_for=request.headers.get("x-forwarded-for"),
    )
    if not allowed:
        return None
    if len(await request.body()) > MAX_BODY:
        return {}
    try:
        form = await request.form(max_files=0, max_fields=50)
    except Exception:
        log.warning("sms callback: unreadable form")
        return {}
    return {key: str(value)[:MAX_FIELD] for key, value in form.items() if isinstance(value, str)}


@router.post("/sms/{secret}/incoming", response_class=PlainTextResponse)
async def incoming(secret: str, request: Request) -> Response:
    form = await _authorised_form(secret, request)
    if form is None:
        return PlainTextResponse("forbidden", status_code=403)
    at_id, phone = form.get("id", "").strip(), form.get("from", "").strip()
    if not at_id or not phone:
        telemetry.count("sms.inbound", outcome="malformed")
        return _OK  # nothing to answer; a 4xx would only make AT retry for 12 h
    command = await SmsDesk(runtime_module.get()).inbound(
        InboundSmsIn(at_id=at_id[:100], phone=phone[:32], text=form.get("text", ""))
    )
    telemetry.count("sms.inbound", outcome=command.value if command is not None else "repeat")
    return _OK


@router.post("/sms/{secret}/delivery", response_class=PlainTextResponse)
async def delivery_report(secret: str, request: Request) -> Response:
    form = await _authorised_form(secret, request)
    if form is None:
        return PlainTextResponse("forbidden", status_code=403)
    message_id, status = form.get("id", "").strip(), form.get("status", "").strip()
    if not message_id or not status:
        telemetry.count("sms.delivery_report", outcome="malformed")
        return _OK
    report = Report(
        message_id=message_id[:100],
        status=status[:20],
        failure_reason=(form.get("failureReason") or None) and form["failureReason"][:40],
        network_code=(form.get("networkCode") or None) and form["networkCode"][:10],
    )
    outcome = await SmsDesk(runtime_module.get()).delivery_report(report)
    telemetry.count("sms.delivery_report", outcome=outcome)
    return _OK
