"""SMS use cases: delivery reports, inbound commands and resending failed receipts.

Channels call these; they never open a session themselves.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from core.flows.service import CoreFlows
from core.i18n import translate
from core.identity.errors import InvalidPhoneNumber
from core.identity.phone import normalize_phone
from core.messaging import service
from core.messaging.commands import Command, parse
from core.messaging.service import Report
from core.money import format_money
from core.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundSmsIn:
    at_id: str
    phone: str
    text: str


class SmsDesk:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    async def record_sent(self, *, reference: str, message_id: str, phone: str, text: str | None) -> None:
        async with self.rt.session_factory() as session:
            await service.record_sent(
                session,
                reference=reference,
                message_id=message_id,
                phone=phone,
                text=text,
                now=self.rt.clock.now(),
            )
            await session.commit()

    async def delivery_report(self, report: Report) -> str:
        async with self.rt.session_factory() as session:
            outcome = await service.apply_report(session, report=report, now=self.rt.clock.now())
            await session.commit()
        return outcome

    async def inbound(self, message: InboundSmsIn) -> Command | None:
        """Answer one inbound SMS once. Returns the command, or None for a repeat or a bad number.

        The reply is staged first (the outbox stages a reference once), then the message is recorded
        with its effect: a crash between the two is healed by AT's retry without a second reply."""
        try:
            phone = normalize_phone(message.phone)
        except InvalidPhoneNumber:
            log.warning("inbound sms from an unreadable number ignored")
            return None
        parsed = parse(message.text)
        async with self.rt.session_factory() as session:
            repeat = await service.already_received(session, at_id=message.at_id)
        if repeat:
            return None
        customer = await CoreFlows(self.rt).find_customer(phone=phone)
        language = customer.language if customer is not None else (parsed.language or "en")
        reply = await self._reply(
            parsed.command, customer_id=customer.id if customer else None, language=language
        )
        if self.rt.notifier is not None:
            await self.rt.notifier.send_sms(phone=phone, text=reply, reference=f"sms-in:{message.at_id}")
        try:
            async with self.rt.session_factory() as session:
                recorded = await service.record_inbound(
                    session, at_id=message.at_id, phone=phone, command=parsed.command, now=self.rt.clock.now()
                )
                if not recorded:
                    return None
                if parsed.command in (Command.STOP, Command.START):
                    await service.set_marketing_opt_out(
                        session, phone=phone, opt_out=parsed.command is Command.STOP, now=self.rt.clock.now()
                    )
                await session.commit()
        except IntegrityError:  # AT's retry raced this one: it recorded the message
            return None
        return parsed.command

    async def _reply(self, command: Command, *, customer_id: int | None, language: str) -> str:
        code = self.rt.settings.at_shortcode
        if command is Command.BALANCE:
            if customer_id is None:
                return translate("sms.in.not_registered", language, code=code)
            lines = await CoreFlows(self.rt).balances(customer_id=customer_id)
            amounts = "; ".join(
                f"{line.asset.value} {format_money(line.amount, language, with_code=False)}" for line in lines
            )
            return translate("sms.in.balance", language, balances=amounts, code=code)
        if command is Command.STOP:
            return translate("sms.in.stopped", language)
        if command is Command.START:
            return translate("sms.in.started", language)
        if command is Command.HELP:
            return translate("sms.in.help", language, code=code)
        return translate("sms.in.unknown", language, code=code)

    async def resend_due(self) -> int:
        """Stage a resend of each failed receipt its retry rule allows, now due. Returns how many.

        The resend's reference is fixed by the attempt, so a sweep that dies after staging and runs
        again stages nothing twice."""
        if self.rt.notifier is None:
            return 0
        async with self.rt.session_factory() as session:
            due = await service.due_resends(session, now=self.rt.clock.now())
            await session.rollback()
        for resend in due:
            await self.rt.notifier.send_sms(phone=resend.phone, text=resend.text, reference=resend.reference)
            async with self.rt.session_factory() as session:
                await service.mark_resent(session, sent_id=resend.sent_id)
                await session.commit()
        return len(due)
