"""Jobs of the Telegram channel (run by RQ workers, or the in-process queue on the embedded default).

`send_notice`: a customer's notice to their linked chat; SMS instead when Telegram refuses it (403,
the bot was blocked). A 429 is waited out by the bot's pacing; anything else (the Bot API down)
raises, and the queue retries the job (at least once: the SMS fallback has its own reference).
"""

from __future__ import annotations

import logging

from telegram.error import BadRequest, Forbidden

from channels.telegram.bot import notice_bot
from channels.telegram.notifier import TelegramFirstNotifier
from core import runtime as runtime_module

log = logging.getLogger(__name__)


async def send_notice(chat_id: int, phone: str, text: str, reference: str) -> str:
    rt = runtime_module.get()
    try:
        async with notice_bot(rt) as bot:
            await bot.send_message(chat_id=chat_id, text=text)
        return "telegram"
    except (Forbidden, BadRequest) as exc:  # blocked, account gone, chat not found: SMS instead
        log.info("telegram notice refused (%s): sent by SMS", type(exc).__name__)
    notifier = rt.notifier
    if isinstance(notifier, TelegramFirstNotifier):
        await notifier.send_by_sms(phone=phone, text=text, reference=f"{reference}:sms")
    elif notifier is not None:
        await notifier.send_sms(phone=phone, text=text, reference=f"{reference}:sms")
    return "sms"
