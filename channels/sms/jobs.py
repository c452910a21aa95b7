"""RQ jobs for SMS. The AT SDK is synchronous, so it runs here, off the request path."""

from __future__ import annotations

import asyncio
import logging

from channels.sms import gateway
from channels.sms.adapter import at_base_url, render
from channels.sms.errors import SmsNotSent
from core import runtime, telemetry
from core.messaging.flows import SmsDesk
from core.outbox import service as outbox

log = logging.getLogger(__name__)


async def send_sms(
    phone: str, text: str, reference: str, outbox_id: int | None = None, sealed_secret: str = ""
) -> str:
    """Send one SMS through Africa's Talking and check its recipient status.

    Args:
        phone: E.164 number.
        text: the message (made GSM-7 safe before sending).
        reference: the idempotency reference of the send (for the logs).
        outbox_id: set when the outbox relay calls this job directly; the row is then marked done here.
        sealed_secret: a one-time code sealed in an envelope, put into `text` only now.

    Returns:
        AT's messageId, or "" when AT refused the number for good (logged, not retried).
    """
    rt = runtime.get()
    settings = rt.settings
    service = gateway.make_service(
        username=settings.at_username,
        api_key=settings.at_api_key.get_secret_value(),
        base_url=at_base_url(rt),
    )
    text = render(rt, text, sealed_secret, reference)
    try:
        sent = await asyncio.to_thread(
            gateway.send, service, phone=phone, text=text, sender_id=settings.at_sender_id
        )
    except SmsNotSent as exc:
        telemetry.count("sms.send", outcome="retry" if exc.retryable else "refused")
        if exc.retryable:
            raise
        log.warning("sms refused for good", extra={"reference": reference, "status_code": exc.status_code})
        await _mark_done(outbox_id)
        return ""
    telemetry.count("sms.send", outcome="accepted")
    log.info("sms sent", extra={"reference": reference, "message_id": sent.message_id})
    await _remember(
        rt,
        phone=phone,
        reference=reference,
        message_id=sent.message_id,
        text=text,
        secret=bool(sealed_secret),
    )
    await _mark_done(outbox_id)
    return sent.message_id


async def _remember(
    rt: runtime.Runtime, *, phone: str, reference: str, message_id: str, text: str, secret: bool
) -> None:
    """Keep the message for its delivery reports. The SMS is already sent, so a failure here is
    logged rather than raised: raising would send it again."""
    try:
        await SmsDesk(rt).record_sent(
            reference=reference, message_id=message_id, phone=phone, text=None if secret else text
        )
    except Exception:
        log.exception(
            "sent sms not recorded; its delivery reports will be unmatched", extra={"reference": reference}
        )


async def resend_failed() -> int:
    """Periodic: resend the failed receipts whose retry rule (table sms_retry_rules) allows it."""
    return await SmsDesk(runtime.get()).resend_due()


async def _mark_done(outbox_id: int | None) -> None:
    if outbox_id is None:
        return
    async with runtime.get().session_factory() as session:
        await outbox.mark_done(session=session, outbox_id=outbox_id)
        await session.commit()
