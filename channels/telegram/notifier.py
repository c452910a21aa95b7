"""Notifications by channel: the Notifier port's adapter that sends a customer's notices to their
linked Telegram chat, and by SMS when they linked none (issue 14 item 5).

Use cases only call `Notifier.send_sms(phone, text, reference)`; this adapter decides. A notice for
a number whose customer linked a chat is staged in the outbox as `channels.telegram.jobs.
send_notice` (deduplicated by its reference, as the SMS is), and the job falls back to SMS when
Telegram refuses it (403: the user blocked the bot, or deleted their account). One-time codes
always go by SMS: they prove the SIM is in the customer's hand.
"""

from __future__ import annotations

from typing import Any

from core.outbox import service as outbox
from core.ports import Notifier, SecretSmsNotifier
from core.runtime import Runtime
from core.telegram import service as links

JOB = "channels.telegram.jobs.send_notice"


class TelegramFirstNotifier:
    def __init__(self, runtime: Runtime, sms: Notifier) -> None:
        self.rt = runtime
        self.sms = sms

    async def send_sms(self, *, phone: str, text: str, reference: str) -> None:
        async with self.rt.session_factory() as session:
            link = await links.link_for_phone(session=session, phone=phone)
            if link is None:
                await session.rollback()
            else:
                await outbox.enqueue(
                    session=session, job=JOB,
                    kwargs={"chat_id": link.chat_id, "phone": phone, "text": text, "reference": reference},
                    dedupe_key=f"tg:{reference}"[:160],
                )  # fmt: skip
                await session.commit()
                return
        await self.sms.send_sms(phone=phone, text=text, reference=reference)

    async def send_secret_sms(
        self, *, phone: str, text: str, secret: str, reference: str, session: Any = None
    ) -> None:
        if not isinstance(self.sms, SecretSmsNotifier):
            raise TypeError("the SMS notifier cannot keep a code sealed")
        await self.sms.send_secret_sms(
            phone=phone, text=text, secret=secret, reference=reference, session=session
        )

    async def send_by_sms(self, *, phone: str, text: str, reference: str) -> None:
        """The fallback when Telegram refused a notice."""
        await self.sms.send_sms(phone=phone, text=text, reference=reference)


def build(runtime: Runtime, sms: Notifier) -> TelegramFirstNotifier:
    return TelegramFirstNotifier(runtime, sms)
