"""The bot's handlers: linking (and registering) a chat, the menu, and dispatch of typed answers and
button taps to the conversation's declared steps (`STEPS`, from `linking` and `operations`).

Every operation is a core use case (CustomerFlows, TelegramLinks), never a copy. Only private
chats are served; anything else (groups, channels, inline queries, edits) is ignored, and any
message the bot does not understand gets one short line pointing at the menu.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from telegram import ReplyKeyboardRemove, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from channels.telegram import linking, operations, pay_merchant, texts
from channels.telegram.conversation import (
    CLOCK_KEY,
    FLOWS_KEY,
    IDLE,
    LINKS_KEY,
    MAX_TEXT,
    SCRATCH_KEY,
    SHORTCODE_KEY,
    STATES_KEY,
    PinScratch,
    Step,
    Turn,
    close_turn,
    delete_message,
    language_of,
    open_turn,
    run_step,
)
from core.errors import KibetiError
from core.flows.types import CustomerFlows
from core.money import Asset
from core.telegram.errors import NotLinked
from core.telegram.flows import TelegramLinks
from core.telegram.store import ChatStateStore, MemoryChatStates

log = logging.getLogger(__name__)

MENU_ACTIONS = texts.MENU_ACTIONS
STEPS: dict[str, Step] = {
    step.name: step for step in [*linking.STEPS, *operations.STEPS, *pay_merchant.STEPS]
}
# Every button the bot makes; anything else was tampered with or is from an old bot (fullmatch:
# "$" would let "m:bal\n" in)
_MENU = re.compile(r"m:(" + "|".join(MENU_ACTIONS) + r")")
_ASSET = re.compile(r"a:(" + "|".join(texts.ASSETS_FOR) + r"):([0-9])")
_QUOTE = re.compile(r"q:([0-9a-f]{8}):([rx])")
_PAGE = re.compile(r"st:([0-9]{1,2})")
_LANGUAGE = re.compile(r"l:(en|sw)")
_PRIVATE = filters.ChatType.PRIVATE
_NEW_MESSAGE = filters.UpdateType.MESSAGE  # edited messages are not commands or answers


async def _with_turn(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Turn | None:
    return await open_turn(update, context)


# --- commands ------------------------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    turn = await _with_turn(update, context)
    if turn is None:
        return
    turn.scratch.forget(turn.user_id)
    if turn.customer is not None:
        turn.end()
        await turn.say(turn.t("telegram.menu"), texts.menu_keyboard(turn.language))
    else:
        await linking.welcome(turn)
    await close_turn(turn)


async def unlink(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    turn = await _with_turn(update, context)
    if turn is None:
        return
    await _unlink(turn)
    await close_turn(turn)


async def _unlink(turn: Turn) -> None:
    turn.end()
    turn.scratch.forget(turn.user_id)
    turn.customer = None  # remembered as not linked from now on, whatever the database says
    try:
        await turn.links.unlink(telegram_user_id=turn.user_id)
    except NotLinked:
        await turn.say(turn.t("telegram.not_linked"))
        return
    await turn.say(turn.t("telegram.unlinked"), ReplyKeyboardRemove())


async def menu_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    turn = await _with_turn(update, context)
    if turn is None:
        return
    if turn.customer is None:
        await turn.say(turn.t("telegram.not_linked"))
    else:
        turn.end()
        await turn.say(turn.t("telegram.menu"), texts.menu_keyboard(turn.language))
    await close_turn(turn)


async def cancel_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    turn = await _with_turn(update, context)
    if turn is None:
        return
    turn.scratch.forget(turn.user_id)
    turn.end()
    markup = texts.menu_keyboard(turn.language) if turn.customer else None
    await turn.say(turn.t("telegram.cancelled"), markup)
    await close_turn(turn)


async def contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    turn = await _with_turn(update, context)
    if turn is None:
        return
    await linking.contact(turn)
    await close_turn(turn)


# --- typed answers --------------------------------------------------------------------------------


async def text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A typed message: the answer to the step the user is at, else a pointer to the menu."""
    message = update.effective_message
    turn = await _with_turn(update, context)
    if turn is None or message is None:
        return
    step = STEPS.get(turn.state)
    if step is not None and step.secret:
        await delete_message(turn, message)  # first: a PIN stays in no chat
    value = message.text.strip() if isinstance(message.text, str) else ""  # de_json checks no types
    if step is None or (step.linked and turn.customer is None):
        if step is not None:
            turn.end()
        await _not_understood(turn)
    elif len(value) > MAX_TEXT:
        await turn.say(turn.t("error.invalid_pin" if step.secret else "telegram.too_long"))
    else:
        await run_step(turn, step, value)
    await close_turn(turn)


async def _not_understood(turn: Turn) -> None:
    markup = texts.menu_keyboard(turn.language) if turn.customer else None
    await turn.say(turn.t("telegram.unknown"), markup)


