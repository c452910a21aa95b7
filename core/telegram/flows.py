"""Linking a Telegram chat to a customer: the use cases the Telegram channel calls.

The number comes from a contact the user shared with Telegram's own button, and the channel has
checked it is the sender's; an SMS code to that number (the OTP service) proves the SIM is in their
hand before the chat is linked.
"""

from __future__ import annotations

import structlog

from core.flows.errors import ServiceUnavailable
from core.identity import otp as otps
from core.identity import service as identity
from core.identity.errors import CustomerNotFound, OtpExpired, OtpInvalid
from core.identity.models import Customer
from core.identity.phone import mask_phone, normalize_phone
from core.runtime import Runtime
from core.telegram import service
from core.telegram.errors import NotLinked
from core.telegram.models import LinkedCustomer

OTP_PURPOSE = "telegram_link"
log = structlog.get_logger(__name__)


def _linked(customer: Customer, chat_id: int) -> LinkedCustomer:
    return LinkedCustomer(
        customer_id=customer.id,
        phone=customer.phone,
        name=customer.name,
        language=customer.language,
        chat_id=chat_id,
    )


class TelegramLinks:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def linked(self, *, telegram_user_id: int) -> LinkedCustomer | None:
        async with self.rt.session_factory() as session:
            link = await service.link_for_user(session=session, telegram_user_id=telegram_user_id)
            if link is None:
                return None
            customer = await identity.get_customer(session=session, customer_id=link.customer_id)
            return _linked(customer, link.chat_id)

    async def send_code(self, *, phone: str) -> str:
        """Send a linking code by SMS to the registered number; returns it in E.164.

        Raises InvalidPhoneNumber, CustomerNotFound, OtpTooManyRequests."""
        if self.rt.notifier is None:
            raise ServiceUnavailable("Runtime.notifier is not wired: no code can be sent")
        e164 = normalize_phone(phone)
        async with self.rt.session_factory() as session:
            customer = await identity.get_customer_by_phone(session=session, phone=e164)
            if customer is None:
                raise CustomerNotFound("no Kibeti account for this number")
            await otps.issue_otp(
                session=session, notifier=self.rt.notifier, phone=e164, purpose=OTP_PURPOSE,
                clock=self.rt.clock, language=customer.language,
            )  # fmt: skip
            await session.commit()
        return e164

    async def confirm(self, *, telegram_user_id: int, chat_id: int, phone: str, code: str) -> LinkedCustomer:
        """Check the SMS code and link the chat. Raises OtpInvalid, OtpExpired, OtpTooManyRequests."""
        e164 = normalize_phone(phone)
        async with self.rt.session_factory() as session:
            try:
                await otps.verify_otp(
                    session=session, phone=e164, purpose=OTP_PURPOSE, code=code, clock=self.rt.clock
                )
            except (OtpInvalid, OtpExpired):
                await session.commit()  # the failed try counts
                raise
            customer = await identity.get_customer_by_phone(session=session, phone=e164)
            if customer is None:
                raise CustomerNotFound("no Kibeti account for this number")
            await service.save_link(
                session=session, telegram_user_id=telegram_user_id, chat_id=chat_id,
                customer_id=customer.id, now=self.rt.clock.now(),
            )  # fmt: skip
            await session.commit()
            log.info("telegram_linked", phone=mask_phone(e164), customer_id=customer.id)
            return _linked(customer, chat_id)

    async def unlink(self, *, telegram_user_id: int) -> None:
        """Forget the chat; raises NotLinked if it was not linked."""
        async with self.rt.session_factory() as session:
            removed = await service.remove_link(session=session, telegram_user_id=telegram_user_id)
            await session.commit()
        if not removed:
            raise NotLinked("this chat is not linked")
