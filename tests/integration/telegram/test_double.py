"""The Bot API double answers python-telegram-bot as Telegram would, over HTTP and in-process,
and records every call."""

from __future__ import annotations

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden, InvalidToken, RetryAfter

from simulators.telegram_bot_api import SIMULATOR_NAME, BotApiDouble, DoubleRequest, DoubleServer

TOKEN = "123456:TEST-token"
KEYBOARD = InlineKeyboardMarkup([[InlineKeyboardButton("Balances", callback_data="m:bal")]])


async def _every_method(bot: Bot, double: BotApiDouble) -> None:
    me = await bot.get_me()
    assert me.is_bot and "simulator" in me.first_name.lower()
    assert await bot.set_webhook("https://example.invalid/telegram/s3cret", secret_token="s3cret_TOKEN")
    info = await bot.get_webhook_info()
    assert info.url == "https://example.invalid/telegram/s3cret"
    sent = await bot.send_message(chat_id=42, text="Habari", reply_markup=KEYBOARD)
    assert sent.chat.id == 42 and sent.text == "Habari"
    assert sent.reply_markup is not None and sent.reply_markup.inline_keyboard[0][0].callback_data == "m:bal"
    photo = await bot.send_photo(chat_id=42, photo=b"\x89PNG fake image bytes", caption="TRC20")
    assert photo.photo and photo.caption == "TRC20"
    edited = await bot.edit_message_text(chat_id=42, message_id=sent.message_id, text="Salio")
    assert not isinstance(edited, bool) and edited.text == "Salio"
    await bot.edit_message_reply_markup(chat_id=42, message_id=sent.message_id, reply_markup=None)
    assert await bot.delete_message(chat_id=42, message_id=sent.message_id)
    assert await bot.answer_callback_query("cq-1", text="ok")

    methods = [call.method for call in double.calls]
    assert methods == [  # initialize() calls getMe first
        "getMe", "getMe", "setWebhook", "getWebhookInfo", "sendMessage", "sendPhoto", "editMessageText",
        "editMessageReplyMarkup", "deleteMessage", "answerCallbackQuery",
    ]  # fmt: skip
    assert double.webhook["secret_token"] == "s3cret_TOKEN"
    assert double.calls_to("sendMessage")[0].params["reply_markup"] == KEYBOARD.to_dict()
    assert double.calls_to("sendPhoto")[0].params["photo"]["size"] == len(b"\x89PNG fake image bytes")
    assert [c.params["text"] for c in double.sent_to(42) if "text" in c.params] == ["Habari", "Salio"]


async def test_every_method_over_http(bot_api: DoubleServer) -> None:
    async with Bot(TOKEN, base_url=bot_api.base_url) as bot:
        await _every_method(bot, bot_api.double)


async def test_every_method_in_process() -> None:
    double = BotApiDouble(token=TOKEN)
    async with Bot(TOKEN, request=DoubleRequest(double), get_updates_request=DoubleRequest(double)) as bot:
        await _every_method(bot, double)


async def test_wrong_token_is_refused(bot_api: DoubleServer) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=bot_api.base_url) as bot:
            await bot.get_me()


async def test_injected_faults_come_back_as_telegram_errors(bot_api: DoubleServer) -> None:
    async with Bot(TOKEN, base_url=bot_api.base_url) as bot:
        bot_api.double.fail["sendMessage"] = (403, "Forbidden: bot was blocked by the user", None)
        with pytest.raises(Forbidden):
            await bot.send_message(chat_id=42, text="hi")
        bot_api.double.fail["sendMessage"] = (429, "Too Many Requests: retry after 3", {"retry_after": 3})
        with pytest.raises(RetryAfter):
            await bot.send_message(chat_id=42, text="hi")
        assert (await bot.send_message(chat_id=42, text="hi")).text == "hi"  # each fault answers once


def test_it_says_it_is_a_simulator() -> None:
    status, body = BotApiDouble().handle("1:x", "getMe", {})
    assert status == 200 and body["result"]["first_name"] == SIMULATOR_NAME
    assert BotApiDouble().handle("1:x", "noSuchMethod", {})[0] == 404
