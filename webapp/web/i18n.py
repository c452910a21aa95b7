"""Catalog texts and Babel formatting for web pages: the viewer's language, Africa/Nairobi time.

Web pages use the same gettext catalogs (core/i18n) as SMS and USSD, but not their GSM-7 folding:
a browser shows any character.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal

from core.i18n.catalog import LANGUAGES, lookup, normalize_language
from core.money import Asset, Money, format_money

NAIROBI = ZoneInfo("Africa/Nairobi")
BABEL_LOCALES = {"en": "en_KE", "sw": "sw_KE"}


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def text(code: str, language: str, **values: Any) -> str:
    """The catalog text for `code` in `language` (English, else the code), `values` filled in."""
    found = lookup(code, normalize_language(language))
    if not values:
        return found
    try:
        return found.format_map(_Missing(values))
    except (ValueError, IndexError, AttributeError, KeyError, TypeError):
        return found


def babel_locale(language: str) -> str:
    return BABEL_LOCALES[normalize_language(language)]


def money(amount: Money, language: str, *, exact: bool = False) -> str:
    """The house format SMS, USSD and Telegram write (core.money.format_money): the code first,
    trailing zeros dropped ("KES 1,234.50", "BTC 0.0003"; Babel's own en_KE currency format is
    "Ksh1,234.50"). USDT is named with its network ("USDT-TRC20 10.00"): a page may list both.
    `exact`: every decimal of the asset's scale ("BTC 0.00030000"), for an amount to pay."""
    return format_money(amount, normalize_language(language), exact=exact, network=True)


def money_minor(minor: int, asset: str | Asset, language: str, *, exact: bool = False) -> str:
    return money(Money.from_minor(minor, Asset(asset)), language, exact=exact)


def number(value: int | Decimal, language: str) -> str:
    return format_decimal(value, locale=babel_locale(language))


def when(moment: datetime | None, language: str, style: str = "medium") -> str:
    """A moment in Nairobi time, in the viewer's language ("" for none)."""
    if moment is None:
        return ""
    return format_datetime(moment.astimezone(NAIROBI), format=style, locale=babel_locale(language))


def day(moment: datetime | None, language: str, style: str = "medium") -> str:
    """The Nairobi calendar date of a moment, in the viewer's language ("" for none)."""
    if moment is None:
        return ""
    return format_date(moment.astimezone(NAIROBI).date(), format=style, locale=babel_locale(language))


def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


__all__ = ["LANGUAGES", "NAIROBI", "day", "iso", "money", "money_minor", "number", "text", "when"]
