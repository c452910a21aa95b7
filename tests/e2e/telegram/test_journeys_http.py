"""Issue 14 journeys in chat, in English and Swahili, through the webhook with Telegram's JSON: a new
number registers in chat (contact, SMS code, name, ID, PIN twice), then buys USDT-TRC20 (STK push),
gets its deposit address as text and QR, withdraws to a pasted TRON address (an Ethereum one is
refused with the reason), sells, sends to a registered number (their name before the PIN), reads
the statement and changes the PIN. Every PIN message is deleted; the same customer then dials USSD
and sees the same balances."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from core.i18n import translate
from core.identity import service as identity
from core.payments.models import MpesaCollection, Payout
from core.runtime import Runtime
from simulators.africastalking import FakeAfricasTalking
from simulators.telegram_bot_api import BotCall, DoubleServer
from tests.e2e.telegram.conftest import TelegramUser, post_update, register, sms_code, wait_for
from tests.e2e.ussd.conftest import balance_of, fund, refresh_rates
from tests.polling import eventually

TRON_ADDRESS = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
ETH_ADDRESS = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
PIN, NEW_PIN = "4826", "5937"


def buttons(call: BotCall) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [b.get("callback_data") or b.get("text") for row in rows for b in row]


def text_of(calls: list[BotCall]) -> str:
    return "\n".join(str(c.params.get("text") or c.params.get("caption") or "") for c in calls)


def prefix(code: str, language: str) -> str:
    """The start of a catalog text up to its first placeholder (what a test can match)."""
    return translate(code, language).split("{", 1)[0].strip()


async def type_pin(user: TelegramUser, pin: str) -> list[BotCall]:
    """Type a PIN; assert the bot deleted that very message before answering."""
    update = user.message(text=pin)
    message_id = update["message"]["message_id"]
    replies = await user.send(update)
    deleted = [
        int(c.params["message_id"]) for c in user.double.calls_to("deleteMessage", chat_id=user.user_id)
    ]
    assert message_id in deleted, "a PIN message stays in the chat"
    assert pin not in text_of(replies)
    return replies


async def _customer_id(rt: Runtime, phone: str) -> int:
    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=phone)
        assert customer is not None
        return customer.id


async def verify(rt: Runtime, phone: str) -> None:
    """Tier 1 (crypto withdrawals allowed) with a (empty) sanctions list loaded, as staff would."""
    from compliance import kyc
    from compliance.models import KycProfile
    from compliance.sanctions import store
    from compliance.sanctions.loader import SanctionsList
    from core.identity.models import Customer

    customer_id = await _customer_id(rt, phone)
    async with rt.session_factory() as session:
        await kyc.ensure_profile(session=session, customer_id=customer_id, now=rt.clock.now())
        await session.execute(update(Customer).where(Customer.id == customer_id).values(kyc_tier=1))
        await session.execute(update(KycProfile).where(KycProfile.customer_id == customer_id).values(tier=1))
        await store.save_version(session=session, lists=SanctionsList.from_entities([]), loaded_by="test")
        await session.commit()


async def count(rt: Runtime, model: type) -> int:
    async with rt.session_factory() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def quote_token(reply: BotCall) -> str:
    [refresh, cancel] = buttons(reply)
    assert refresh.endswith(":r") and cancel.endswith(":x")
    return refresh.split(":")[1]


@pytest.mark.parametrize("language", ["en", "sw"])
async def test_new_user_registers_in_chat_and_does_everything(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking,
    language: str,
) -> None:  # fmt: skip
    rt = tg_runtime
    await refresh_rates(rt)
    phone = "+254712000301" if language == "en" else "+254712000302"
    user = TelegramUser(
        client, bot_api.double, user_id=6660001 if language == "en" else 6660002, language=language
    )

    def t(code: str, **values: Any) -> str:
        return translate(code, language, **values)

    # --- register in chat
    [welcome] = await user.command("/start")
    assert welcome.params["reply_markup"]["keyboard"][0][0]["request_contact"] is True
    [sent] = await user.share_contact(phone.removeprefix("+"))
    assert phone in sent.params["text"]
    code = await sms_code(rt, at_fake, phone)
    [start] = await user.say(code)
    assert start.params["text"] == t("telegram.register.start") and buttons(start) == ["l:en", "l:sw"]
    [ask_name] = await user.tap(f"l:{language}")
    assert ask_name.params["text"] == t("telegram.register.name")
    [ask_id] = await user.say("Amina Wanjiru")
    assert ask_id.params["text"] == t("telegram.register.national_id")
    [ask_dob] = await user.say("23456781" if language == "en" else "23456782")
    assert ask_dob.params["text"] == t("telegram.register.dob")
    [too_young] = await user.say("01/01/2020")
    assert too_young.params["text"] == t("error.dob_too_young")
    [bad_date] = await user.say("31/02/1990")
    assert bad_date.params["text"] == t("error.invalid_dob")
    [ask_pin] = await user.say("15/03/1990")
    assert ask_pin.params["text"] == t("telegram.register.pin")
    [again] = await type_pin(user, PIN)
    assert again.params["text"] == t("telegram.register.pin_confirm")
    [done] = await type_pin(user, PIN)
    assert done.params["text"].startswith(prefix("telegram.register.done", language)) and "m:buy" in buttons(
        done
    )
    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=phone)
        assert customer is not None and customer.name == "Amina Wanjiru" and customer.language == language

    await verify(rt, phone)
    await fund(rt, phone, "50", "USDT-TRC20")

    # --- buy USDT-TRC20 with M-Pesa (STK push)
    [which] = await user.tap("m:buy")
    assert "a:buy:2" in buttons(which)
    [how_much] = await user.tap("a:buy:2")
    assert how_much.params["text"].startswith(prefix("telegram.buy.amount", language))
    [quote] = await user.say("1000")
    assert prefix("telegram.quote.expiry", language) in quote.params["text"]
    token = await quote_token(quote)
    [stk] = await type_pin(user, PIN)
    assert stk.params["text"].startswith(prefix("telegram.buy.done", language))
    assert await count(rt, MpesaCollection) == 1
    answered = len(bot_api.double.calls_to("answerCallbackQuery"))
    sent_before = len(bot_api.double.sent_to(user.user_id))
    await post_update(client, user.callback(f"q:{token}:r"))  # the used quote's button, tapped again
    await wait_for(lambda: len(bot_api.double.calls_to("answerCallbackQuery")) > answered, "the stale tap")
    assert "expired" in str(
        bot_api.double.calls_to("answerCallbackQuery")[-1].params.get("text")
    ).lower() or (
        t("telegram.expired_button") == bot_api.double.calls_to("answerCallbackQuery")[-1].params.get("text")
    )
    assert len(bot_api.double.sent_to(user.user_id)) == sent_before, "a stale button shows nothing"

    # --- receive: the address as text and as a QR image, the network in bold
    await user.tap("m:recv")
    [photo] = await user.tap("a:recv:2")
    assert photo.method == "sendPhoto" and photo.params["parse_mode"] == "HTML"
    assert photo.params["photo"]["size"] > 200 and "<b>TRON (TRC20)</b>" in photo.params["caption"]
    deposit_address = photo.params["caption"].split("<code>")[1].split("</code>")[0]
    assert deposit_address.startswith("T")

    # --- withdraw 5 USDT to a pasted TRON address (an Ethereum one is refused with the reason)
    await user.tap("m:wd")
    [paste] = await user.tap("a:wd:2")
    assert "<b>TRON (TRC20)</b>" in paste.params["text"]
    [wrong] = await user.say(ETH_ADDRESS)
    expected = (
        "This is an Ethereum address; you chose TRON"
        if language == "en"
        else "Hii ni anwani ya Ethereum; ulichagua TRON"
    )
    assert wrong.params["text"].startswith(expected), wrong.params["text"]
    [bad] = await user.say(TRON_ADDRESS[:-1] + ("u" if TRON_ADDRESS[-1] != "u" else "v"))
    assert bad.params["text"] == t("telegram.address.invalid")
    [amount] = await user.say(TRON_ADDRESS)
    assert TRON_ADDRESS in amount.params["text"]
    [wd_quote] = await user.say("5")
    assert (
        TRON_ADDRESS in wd_quote.params["text"]
        and prefix("telegram.quote.expiry", language) in wd_quote.params["text"]
    )
    [receipt] = await type_pin(user, PIN)
    assert receipt.params["text"].startswith(prefix("telegram.withdraw.done", language)), receipt.params[
        "text"
    ]
    assert TRON_ADDRESS in receipt.params["text"] and "<b>TRON (TRC20)</b>" in receipt.params["text"]
    assert await balance_of(rt, phone, "USDT-TRC20") == "45.000000"

    # --- sell 10 USDT to M-Pesa
    await user.tap("m:sell")
    [sell_amount] = await user.tap("a:sell:2")
    assert "45" in sell_amount.params["text"]
    [sell_quote] = await user.say("10")
    await quote_token(sell_quote)
    [wrong_pin] = await type_pin(user, "1111")
    assert wrong_pin.params["text"] == t("error.pin_incorrect_left", left=2)
    [sold] = await type_pin(user, PIN)
    assert sold.params["text"].startswith(prefix("telegram.sell.done", language))
    assert await balance_of(rt, phone, "USDT-TRC20") == "35.000000"

    # --- send to a registered number: their name before the PIN
    friend = "+254712000311" if language == "en" else "+254712000312"
    await register(rt, friend, name="Otieno Odhiambo")
    await user.tap("m:send")
    [to] = await user.tap("a:send:3")
    assert to.params["text"] == t("telegram.send.phone")
    [how_much_send] = await user.say("0" + friend[4:])
    assert "Otieno Odhiambo" in how_much_send.params["text"]
    [send_quote] = await user.say("5")
    assert "Otieno Odhiambo" in send_quote.params["text"]
    [sent_money] = await type_pin(user, PIN)
    assert sent_money.params["text"].startswith(prefix("telegram.send.done", language))
    assert await balance_of(rt, friend, "USDT-TRC20") != "0.000000"

    # --- statement (paged), limits
    [statement] = await user.tap("m:st")
    assert statement.params["text"].startswith(prefix("telegram.statement.title", language))
    [kyc] = await user.tap("m:kyc")
    assert kyc.params["text"].startswith(t("telegram.kyc.title"))

    # --- change the PIN (each message deleted)
    [old] = await user.tap("m:pin")
    assert old.params["text"] == t("telegram.pin.old")
    [new] = await type_pin(user, PIN)
    assert new.params["text"] == t("telegram.pin.new")
    [confirm] = await type_pin(user, NEW_PIN)
    assert confirm.params["text"] == t("telegram.pin.confirm")
    [changed] = await type_pin(user, NEW_PIN)
    assert changed.params["text"] == t("telegram.pin.changed")
    async with rt.session_factory() as session:
        await identity.verify_pin(
            limiter=rt.rate_limiter,
            session=session,
            customer_id=await _customer_id(rt, phone),
            pin=NEW_PIN,
            clock=rt.clock,
        )

    # --- no PIN ever reached a message the bot sent
    everything = text_of(bot_api.double.sent_to(user.user_id))
    assert PIN not in everything and NEW_PIN not in everything


async def test_an_expired_quote_moves_nothing_and_refresh_gives_a_new_one(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking
) -> None:
    rt = tg_runtime
    await refresh_rates(rt)
    phone = "+254712000321"
    await register(rt, phone)
    user = await linked_user(rt, client, bot_api, at_fake, phone, 6660021)
    await fund(rt, phone, "50", "USDT-TRC20")
    await user.tap("m:sell")
    await user.tap("a:sell:2")
    [quote] = await user.say("10")
    token = await quote_token(quote)
    assert rt.chat_states is not None
    states = rt.chat_states

    async def quote_saved() -> Any:  # the bot stores the step just after it sends the quote
        state = await states.load(user.user_id)
        return state if state and state.get("data", {}).get("token") == token else None

    state: Any = await eventually(quote_saved, what="the quote's step stored", every=0.02)
    state["data"]["expires"] = "2000-01-01T00:00:00+00:00"  # the offer ran out while they looked at it
    await rt.chat_states.save(user.user_id, state)
    [expired] = await type_pin(user, "4826")
    assert expired.params["text"] == translate("telegram.expired_offer", "en")
    assert await count(rt, Payout) == 0 and await balance_of(rt, phone, "USDT-TRC20") == "50.000000"
    new_token = buttons(expired)[0].split(":")[1]
    answered = len(bot_api.double.calls_to("answerCallbackQuery"))
    sent_before = len(bot_api.double.sent_to(user.user_id))
    await post_update(client, user.callback(f"q:{token}:r"))  # the first offer's button
    await wait_for(lambda: len(bot_api.double.calls_to("answerCallbackQuery")) > answered, "the old tap")
    assert bot_api.double.calls_to("answerCallbackQuery")[-1].params["text"] == translate(
        "telegram.expired_button", "en"
    )
    assert len(bot_api.double.sent_to(user.user_id)) == sent_before
    [fresh] = await user.tap(f"q:{new_token}:r")
    assert translate("telegram.quote.expiry", "en").split("{")[0] in fresh.params["text"]
    [sold] = await type_pin(user, "4826")
    assert sold.params["text"].startswith("Sold.")
    assert await count(rt, Payout) == 1


async def linked_user(
    rt: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking, phone: str,
    user_id: int, language: str = "en",
) -> TelegramUser:  # fmt: skip
    user = TelegramUser(client, bot_api.double, user_id=user_id, language=language)
    await user.command("/start")
    await user.share_contact(phone)
    [linked] = await user.say(await sms_code(rt, at_fake, phone))
    assert "m:bal" in buttons(linked)
    return user


async def test_the_sim_swap_cool_down_applies_in_chat_as_on_ussd(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking
) -> None:
    """A PIN reset in the last 24 h (the SIM-swap defence): money out is refused in chat before the PIN,
    with USSD's words, and nothing moves; balances still show."""
    from core.identity.models import Customer

    rt = tg_runtime
    await refresh_rates(rt)
    phone = "+254712000331"
    await register(rt, phone)
    await verify(rt, phone)
    await fund(rt, phone, "50", "USDT-TRC20")
    user = await linked_user(rt, client, bot_api, at_fake, phone, 6660031)
    async with rt.session_factory() as session:
        await session.execute(
            update(Customer).where(Customer.phone == phone).values(pin_reset_at=rt.clock.now())
        )
        await session.commit()
    cooling = translate("error.withdrawals_cooldown", "en")
    await user.tap("m:wd")
    [refused] = await user.tap("a:wd:2")
    assert refused.params["text"] == cooling
    await user.tap("m:sell")
    await user.tap("a:sell:2")
    [refused_sell] = await user.say("10")
    assert refused_sell.params["text"] == cooling
    assert await count(rt, Payout) == 0 and await balance_of(rt, phone, "USDT-TRC20") == "50.000000"
    [balances] = await user.tap("m:bal")
    assert "USDT 50.00" in balances.params["text"]


