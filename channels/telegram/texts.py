"""What the bot says and the buttons it shows: translated texts, keyboards, errors, quotes.

Every callback_data the bot puts on a button is built here and parsed back by `channels.telegram.
conversation` against a closed set of patterns: anything else was tampered with or is from an old bot.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache, lru_cache
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from core.errors import KibetiError
from core.flows.types import QuoteView
from core.i18n import translate
from core.i18n.catalog import has
from core.identity.errors import OtpInvalid, OtpTooManyRequests, PinIncorrect, PinLocked
from core.money import Asset, Money, format_money

# The menu's actions (callback "m:<action>")
MENU_ACTIONS = (
    "bal", "buy", "sell", "send", "recv", "wd", "st", "rates", "kyc", "pin", "lang", "unlink", "menu",
    "pay",
)  # fmt: skip
CRYPTO = (Asset.BTC, Asset.USDT_ERC20, Asset.USDT_TRC20)
SENDABLE = (Asset.KES, Asset.BTC, Asset.USDT_ERC20, Asset.USDT_TRC20)
# Which assets each operation offers (callback "a:<op>:<index>")
ASSETS_FOR = {"buy": CRYPTO, "sell": CRYPTO, "recv": CRYPTO, "wd": CRYPTO, "send": SENDABLE}
NETWORK_NAMES = {Asset.BTC: "Bitcoin", Asset.USDT_ERC20: "Ethereum (ERC20)", Asset.USDT_TRC20: "TRON (TRC20)"}
# Network values the chain adapter names in a wrong-network refusal
FOUND_NETWORKS = {"btc": "Bitcoin", "erc20": "Ethereum", "trc20": "TRON"}
EAT = timedelta(hours=3)  # Kenya's clock (no daylight saving)

# Other packages' error codes shown with one of ours (as on USSD)
ERROR_ALIASES = {
    "quote_already_used": "quote_used",
    "collection_amount_out_of_range": "invalid_amount",
    "payout_amount_out_of_range": "invalid_amount",
    "unsupported_quote": "invalid_amount",
    "payout_daily_limit": "limit_exceeded",
    "payment_idempotency_conflict": "generic",
    "idempotency_conflict": "generic",
    "amount_too_small": "amount_below_fee",
}


def t(code: str, language: str, **values: Any) -> str:
    return translate(code, language, **values)


def money(amount: Money, language: str) -> str:
    # Babel costs tens of microseconds a call and the same amounts come back update after update (as
    # on USSD); the key is the amount's exact text.
    return _formatted(str(amount.amount), amount.asset, language)


@lru_cache(maxsize=8192)
def _formatted(amount: str, asset: Asset, language: str) -> str:
    return format_money(Money(Decimal(amount), asset), language)


# The fixed keyboards (a language's menu, Back, the contact button, an operation's assets) are built once
# each: PTB's objects are frozen, so one is shared by every reply, and Turn.say then sends the JSON it
# encoded the first time. Keyboards tagged with a quote's token or a page are built per reply.


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


@cache
def menu_keyboard(language: str) -> InlineKeyboardMarkup:
    def b(action: str) -> InlineKeyboardButton:
        return _button(t(f"telegram.button.{action}", language), f"m:{action}")

    return InlineKeyboardMarkup(
        [
            [b("bal"), b("rates")],
            [b("buy"), b("sell")],
            [b("send"), b("recv")],
            [b("wd"), b("st")],
            [b("pay")],
            [b("kyc"), b("pin")],
            [b("lang"), b("unlink")],
        ]
    )


@cache
def back_keyboard(language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(t("telegram.button.menu", language), "m:menu")]])


@cache
def contact_keyboard(language: str) -> ReplyKeyboardMarkup:
    button = KeyboardButton(t("telegram.button.share_contact", language), request_contact=True)
    return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)


def asset_label(asset: Asset) -> str:
    return {Asset.USDT_ERC20: "USDT (ERC20)", Asset.USDT_TRC20: "USDT (TRC20)"}.get(asset, asset.value)


@cache
def asset_keyboard(op: str, language: str) -> InlineKeyboardMarkup:
    rows = [[_button(asset_label(asset), f"a:{op}:{n}")] for n, asset in enumerate(ASSETS_FOR[op])]
    rows.append([_button(t("telegram.button.menu", language), "m:menu")])
    return InlineKeyboardMarkup(rows)


@cache
def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button("English", "l:en"), _button("Kiswahili", "l:sw")]])


def quote_keyboard(token: str, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                _button(t("telegram.button.refresh", language), f"q:{token}:r"),
                _button(t("telegram.button.cancel", language), f"q:{token}:x"),
            ]
        ]
    )


def refresh_keyboard(token: str, language: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(t("telegram.button.refresh", language), f"q:{token}:r")]])


def statement_keyboard(page: int, pages: int, language: str) -> InlineKeyboardMarkup:
    row = []
    if page + 1 < pages:
        row.append(_button(t("telegram.button.older", language), f"st:{page + 1}"))
    if page > 0:
        row.append(_button(t("telegram.button.newer", language), f"st:{page - 1}"))
    rows = [row] if row else []
    rows.append([_button(t("telegram.button.menu", language), "m:menu")])
    return InlineKeyboardMarkup(rows)


def expiry_text(expires_at: datetime, language: str, now: datetime) -> str:
    seconds = max(0, int((expires_at - now).total_seconds()))
    local = (expires_at.astimezone(UTC) + EAT).strftime("%H:%M:%S")
    return t("telegram.quote.expiry", language, time=local, seconds=seconds)


def quote_text(code: str, quote: QuoteView, language: str, now: datetime, **values: str) -> str:
    """A quote: what is paid, the fees, what arrives, the rate, until when it holds; then the PIN."""
    rate = quote.rate + (f" ({t('ussd.quote.demo', language)})" if quote.demo else "")
    body = t(
        code, language, pay=money(quote.pay, language), get=money(quote.receive, language),
        fee=money(quote.fee, language), rate=rate, **values,
    )  # fmt: skip
    lines = [body]
    if quote.network_fee is not None:
        lines.append(t("telegram.quote.network_fee", language, fee=money(quote.network_fee, language)))
    if quote.kept is not None and quote.kept.is_positive():
        lines.append(t("telegram.quote.kept", language, kept=money(quote.kept, language)))
    lines.append(expiry_text(quote.expires_at, language, now))
    lines.append(t("telegram.quote.pin", language))
    return "\n".join(lines)


def error_text(exc: KibetiError, language: str) -> str:
    """A use case's refusal in the customer's words (the same `error.<code>` texts USSD shows),
    with its numbers (tries left, how long a lock lasts, the most allowed)."""
    code = getattr(exc, "code", "generic") or "generic"
    code = ERROR_ALIASES.get(code, code)
    values: dict[str, Any] = dict(getattr(exc, "values", {}) or {})
    if code == "wrong_network_address":
        found = FOUND_NETWORKS.get(str(getattr(exc, "found", "")), "")
        expected = str(getattr(exc, "expected", ""))
        chosen = FOUND_NETWORKS.get(expected, expected)
        if found:
            found_a = ("an " if found[0] in "AEIOU" else "a ") + found
            return t("telegram.address.wrong_network", language, found=found, found_a=found_a, chosen=chosen)
        return t("telegram.address.wrong_net", language, chosen=chosen)
    if code == "invalid_address":
        return t("telegram.address.invalid", language)
    if code == "address_refused":
        return t("error.address_refused", language)
    if isinstance(exc, PinIncorrect) and exc.attempts_left > 0:
        if exc.attempts_left == 1:
            return t("error.pin_incorrect_last", language)
        return t("error.pin_incorrect_left", language, left=exc.attempts_left)
    if isinstance(exc, PinLocked) and exc.retry_after > 0:
        minutes = -(-exc.retry_after // 60)
        if minutes >= 120:
            return t("error.pin_locked_hours", language, hours=-(-minutes // 60))
        return t("error.pin_locked_minutes", language, minutes=minutes)
    if isinstance(exc, OtpInvalid):
        return t("telegram.code_wrong", language, left=exc.attempts_left)
    if isinstance(exc, OtpTooManyRequests):
        return t("telegram.too_many", language, minutes=max(1, -(-exc.retry_after // 60)))
    if code.startswith("amount_over_") and "how" not in values:
        values["how"] = ""
    if not has(f"error.{code}"):
        code = "generic"
    return t(f"error.{code}", language, **values)


def bold(text: str) -> str:
    return f"<b>{html.escape(text)}</b>"


def code_html(text: str) -> str:
    return f"<code>{html.escape(text)}</code>"


def local_time(at: datetime) -> str:
    return (at.astimezone(UTC) + EAT).strftime("%d/%m %H:%M")
