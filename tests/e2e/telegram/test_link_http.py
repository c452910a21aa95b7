"""Linking a chat: the contact button, the SMS code typed back, then balances and rates in the menu,
in English and Swahili; someone else's contact and unknown numbers are refused; /unlink."""

from __future__ import annotations

import httpx

from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from simulators.telegram_bot_api import DoubleServer
from tests.e2e.telegram.conftest import TelegramUser, post_update, register, sms_code, wait_for
from tests.e2e.ussd.conftest import deliver_sms, fund, refresh_rates

PHONE = "+254712000101"


def _buttons(call: object) -> list[str]:
    markup = call.params.get("reply_markup") or {}  # type: ignore[attr-defined]
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [b.get("callback_data") or b.get("text") for row in rows for b in row]


async def test_link_with_sms_code_then_balances_rates_and_unlink(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking
) -> None:
    await register(tg_runtime, PHONE)
    await fund(tg_runtime, PHONE, "12.5", "USDT-TRC20")
    await refresh_rates(tg_runtime)
    user = TelegramUser(client, bot_api.double, user_id=5551001)

    [welcome] = await user.command("/start")
    assert "share your phone number" in welcome.params["text"]
    assert welcome.params["reply_markup"]["keyboard"][0][0]["request_contact"] is True

    [sent] = await user.share_contact("254712000101")  # Telegram sends numbers without the +
    assert "+254712000101" in sent.params["text"] and "6-digit code" in sent.params["text"]
    code = await sms_code(tg_runtime, at_fake, PHONE)

    wrong = "000000" if code != "000000" else "111111"
    [refused] = await user.say(wrong)
    assert "not right" in refused.params["text"] and "4" in refused.params["text"]
    [linked] = await user.say(code)
    assert "Hello Wanjiku Kamau" in linked.params["text"]
    assert _buttons(linked) == [
        "m:bal", "m:rates", "m:buy", "m:sell", "m:send", "m:recv", "m:wd", "m:st", "m:pay", "m:kyc", "m:pin", "m:lang",
        "m:unlink",
    ]  # fmt: skip

    [balances] = await user.tap("m:bal")
    assert "Your balances" in balances.params["text"]
    assert "USDT-TRC20: USDT 12.50 (about KES " in balances.params["text"]
    [rates] = await user.tap("m:rates")
    assert "USDT-TRC20: buy KES " in rates.params["text"] and "Demo rates" in rates.params["text"]
    assert bot_api.double.calls_to("answerCallbackQuery"), "every tapped button is answered"

    sent_before, answers_before = (
        len(bot_api.double.sent_to(user.user_id)),
        len(bot_api.double.calls_to("answerCallbackQuery")),
    )
    for tampered in ("m:bal:1", "m:BAL", "q:123:confirm", "m:bal\n"):
        response = await post_update(client, user.callback(tampered))
        assert response.status_code == 200
    await wait_for(
        lambda: len(bot_api.double.calls_to("answerCallbackQuery")) >= answers_before + 4, "the tampered taps"
    )
    expired = bot_api.double.calls_to("answerCallbackQuery")[answers_before:]
    assert all("expired" in str(call.params.get("text")) for call in expired), [c.params for c in expired]
    assert len(bot_api.double.sent_to(user.user_id)) == sent_before, "a tampered button shows nothing"

    [menu] = await user.command("/start")  # a linked chat goes straight to the menu
    assert _buttons(menu)[0] == "m:bal"
    [gone] = await user.command("/unlink")
    assert "no longer linked" in gone.params["text"]
    answered = len(bot_api.double.calls_to("answerCallbackQuery"))
    response = await user.client.post(
        "/telegram/e2e-telegram-webhook-secret_0123456789",
        json={"update_id": 99001, "callback_query": {
            "id": "cq-after-unlink", "chat_instance": "ci", "data": "m:bal", "from": user.sender,
            "message": {"message_id": 1, "date": 1, "chat": {"id": user.user_id, "type": "private"}, "text": "x"}}},
        headers={"X-Telegram-Bot-Api-Secret-Token": "e2e-telegram-webhook-secret_0123456789"},
    )  # fmt: skip
    assert response.status_code == 200

    def refused_after_unlink() -> bool:
        calls = bot_api.double.calls_to("answerCallbackQuery")
        return len(calls) > answered and "not linked" in str(calls[-1].params.get("text"))

    await wait_for(refused_after_unlink, "the unlinked chat's balance tap refused")
    assert not [c for c in bot_api.double.sent_to(user.user_id)[user.seen :] if "balances" in str(c.params)]


async def test_swahili_link_and_balances(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking
) -> None:
    phone = "+254712000102"
    await register(tg_runtime, phone, name="Otieno", language="sw")
    await fund(tg_runtime, phone, "0.001", "BTC")
    await refresh_rates(tg_runtime)
    user = TelegramUser(client, bot_api.double, user_id=5551002, language="sw")

    [welcome] = await user.command("/start")
    assert "Karibu Kibeti" in welcome.params["text"]
    [sent] = await user.share_contact("0712000102")
    assert "Tumetuma" in sent.params["text"]
    code = await sms_code(tg_runtime, at_fake, phone)
    assert "Nambari yako ya Kibeti" in at_fake.messages_for(phone)[-1].message  # the SMS in Swahili too
    [linked] = await user.say(code)
    assert "Habari Otieno" in linked.params["text"]
    [balances] = await user.tap("m:bal")
    assert "Salio lako" in balances.params["text"] and "BTC: BTC 0,001" in balances.params["text"].replace(
        "0.001", "0,001"
    )
    [rates] = await user.tap("m:rates")
    assert "kununua" in rates.params["text"]
    [english] = await user.tap("m:lang")  # (the menu comes with it)
    assert english.params["text"] == "Language: English."
    [balances_en] = await user.tap("m:bal")
    assert "Your balances" in balances_en.params["text"]


async def test_someone_elses_contact_and_unknown_numbers_are_refused(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking
) -> None:
    phone = "+254712000103"
    await register(tg_runtime, phone)
    user = TelegramUser(client, bot_api.double, user_id=5551003)
    [refused] = await user.share_contact(phone, owner=7770001)  # a card forwarded from someone else
    assert "your own phone number" in refused.params["text"]
    [landline] = await user.share_contact("+254202000000")
    assert "not a Kenyan mobile number" in landline.params["text"]
    await deliver_sms(tg_runtime)
    assert at_fake.outbox == [], "no code goes out for a refused contact"
    [unknown] = await user.share_contact("+254712999999")  # not registered: the code proves it first
    assert "+254712999999" in unknown.params["text"]
    await user.command("/cancel")
    [not_a_code] = await user.say("123456")  # no code was asked for: nothing is checked
    assert "did not understand" in not_a_code.params["text"]
    [not_linked] = await user.command("/unlink")
    assert "not linked" in not_linked.params["text"]