async def other_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, documents, unknown commands: one short line (a PIN step's message is
    deleted all the same: it may be a photo of a PIN)."""
    message = update.effective_message
    turn = await _with_turn(update, context)
    if turn is None or message is None:
        return
    step = STEPS.get(turn.state)
    if step is not None and step.secret:
        await delete_message(turn, message)
    await _not_understood(turn)
    await close_turn(turn)


# --- buttons -----------------------------------------------------------------------------------------


async def button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    data = query.data if isinstance(query.data, str) else ""
    turn = await _with_turn(update, context) if query.message is not None else None
    language = turn.language if turn else language_of(update)
    if turn is None:
        await query.answer(texts.t("telegram.expired_button", language))
        return
    language_choice = _LANGUAGE.fullmatch(data)
    if language_choice is not None and turn.state == "reg.lang":
        await query.answer()
        await linking.language_chosen(turn, language_choice.group(1))
        await close_turn(turn)
        return
    if turn.customer is None:
        await query.answer(turn.t("telegram.not_linked"), show_alert=True)
        return
    action = _action(turn, data)
    if action is None:
        await query.answer(turn.t("telegram.expired_button"))
        return
    await query.answer()
    try:
        await action()
    except KibetiError as exc:
        await turn.say(texts.error_text(exc, turn.language))
    await close_turn(turn)


def _action(turn: Turn, data: str) -> Callable[[], Awaitable[None]] | None:
    """What a button does, or None when it is not one of ours now (tampered, or an old offer)."""
    if (menu := _MENU.fullmatch(data)) is not None:
        return lambda: _menu(turn, menu.group(1))
    if (picked := _ASSET.fullmatch(data)) is not None:
        op, index = picked.group(1), int(picked.group(2))
        choices = texts.ASSETS_FOR[op]
        if index >= len(choices):
            return None
        asset: Asset = choices[index]
        return lambda: operations.asset_chosen(turn, op, asset)
    if (quoted := _QUOTE.fullmatch(data)) is not None:
        if not operations.quote_pending(turn, quoted.group(1)):
            return None
        return (
            (lambda: operations.refresh(turn))
            if quoted.group(2) == "r"
            else (lambda: operations.cancel(turn))
        )
    if (page := _PAGE.fullmatch(data)) is not None:
        return lambda: operations.statement(turn, int(page.group(1)))
    return None


async def _menu(turn: Turn, action: str) -> None:
    if turn.state != IDLE:
        turn.scratch.forget(turn.user_id)
    turn.end()
    customer = turn.customer
    assert customer is not None
    back = texts.back_keyboard(turn.language)
    if action == "bal":
        await turn.say(await operations.balances_text(turn.flows, customer), back)
    elif action == "rates":
        await turn.say(await operations.rates_text(turn.flows, turn.language), back)
    elif action == "kyc":
        await turn.say(await operations.kyc_text(turn), back)
    elif action == "st":
        await operations.statement(turn, 0)
    elif action == "pin":
        await operations.begin_pin_change(turn)
    elif action == "lang":
        turn.language = "sw" if turn.language == "en" else "en"
        await turn.flows.set_language(customer_id=customer.customer_id, language=turn.language)
        await turn.say(turn.t("telegram.language_set"), texts.menu_keyboard(turn.language))
    elif action == "unlink":
        await _unlink(turn)
    elif action == "pay":
        await pay_merchant.begin(turn)
    elif action == "menu":
        await turn.say(turn.t("telegram.menu"), texts.menu_keyboard(turn.language))
    else:
        await operations.begin(turn, action)


# --- anything else -------------------------------------------------------------------------------


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the failure's type (never the update: it may hold a code, a PIN or a number) and say
    sorry once."""
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
                chat_id=update.effective_chat.id, text=texts.t("telegram.error", language_of(update))
            )
        except Exception:  # the Bot API itself failing: nothing more to say
            log.warning("telegram error reply failed")


def install_handlers(
    application: Application,  # type: ignore[type-arg]
    *,
    flows: CustomerFlows,
    links: TelegramLinks,
    shortcode: str,
    states: ChatStateStore | None = None,
    now: Callable[[], datetime],
) -> None:
    application.bot_data[FLOWS_KEY] = flows
    application.bot_data[LINKS_KEY] = links
    application.bot_data[SHORTCODE_KEY] = shortcode
    application.bot_data[STATES_KEY] = states if states is not None else MemoryChatStates()
    application.bot_data[SCRATCH_KEY] = PinScratch()
    application.bot_data[CLOCK_KEY] = now
    private_new = _PRIVATE & _NEW_MESSAGE
    application.add_handler(CommandHandler("start", start, filters=private_new))
    application.add_handler(CommandHandler("unlink", unlink, filters=private_new))
    application.add_handler(CommandHandler("menu", menu_command, filters=private_new))
    application.add_handler(CommandHandler("cancel", cancel_command, filters=private_new))
    application.add_handler(MessageHandler(filters.CONTACT & private_new, contact))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & private_new, text))
    application.add_handler(CallbackQueryHandler(button))
    application.add_handler(MessageHandler(private_new, other_message))  # stickers, photos, commands
    application.add_error_handler(on_error)
