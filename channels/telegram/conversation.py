"""The conversation engine: a declared table of steps, the state each Telegram user is in (kept in
`Runtime.chat_states`: Redis in production, so any API process continues it), and dispatch.

A step that reads a PIN is `secret`: the message is deleted (deleteMessage) before anything else
happens to it, and its text never reaches a log, the state store or a reply. PINs a step must keep
for the next one (a new PIN and its confirmation) stay in this process's memory for a few minutes
(`PinScratch`); another process asks for them again.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardMarkup, Message, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from channels.telegram import texts
from core.errors import KibetiError
from core.flows.types import CustomerFlows
from core.telegram.flows import LinkedCustomer, TelegramLinks
from core.telegram.store import ChatStateStore

log = logging.getLogger(__name__)

FLOWS_KEY = "kibeti.flows"
LINKS_KEY = "kibeti.links"
STATES_KEY = "kibeti.chat_states"
SCRATCH_KEY = "kibeti.pin_scratch"
SHORTCODE_KEY = "kibeti.shortcode"
CLOCK_KEY = "kibeti.clock"
IDLE = "idle"
MAX_TEXT = 256
# How long a chat's customer is remembered in its state (so a tap needs no database read for the link).
# Linking, unlinking and registering here write it at once; a link another chat made for the same
# customer, or a language changed on USSD, shows within this time.
WHO_SECONDS = 30  # longer answers are never a step's input: told "not understood", never parsed

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None
# The state the update processor read for this update's user with its update_id check (one Redis round
# trip, after the user's earlier updates were done): (user id, state). Taken once, by open_turn.
PREFETCHED: ContextVar[tuple[int, dict[str, Any] | None] | None] = ContextVar(
    "kibeti_telegram_prefetched_state", default=None
)


@dataclass(frozen=True)
class Sent:
    """A message the bot sent (what a later step needs of it: its id, to edit or drop its buttons)."""

    message_id: int


@dataclass
class Turn:
    """One update from one user: who, where, the step they are at, and how to answer."""

    update: Update
    context: ContextTypes.DEFAULT_TYPE
    user_id: int
    chat_id: int
    state: str
    data: dict[str, Any]
    customer: LinkedCustomer | None
    language: str
    flows: CustomerFlows
    links: TelegramLinks
    now: Callable[[], Any]
    replies: list[Sent] = field(default_factory=list)
    stored: bool = False  # the store held a state for this user when the update came
    saved: dict[str, Any] = field(default_factory=dict)  # what the store held, when still fresh

    def t(self, code: str, **values: Any) -> str:
        return texts.t(code, self.language, **values)

    @property
    def customer_id(self) -> int:
        if self.customer is None:
            raise KibetiError("this chat is not linked")
        return self.customer.customer_id

    async def say(self, text: str, markup: Markup = None, *, html: bool = False) -> Sent:
        data: dict[str, Any] = {"chat_id": self.chat_id, "text": text}
        if markup is not None:
            data["reply_markup"] = markup_json(markup)
        if html:
            data["parse_mode"] = ParseMode.HTML
        # Bot.send_message would parse Telegram's answer into a Message (a third of the send's CPU)
        # for the one field a step uses; the same request, paced the same (ExtBot._do_post).
        result = await self.context.bot._post("sendMessage", data)
        sent = Sent(message_id=int(result["message_id"]) if isinstance(result, dict) else 0)
        self.replies.append(sent)
        return sent

    def goto(self, state: str, **data: Any) -> None:
        """Move to `state` with fresh data (what the step needs is passed along explicitly)."""
        self.state = state
        self.data = dict(data)

    def end(self) -> None:
        self.goto(IDLE)

    def new_token(self) -> str:
        """A fresh id for this step's buttons and idempotency key: older buttons no longer match."""
        token = secrets.token_hex(4)
        self.data["token"] = token
        return token

    @property
    def scratch(self) -> PinScratch:
        scratch: PinScratch = self.context.bot_data[SCRATCH_KEY]
        return scratch


