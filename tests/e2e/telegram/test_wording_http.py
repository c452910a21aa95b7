"""Telegram's wording as on USSD (QA findings), through the webhook with Telegram's JSON, in English
and Swahili: a KES amount not understood says what is taken ("like 500 or 100.50"; where M-Pesa
pays, whole shillings), not "digits only"; a till that is not digits ("12a") is told it must be
digits, not "No merchant with till 12a"."""

from __future__ import annotations

import httpx
import pytest

from core.i18n import translate
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from simulators.telegram_bot_api import DoubleServer
from tests.e2e.telegram.conftest import register
from tests.e2e.telegram.test_journeys_http import linked_user, prefix, verify
from tests.e2e.telegram.test_pay_merchant_http import _merchant
from tests.e2e.ussd.conftest import balance_of, fund


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_pay_merchant_tells_a_non_digit_till_and_a_bad_amount_in_the_users_words(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking,
    language: str,
) -> None:  # fmt: skip
    rt = tg_runtime
    phone = "+254712000941" if language == "en" else "+254712000942"
    await register(rt, phone, language=language)
    await fund(rt, phone, "1000", "KES")
    await _merchant(rt)
    user = await linked_user(rt, client, bot_api, at_fake, phone, 6670941 + (language == "sw"), language)

    await user.tap("m:pay")
    [typo] = await user.say("12a")
    assert typo.params["text"] == translate("error.merchant_till_digits", language)
    assert "12a" not in typo.params["text"]
    [named] = await user.say("246810")  # the step was kept: the right till goes on
    assert named.params["text"] == translate(
        "ussd.merchant.amount", language, name="Mama Mboga Stores", till="246810"
    )
    [bad] = await user.say("abc")
    assert bad.params["text"] == translate("error.amount_format_kes_any", language)
    assert "100.50" in bad.params["text"]
    [ambiguous] = await user.say("1,50")  # neither 150 nor 1.50: refused, as every channel does
    assert ambiguous.params["text"] == translate("error.amount_format_kes_any", language)
    [confirm] = await user.say("100.50")  # the hint's own example is taken (the balance pays cents)
    assert confirm.params["text"].startswith(prefix("ussd.merchant.confirm", language))
    assert await balance_of(rt, phone, "KES") == "1000.00"


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_buy_with_mpesa_asks_for_whole_shillings_in_the_users_words(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking,
    language: str,
) -> None:  # fmt: skip
    rt = tg_runtime
    phone = "+254712000943" if language == "en" else "+254712000944"
    await register(rt, phone, language=language)
    await verify(rt, phone)
    user = await linked_user(rt, client, bot_api, at_fake, phone, 6670943 + (language == "sw"), language)

    await user.tap("m:buy")
    [how_much] = await user.tap("a:buy:2")
    assert how_much.params["text"].startswith(prefix("telegram.buy.amount", language))
    whole = translate("error.amount_format_kes_whole", language)
    [bad] = await user.say("abc")
    assert bad.params["text"] == whole
    [cents] = await user.say("100.50")  # M-Pesa moves whole shillings
    assert cents.params["text"] == whole
