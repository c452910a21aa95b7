"""SMS that tell a customer about their PIN (reset, changed, locked), staged through the outbox
in the transaction that changed it and sent by the outbox job `core.identity.jobs.send_pin_notice`
(through `send`) in the customer's language. Someone who did not do it learns at once and can call
customer care."""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import translate
from core.identity.models import Customer
from core.outbox import service as outbox
from core.ports import Notifier

log = structlog.get_logger(__name__)
JOB = "core.identity.jobs.send_pin_notice"
PIN_RESET = "sms.pin_reset"  # a new PIN set without the old one (OTP, or after a staff reset)
PIN_RESET_STARTED = "sms.pin_reset_started"  # staff reset it: a code follows in its own SMS
PIN_CHANGED = "sms.pin_changed"
PIN_LOCKED = "sms.pin_locked"


async def stage(*, session: AsyncSession, customer: Customer, code: str, reference: str) -> None:
    await outbox.enqueue(
        session=session,
        job=JOB,
        kwargs={"customer_id": customer.id, "code": code, "reference": reference},
        dedupe_key=f"pin-sms:{reference}"[:160],
    )


async def send(
    *,
    session_factory: async_sessionmaker[AsyncSession],
    notifier: Notifier | None,
    shortcode: str,
    customer_id: int,
    code: str,
    reference: str,
) -> None:
    """Text the customer the notice `code` in their language (`shortcode`: the USSD code to dial)."""
    async with session_factory() as session:
        customer = await session.get(Customer, customer_id)
    if customer is None or notifier is None:
        log.warning("pin_notice_not_sent", customer_id=customer_id, notice=code)
        return
    text = translate(code, customer.language, code=shortcode)
    await notifier.send_sms(phone=customer.phone, text=text, reference=f"pin:{reference}")


async def send_pin_notice(customer_id: int, code: str, reference: str) -> None:
    """The job's path before it moved to core.identity.jobs: outbox rows staged under it still run."""
    from core.identity import jobs  # jobs imports this module

    await jobs.send_pin_notice(customer_id, code, reference)
