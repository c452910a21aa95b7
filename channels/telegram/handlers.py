"""The bot's conversation: linking a chat to a customer, the main menu, balances and rates.

Every operation is a core use case (CustomerFlows, TelegramLinks), never a copy. Only private
chats are served; anything else (groups, channels, inline queries, edits) is ignored, and any
message the bot does not understand gets one short line pointing at /start.
"""

from __future__ import annotations

import logging
import re

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from core.errors import KibetiError
from core.flows.types import CustomerFlows
from core.i18n import translate
from core.identity.errors import (
    CustomerNotFound,
    InvalidPhoneNumber,
    OtpExpired,
    OtpInvalid,
    OtpTooManyRequests,
)
from core.identity.otp import OTP_DIGITS
from core.money import format_money
from core.telegram.errors import NotLinked
from core.telegram.flows import TelegramLinks
from core.telegram.models import LinkedCustomer

log = logging.getLogger(__name__)

FLOWS_KEY = "kibeti.flows"
LINKS_KEY = "kibeti.links"
SHORTCODE_KEY = "kibeti.shortcode"
PENDING_PHONE = "link_phone"  # user_data: the number a linking code was sent to
MAX_CODE_INPUT = 16
# Callback data the bot itself puts on buttons: anything else was tampered with or is from an old bot.
MENU_ACTIONS = ("bal", "rates", "lang", "unlink", "menu")
_CALLBACK = re.compile(r"m:(" + "|".join(MENU_ACTIONS) + r")")  # fullmatch: "$" would let "m:bal\n" in
_PRIVATE = filters.ChatType.PRIVATE
_NEW_MESSAGE = filters.UpdateType.MESSAGE  # edited messages are not commands or answers


def _language_of(update: Update) -> str:
    user = update.effective_user
    code = (user.language_code or "") if user else ""
    return "sw" if code.lower().startswith("sw") else "en"


def _deps(context: ContextTypes.DEFAULT_TYPE) -> tuple[CustomerFlows, TelegramLinks]:
    return context.bot_data[FLOWS_KEY], context.bot_data[LINKS_KEY]


async def _linked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> LinkedCustomer | None:
    user = update.effective_user
    if user is None:
        return None
    return await _deps(context)[1].linked(telegram_user_id=user.id)


def menu_keyboard(language: str) -> InlineKeyboardMarkup:
    def button(action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            translate(f"telegram.button.{action}", language), callback_data=f"m:{action}"
        )

    return InlineKeyboardMarkup([[button("bal"), button("rates")], [button("lang"), button("unlink")]])


def _back(language: str) -> InlineKeyboardMarkup:
    text = translate("telegram.button.menu", language)
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data="m:menu")]])


def contact_keyboard(language: str) -> ReplyKeyboardMarkup:
    button = KeyboardButton(translate("telegram.button.share_contact", language), request_contact=True)
    return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)


# --- linking -----------------------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    customer = await _linked(update, context)
    if customer is not None:
        await message.reply_text(
            translate("telegram.menu", customer.language), reply_markup=menu_keyboard(customer.language)
        )
        return
    language = _language_of(update)
    await message.reply_text(translate("telegram.welcome", language), reply_markup=contact_keyboard(language))


async def contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or message.contact is None:
        return
    language = _language_of(update)
    if message.contact.user_id != user.id or message.forward_origin is not None:
        await message.reply_text(
            translate("telegram.contact_not_own", language), reply_markup=contact_keyboard(language)
        )
        return
    links = _deps(context)[1]
    try:
        e164 = await links.send_code(phone=message.contact.phone_number)
    except InvalidPhoneNumber:
        await message.reply_text(
            translate("telegram.invalid_phone", language), reply_markup=ReplyKeyboardRemove()
        )
        return
    except CustomerNotFound:
        shortcode = context.bot_data.get(SHORTCODE_KEY, "")
        await message.reply_text(
            translate("telegram.not_registered", language, code=shortcode), reply_markup=ReplyKeyboardRemove()
        )
        return
    except OtpTooManyRequests as exc:
        await message.reply_text(_too_many(exc, language), reply_markup=ReplyKeyboardRemove())
        return
    if context.user_data is not None:
        context.user_data[PENDING_PHONE] = e164
    await message.reply_text(
        translate("telegram.code_sent", language, phone=e164, digits=OTP_DIGITS),
        reply_markup=ReplyKeyboardRemove(),
    )


