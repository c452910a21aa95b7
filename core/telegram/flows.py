"""Linking a Telegram chat to a customer: the use cases the Telegram channel calls.

The number comes from a contact the user shared with Telegram's own button, and the channel has
checked it is the sender's; an SMS code to that number (the OTP service) proves the SIM is in their
hand before the chat is linked.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from core.addressbook.flows import _screen as screen_address
from core.flows.errors import ServiceUnavailable
from core.identity import otp as otps
from core.identity import service as identity
from core.identity.errors import CustomerNotFound, OtpExpired, OtpInvalid
from core.identity.models import Customer
from core.identity.phone import mask_phone, normalize_phone
from core.money import Asset
from core.runtime import Runtime
from core.telegram import service
from core.telegram.errors import NotLinked
from core.telegram.models import LinkedCustomer as LinkedCustomer  # the bot's view, for channels

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
        """The customer behind a chat (every update asks: one read, no transaction around it)."""
        async with self.rt.session_factory() as session:
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            found = await service.linked_customer(session=session, telegram_user_id=telegram_user_id)
            if found is None:
                return None
            link, customer = found
            return _linked(customer, link.chat_id)

    async def send_code(self, *, phone: str, language: str = "en") -> tuple[str, bool]:
        """Send a linking code by SMS to the number (registered or not: the code proves the SIM is in
        the sender's hand before the chat registers or links). Returns (E.164, registered).

        Raises InvalidPhoneNumber, OtpTooManyRequests."""
        if self.rt.notifier is None:
            raise ServiceUnavailable("Runtime.notifier is not wired: no code can be sent")
        e164 = normalize_phone(phone)
        async with self.rt.session_factory() as session:
            customer = await identity.get_customer_by_phone(session=session, phone=e164)
            await otps.issue_otp(
                session=session, notifier=self.rt.notifier, limiter=self.rt.rate_limiter,
                phone=e164, purpose=OTP_PURPOSE,
                clock=self.rt.clock, language=customer.language if customer is not None else language,
            )  # fmt: skip
            await session.commit()
        return e164, customer is not None

    async def confirm(
        self, *, telegram_user_id: int, chat_id: int, phone: str, code: str
    ) -> LinkedCustomer | None:
        """Check the SMS code and link the chat; None when the number is not registered yet (the
        code still proved it: the chat may register it). Raises OtpInvalid, OtpExpired,
        OtpTooManyRequests."""
        e164 = normalize_phone(phone)
        async with self.rt.session_factory() as session:
            try:
                await otps.verify_otp(
                    session=session, limiter=self.rt.rate_limiter,
                    phone=e164, purpose=OTP_PURPOSE, code=code, clock=self.rt.clock,
                )  # fmt: skip
            except (OtpInvalid, OtpExpired):
                await session.commit()  # the failed try counts
                raise
            customer = await identity.get_customer_by_phone(session=session, phone=e164)
            if customer is None:
                await session.commit()  # the code is used up
                return None
            linked = await self._save(session, customer, telegram_user_id, chat_id)
            await session.commit()
        return linked

    async def link_registered(self, *, telegram_user_id: int, chat_id: int, phone: str) -> LinkedCustomer:
        """Link the chat to the customer it has just registered. Only for a number whose SMS code
        this chat typed back (`confirm` answered None): the caller holds that proof."""
        e164 = normalize_phone(phone)
        async with self.rt.session_factory() as session:
            customer = await identity.get_customer_by_phone(session=session, phone=e164)
            if customer is None:
                raise CustomerNotFound("no Kibeti account for this number")
            linked = await self._save(session, customer, telegram_user_id, chat_id)
            await session.commit()
        return linked

    async def _save(
        self, session: AsyncSession, customer: Customer, telegram_user_id: int, chat_id: int
    ) -> LinkedCustomer:
        await service.save_link(
            session=session, telegram_user_id=telegram_user_id, chat_id=chat_id,
            customer_id=customer.id, now=self.rt.clock.now(),
        )  # fmt: skip
        log.info("telegram_linked", phone=mask_phone(customer.phone), customer_id=customer.id)
        return _linked(customer, chat_id)

    async def withdrawal_address(self, *, customer_id: int, asset: Asset, address: str) -> str:
        """A pasted withdrawal address, validated for the asset's network (the chain adapter says
        why not: another network's address, a bad checksum) and screened as an address-book save
        is; the withdrawal itself is screened again when it is requested. Returns the canonical form."""
        if self.rt.chains is None:
            raise ServiceUnavailable("Runtime.chains (ChainGateway) is not wired")
        canonical = self.rt.chains.validate_address(asset=asset, address=address.strip())
        await screen_address(self.rt, customer_id, asset, canonical)
        return canonical

    async def unlink(self, *, telegram_user_id: int) -> None:
        """Forget the chat; raises NotLinked if it was not linked."""
        async with self.rt.session_factory() as session:
            removed = await service.remove_link(session=session, telegram_user_id=telegram_user_id)
            await session.commit()
        if not removed:
            raise NotLinked("this chat is not linked")

    async def link_of_customer(self, *, customer_id: int) -> datetime | None:
        """When the customer linked a chat (None when none is linked): what the web portal shows."""
        async with self.rt.session_factory() as session:
            link = await service.link_for_customer(session=session, customer_id=customer_id)
            await session.commit()
        return link.linked_at if link is not None else None

    async def unlink_customer(self, *, customer_id: int) -> None:
        """Forget the customer's chat, from the web portal (the bot's cached view of that chat
        lapses within its 30 s); raises NotLinked if none was linked."""
        async with self.rt.session_factory() as session:
            link = await service.link_for_customer(session=session, customer_id=customer_id)
            removed = link is not None and await service.remove_link(
                session=session, telegram_user_id=link.telegram_user_id
            )
            await session.commit()
        if not removed:
            raise NotLinked("no chat is linked")
        log.info("telegram_unlinked_from_web", customer_id=customer_id)
