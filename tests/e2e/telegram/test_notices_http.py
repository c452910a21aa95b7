"""Notifications by channel (issue 14 item 5): a linked customer's receipts go to their chat, an
unlinked one's by SMS, and a chat that blocked the bot (403) gets them by SMS instead. And a second
API process (its own PTB Application, the same Redis) continues a conversation the first began."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from telegram import Update

from channels.telegram import jobs
from channels.telegram.bot import build_application
from channels.telegram.notifier import JOB, TelegramFirstNotifier
from core.flows import notices
from core.outbox.models import OutboxJob, OutboxStatus
from core.payments.models import Payout
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from simulators.telegram_bot_api import DoubleServer
from tests.e2e.telegram.conftest import register
from tests.e2e.telegram.test_journeys_http import _customer_id, buttons, count, linked_user, type_pin
from tests.e2e.ussd.conftest import balance_of, deliver_sms, fund, refresh_rates
from webapp.bootstrap import build_runtime


async def _pending(rt: Runtime, job: str) -> list[dict[str, Any]]:
    async with rt.session_factory() as session:
        rows = (
            (
                await session.execute(
                    select(OutboxJob).where(
                        OutboxJob.job == job, OutboxJob.status == OutboxStatus.PENDING.value
                    )
                )
            )
            .scalars()
            .all()
        )
        return [dict(row.kwargs) for row in rows]


async def test_receipts_go_to_the_linked_chat_and_by_sms_when_blocked_or_unlinked(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking
) -> None:
    rt = tg_runtime
    assert isinstance(rt.notifier, TelegramFirstNotifier)
    linked_phone, other_phone = "+254712000401", "+254712000402"
    await register(rt, linked_phone)
    await register(rt, other_phone)
    user = await linked_user(rt, client, bot_api, at_fake, linked_phone, 6660401)
    sms_before = len(at_fake.messages_for(linked_phone))

    # a deposit seen on chain: the receipt goes to the chat, not by SMS
    await notices.deposit_seen(await _customer_id(rt, linked_phone), "USDT-TRC20", 5_000_000, "ab" * 32, 20)
    await notices.deposit_seen(await _customer_id(rt, other_phone), "USDT-TRC20", 5_000_000, "cd" * 32, 20)
    [notice] = await _pending(rt, JOB)
    assert notice["chat_id"] == user.user_id
    assert await jobs.send_notice(**notice) == "telegram"
    [received] = await user.replies()
    assert "USDT 5.00" in received.params["text"] and "TRON" in received.params["text"]
    await deliver_sms(rt)
    assert len(at_fake.messages_for(linked_phone)) == sms_before, "no SMS for a linked chat"
    assert any("USDT 5.00" in m.message for m in at_fake.messages_for(other_phone)), "SMS when not linked"

    # the user blocked the bot: Telegram answers 403 and the receipt goes by SMS
    bot_api.double.fail["sendMessage"] = (403, "Forbidden: bot was blocked by the user", None)
    await notices.withdrawal_final(
        await _customer_id(rt, linked_phone), 77, "USDT-TRC20", 5_000_000, "confirmed", "ef" * 32
    )
    [blocked] = [k for k in await _pending(rt, JOB) if k["reference"] != notice["reference"]]
    assert await jobs.send_notice(**blocked) == "sms"
    await deliver_sms(rt)
    assert any("USDT 5.00" in m.message for m in at_fake.messages_for(linked_phone)[sms_before:])


async def test_a_second_api_process_continues_the_conversation(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking
) -> None:
    """The state lives in Redis: process B (another Runtime and PTB Application, as a second uvicorn
    worker or API node would have) takes the amount process A asked for; A takes the PIN."""
    rt = tg_runtime
    await refresh_rates(rt)
    phone = "+254712000411"
    await register(rt, phone)
    await fund(rt, phone, "50", "USDT-TRC20")
    user = await linked_user(rt, client, bot_api, at_fake, phone, 6660411)
    await user.tap("m:sell")
    [asks] = await user.tap("a:sell:2")  # process A asks how much
    assert "USDT 50.00" in asks.params["text"]

    other = build_runtime(rt.settings)
    application = build_application(other)
    try:
        async with application:
            await application.process_update(Update.de_json(user.message(text="10"), application.bot))
        [quote] = await user.replies()  # process B quoted it
        assert "Offer valid until" in quote.params["text"] and len(buttons(quote)) == 2
    finally:
        if other.redis is not None:
            await other.redis.aclose()
        other.queue.connection.close()  # type: ignore[attr-defined]
        await other.session_factory.kw["bind"].dispose()
    [sold] = await type_pin(user, "4826")  # back on process A
    assert sold.params["text"].startswith("Sold.")
    assert await count(rt, Payout) == 1 and await balance_of(rt, phone, "USDT-TRC20") == "40.000000"


async def test_the_deposit_address_shows_once_in_a_linked_chat(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking
) -> None:
    """The QR reply is the address: no deposit-address notice repeats it in the chat or by SMS."""
    rt = tg_runtime
    phone = "+254712000431"
    await register(rt, phone)
    user = await linked_user(rt, client, bot_api, at_fake, phone, 6660431)
    sms_before = len(at_fake.messages_for(phone))
    await user.tap("m:recv")
    [photo] = await user.tap("a:recv:2")
    address = photo.params["caption"].split("<code>")[1].split("</code>")[0]
    assert photo.method == "sendPhoto" and address.startswith("T")

    assert await _pending(rt, JOB) == [], "no Telegram notice with the address"
    await deliver_sms(rt)
    assert len(at_fake.messages_for(phone)) == sms_before, "no SMS with the address"
    [balances] = await user.tap("m:bal")  # the next answer is the next message: nothing came between
    assert address not in str(balances.params.get("text"))