def _too_many(exc: OtpTooManyRequests, language: str) -> str:
    return translate("telegram.too_many", language, minutes=max(1, -(-exc.retry_after // 60)))


async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A typed message: the linking code when one is awaited, otherwise a pointer to the menu."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    phone = context.user_data.get(PENDING_PHONE) if context.user_data is not None else None
    candidate = re.sub(r"\s", "", message.text or "")
    if phone is None or len(candidate) > MAX_CODE_INPUT or not candidate.isdigit():
        await _not_understood(update, context)
        return
    language = _language_of(update)
    links = _deps(context)[1]
    try:
        customer = await links.confirm(
            telegram_user_id=user.id, chat_id=message.chat_id, phone=phone, code=candidate
        )
    except OtpInvalid as exc:
        await message.reply_text(translate("telegram.code_wrong", language, left=exc.attempts_left))
        return
    except OtpExpired:
        _forget_pending(context)
        await message.reply_text(translate("telegram.code_expired", language))
        return
    except OtpTooManyRequests as exc:
        await message.reply_text(_too_many(exc, language))
        return
    _forget_pending(context)
    await message.reply_text(
        translate("telegram.linked", customer.language, name=customer.name or customer.phone),
        reply_markup=menu_keyboard(customer.language),
    )


def _forget_pending(context: ContextTypes.DEFAULT_TYPE) -> None:
    if context.user_data is not None:
        context.user_data.pop(PENDING_PHONE, None)


async def unlink(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    customer = await _linked(update, context)
    language = customer.language if customer else _language_of(update)
    _forget_pending(context)
    try:
        await _deps(context)[1].unlink(telegram_user_id=user.id)
    except NotLinked:
        await message.reply_text(translate("telegram.not_linked", language))
        return
    await message.reply_text(translate("telegram.unlinked", language), reply_markup=ReplyKeyboardRemove())


async def _not_understood(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    customer = await _linked(update, context)
    language = customer.language if customer else _language_of(update)
    markup = menu_keyboard(language) if customer else None
    await message.reply_text(translate("telegram.unknown", language), reply_markup=markup)


# --- the menu ----------------------------------------------------------------------------------


async def menu_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    customer = await _linked(update, context)
    if customer is None:
        await message.reply_text(translate("telegram.not_linked", _language_of(update)))
        return
    await message.reply_text(
        translate("telegram.menu", customer.language), reply_markup=menu_keyboard(customer.language)
    )


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    customer = await _linked(update, context)
    language = customer.language if customer else _language_of(update)
    matched = _CALLBACK.fullmatch(query.data or "")
    if customer is None:
        await query.answer(translate("telegram.not_linked", language), show_alert=True)
        return
    if matched is None or query.message is None or query.message.chat.type != "private":
        await query.answer(translate("telegram.expired_button", language))
        return
    await query.answer()
    action = matched.group(1)
    chat_id = query.message.chat.id
    flows = _deps(context)[0]
    if action == "bal":
        reply = await balances_text(flows, customer)
    elif action == "rates":
        reply = await rates_text(flows, language)
    elif action == "lang":
        language = "sw" if language == "en" else "en"
        await flows.set_language(customer_id=customer.customer_id, language=language)
        reply = translate("telegram.language_set", language)
    elif action == "unlink":
        await unlink(update, context)
        return
    else:
        reply = translate("telegram.menu", language)
        await context.bot.send_message(chat_id=chat_id, text=reply, reply_markup=menu_keyboard(language))
        return
    await context.bot.send_message(chat_id=chat_id, text=reply, reply_markup=_back(language))


async def balances_text(flows: CustomerFlows, customer: LinkedCustomer) -> str:
    language = customer.language
    lines = [translate("telegram.balances.title", language)]
    for line in await flows.balances(customer_id=customer.customer_id):
        amount = format_money(line.amount, language)
        if line.kes_value is not None and line.asset.currency != "KES":
            kes = format_money(line.kes_value, language)
            lines.append(
                translate(
                    "telegram.balances.line_kes", language, asset=line.asset.value, amount=amount, kes=kes
                )
            )
        else:
            lines.append(translate("telegram.balances.line", language, asset=line.asset.value, amount=amount))
    return "\n".join(lines)


async def rates_text(flows: CustomerFlows, language: str) -> str:
    rates = await flows.rates()
    none = translate("telegram.rates.none", language)
    lines = [translate("telegram.rates.title", language)]
    for rate in rates:
        buy = format_money(rate.buy, language) if rate.buy is not None else none
        sell = format_money(rate.sell, language) if rate.sell is not None else none
        lines.append(translate("telegram.rates.line", language, asset=rate.asset.value, buy=buy, sell=sell))
    if any(rate.demo for rate in rates):
        lines.append(translate("telegram.rates.demo", language))
    return "\n".join(lines)


# --- anything else -----------------------------------------------------------------------------


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure's type (never the update: it may hold a code or a number) and say sorry once."""
    error = context.error
    log.warning(
        "telegram update failed: %s", type(error).__name__, exc_info=not isinstance(error, KibetiError)
    )
    if (
        isinstance(update, Update)
        and update.effective_chat is not None
        and update.effective_chat.type == "private"
    ):
        try:
            await context.bot.send_message(
                chat_id=update.effective_chat.id, text=translate("telegram.error", _language_of(update))
            )
        except Exception:  # the Bot API itself failing: nothing more to say
            log.warning("telegram error reply failed")


def install_handlers(
    application: Application,  # type: ignore[type-arg]
    *,
    flows: CustomerFlows,
    links: TelegramLinks,
    shortcode: str,
) -> None:
    application.bot_data[FLOWS_KEY] = flows
    application.bot_data[LINKS_KEY] = links
    application.bot_data[SHORTCODE_KEY] = shortcode
    private_new = _PRIVATE & _NEW_MESSAGE
    application.add_handler(CommandHandler("start", start, filters=private_new))
    application.add_handler(CommandHandler("unlink", unlink, filters=private_new))
    application.add_handler(CommandHandler("menu", menu_command, filters=private_new))
    application.add_handler(MessageHandler(filters.CONTACT & private_new, contact))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & private_new, text))
    application.add_handler(CallbackQueryHandler(button))
    application.add_handler(
        MessageHandler(private_new, _not_understood)
    )  # stickers, photos, unknown commands
    application.add_error_handler(on_error)