async def test_registering_with_an_id_already_on_another_number_asks_for_the_id_again(
    tg_runtime: Runtime, client: httpx.AsyncClient, bot_api: DoubleServer, at_fake: FakeAfricasTalking
) -> None:
    rt = tg_runtime
    await register(rt, "+254712000341")  # holds national ID 2 + the number's last 7 digits
    taken = "2" + "+254712000341"[-7:]
    phone = "+254712000342"
    user = TelegramUser(client, bot_api.double, user_id=6660042)
    await user.command("/start")
    await user.share_contact(phone)
    await user.say(await sms_code(rt, at_fake, phone))
    await user.tap("l:en")
    await user.say("Amina Wanjiru")
    await user.say(taken)
    await user.say("15/03/1990")
    await type_pin(user, PIN)
    [again] = await type_pin(user, PIN)
    assert again.params["text"].startswith(translate("error.national_id_taken", "en"))
    assert again.params["text"].endswith(translate("telegram.register.national_id", "en"))
    await user.say("23456799")
    await user.say("15/03/1990")
    await type_pin(user, PIN)
    [done] = await type_pin(user, PIN)
    assert done.params["text"].startswith("Welcome to Kibeti, Amina Wanjiru")
    async with rt.session_factory() as session:
        customer = await identity.get_customer_by_phone(session=session, phone=phone)
        assert customer is not None and customer.national_id == "23456799"