StepHandler = Callable[[Turn, str], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    name: str
    handle: StepHandler
    secret: bool = False  # reads a PIN: the message is deleted first, its text never logged
    linked: bool = True  # only a linked chat may be at this step


class PinScratch:
    """PINs between two steps (a new PIN, then its confirmation): this process's memory only, for
    `ttl` seconds, never the state store or a log."""

    def __init__(self, ttl: float = 300.0) -> None:
        self.ttl = ttl
        self._pins: dict[tuple[int, str], tuple[float, str]] = {}

    def keep(self, user_id: int, name: str, pin: str) -> None:
        self._drop_expired()
        self._pins[(user_id, name)] = (time.monotonic() + self.ttl, pin)

    def take(self, user_id: int, name: str) -> str | None:
        entry = self._pins.pop((user_id, name), None)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def forget(self, user_id: int) -> None:
        for key in [k for k in self._pins if k[0] == user_id]:
            self._pins.pop(key, None)

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for key in [k for k, (expires, _) in self._pins.items() if expires < now]:
            self._pins.pop(key, None)


_MARKUP_JSON: dict[int, tuple[Markup, str]] = {}
MARKUP_JSON_KEPT = 256


def markup_json(markup: Markup) -> str:
    """A keyboard as the Bot API's reply_markup field carries it (what PTB would send: the JSON of its
    to_dict()), encoded once per keyboard object: the fixed keyboards are shared (texts), so a reply
    with Back or the menu encodes nothing. The entry holds the object, so its id is not reused."""
    assert markup is not None
    kept = _MARKUP_JSON.get(id(markup))
    if kept is not None and kept[0] is markup:
        return kept[1]
    encoded = json.dumps(markup.to_dict())
    if len(_MARKUP_JSON) >= MARKUP_JSON_KEPT:  # per-reply keyboards (a quote's token) come and go
        _MARKUP_JSON.clear()
    _MARKUP_JSON[id(markup)] = (markup, encoded)
    return encoded


def language_of(update: Update) -> str:
    user = update.effective_user
    code = (user.language_code or "") if user else ""
    return "sw" if code.lower().startswith("sw") else "en"


def deps(context: ContextTypes.DEFAULT_TYPE) -> tuple[CustomerFlows, TelegramLinks, ChatStateStore]:
    return context.bot_data[FLOWS_KEY], context.bot_data[LINKS_KEY], context.bot_data[STATES_KEY]


def _who(record: Any, now: float) -> tuple[bool, LinkedCustomer | None]:
    """The customer behind the chat as the store remembers it, if it is fresh: (fresh, customer)."""
    if not isinstance(record, dict) or not isinstance(record.get("at"), int | float):
        return False, None
    if not 0 <= now - float(record["at"]) < WHO_SECONDS:
        return False, None
    if record.get("c") is None:
        return True, None
    try:
        return True, LinkedCustomer(
            customer_id=int(record["c"]), phone=str(record["p"]), name=str(record["n"]),
            language=str(record["l"]), chat_id=int(record["chat"]),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError):
        return False, None


async def open_turn(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Turn | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or chat.type != "private":
        return None
    flows, links, store = deps(context)
    prefetched = PREFETCHED.get()
    if prefetched is not None and prefetched[0] == user.id:
        PREFETCHED.set(None)
        saved = prefetched[1] or {}
    else:
        saved = await store.load(user.id) or {}
    fresh, customer = _who(saved.get("who"), context.bot_data[CLOCK_KEY]().timestamp())
    if not fresh:
        customer = await links.linked(telegram_user_id=user.id)
    state = saved.get("state", IDLE)
    data = saved.get("data", {})
    if not isinstance(state, str) or not isinstance(data, dict):
        state, data = IDLE, {}
    data = copy.deepcopy(data) if data else {}  # steps change `data` in place; `saved` stays as read
    language = customer.language if customer else str(data.get("lang") or language_of(update))
    turn = Turn(
        update=update, context=context, user_id=user.id, chat_id=chat.id, state=state, data=data,
        customer=customer, language=language, flows=flows, links=links,
        now=context.bot_data[CLOCK_KEY], stored=bool(saved),
    )  # fmt: skip
    turn.saved = saved if fresh else {}
    return turn


def _who_record(turn: Turn, at: float) -> dict[str, Any]:
    customer = turn.customer
    if customer is None:
        return {"c": None, "at": at}
    return {
        "c": customer.customer_id, "p": customer.phone, "n": customer.name, "l": turn.language,
        "chat": customer.chat_id, "at": at,
    }  # fmt: skip


async def close_turn(turn: Turn) -> None:
    """Keep the step and, for WHO_SECONDS, who the customer is (a tap then reads no link from the
    database); written only when something changed."""
    store = deps(turn.context)[2]
    old_who = turn.saved.get("who") if turn.saved else None
    kept = _who_record(turn, old_who["at"]) if isinstance(old_who, dict) else None
    who = kept if kept is not None and kept == old_who else _who_record(turn, turn.now().timestamp())
    record = {"state": turn.state, "data": turn.data, "who": who}
    if record != turn.saved:
        await store.save(turn.user_id, record)


async def delete_message(turn: Turn, message: Message) -> None:
    """Remove a message holding a PIN from the chat (both sides) at once."""
    try:
        await turn.context.bot.delete_message(chat_id=turn.chat_id, message_id=message.message_id)
    except TelegramError as exc:  # already gone, or too old: nothing more we can do
        log.info("telegram: could not delete a PIN message (%s)", type(exc).__name__)


async def run_step(turn: Turn, step: Step, value: str) -> None:
    """Run one step; a use case's refusal is told in the customer's words and the step stays."""
    try:
        await step.handle(turn, value)
    except KibetiError as exc:
        if getattr(exc, "code", "") == "service_unavailable":
            log.warning("telegram: service unavailable: %s", getattr(exc, "missing", type(exc).__name__))
        await turn.say(texts.error_text(exc, turn.language))


def looks_like_pin(value: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{4}", value))  # ASCII: \d would take other scripts' digits
