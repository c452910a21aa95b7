"""Pay a merchant in chat (the menu's Pay merchant), through the webhook with Telegram's JSON, in
English and Swahili: till code -> the merchant's registered name -> amount in KES -> PIN (that
message deleted) -> receipt; an unknown till asks again and moves nothing; a wrong PIN moves
nothing and keeps the step; the KES balance pays the merchant once."""

from __future__ import annotations

import httpx
import pytest

from core.clock import FixedClock
from core.i18n import translate
from core.merchants import service as merchants
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from simulators.telegram_bot_api import DoubleServer
from tests.e2e.telegram.conftest import register
from tests.e2e.telegram.test_journeys_http import buttons, linked_user, prefix, type_pin
from tests.e2e.ussd.conftest import balance_of, fund


async def _merchant(rt: Runtime) -> None:
    async with rt.session_factory() as session:
        merchant = await merchants.create_merchant(
            session=session, name="Mama Mboga Stores", actor="test", clock=FixedClock(), till_code="246810",
            settlement_method="till", settlement_till="5551234",
        )  # fmt: skip
        merchant.status = "active"
        await session.commit()


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_pay_a_till_from_the_kes_balance_in_chat(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking,
    language: str,
) -> None:  # fmt: skip
    rt = tg_runtime
    phone = "+254712000411" if language == "en" else "+254712000412"
    await register(rt, phone, language=language)
    await fund(rt, phone, "1000", "KES")
    await _merchant(rt)
    user = await linked_user(rt, client, bot_api, at_fake, phone, 6670001 + (language == "sw"), language)

    [menu] = await user.command("/menu")
    assert "m:pay" in buttons(menu)
    [ask_till] = await user.tap("m:pay")
    assert ask_till.params["text"] == translate("ussd.merchant.till", language)
    [unknown] = await user.say("999999")
    assert unknown.params["text"] == translate("error.merchant_till_unknown", language, till="999999")
    [named] = await user.say("246810")
    assert named.params["text"] == translate(
        "ussd.merchant.amount", language, name="Mama Mboga Stores", till="246810"
    )
    [too_much] = await user.say("5000")
    assert too_much.params["text"] == translate("error.insufficient_funds", language)
    [confirm] = await user.say("300")
    assert confirm.params["text"].startswith(prefix("ussd.merchant.confirm", language))
    assert "Mama Mboga Stores" in confirm.params["text"] and "246810" in confirm.params["text"]
    [wrong] = await type_pin(user, "1111")
    assert "PIN" in wrong.params["text"]
    assert await balance_of(rt, phone, "KES") == "1000.00"
    [paid] = await type_pin(user, "4826")
    assert paid.params["text"].startswith(prefix("ussd.merchant.done", language)), paid.params["text"]
    assert "300.00" in paid.params["text"] and "Mama Mboga Stores" in paid.params["text"]
    assert "m:bal" in buttons(paid)
    assert await balance_of(rt, phone, "KES") == "700.00"
    [again] = await user.say("4826")  # the PIN typed again after the receipt: nothing more is paid
    assert await balance_of(rt, phone, "KES") == "700.00"
    assert "4826" not in str(again.params.get("text"))
