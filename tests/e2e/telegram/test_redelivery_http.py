"""Telegram redelivers an update it got no 200 for (a timeout, a restart): the webhook acts on each
update_id once. The same PIN message posted twice answers once and sells once."""

from __future__ import annotations

import httpx

from core.payments.models import Payout
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from simulators.telegram_bot_api import DoubleServer
from tests.e2e.telegram.conftest import post_update, register
from tests.e2e.telegram.test_journeys_http import count, linked_user
from tests.e2e.ussd.conftest import balance_of, fund, refresh_rates


async def test_a_redelivered_update_is_answered_once_and_moves_money_once(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking
) -> None:
    rt = tg_runtime
    await refresh_rates(rt)
    phone = "+254712000421"
    await register(rt, phone)
    await fund(rt, phone, "50", "USDT-TRC20")
    user = await linked_user(rt, client, bot_api, at_fake, phone, 6660421)
    await user.tap("m:sell")
    await user.tap("a:sell:2")
    await user.say("10")

    pin = user.message(text="4826")
    [sold] = await user.send(pin)
    assert sold.params["text"].startswith("Sold.")
    redelivered = await post_update(client, pin)
    assert redelivered.status_code == 200  # Telegram must stop redelivering it

    # The bot takes one update at a time in order: once the next one is answered, the copy was handled.
    [menu] = await user.tap("m:bal")
    assert "USDT" in menu.params["text"]
    assert len(bot_api.double.sent_to(user.user_id)) == user.seen, "the copy got no answer of its own"
    assert await count(rt, Payout) == 1
    assert await balance_of(rt, phone, "USDT-TRC20") == "40.000000"
