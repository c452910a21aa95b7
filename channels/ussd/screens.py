"""Formatting helpers shared by the states: length fitting, pagination, money and phones."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from core.i18n import gsm7_safe
from core.money import Asset, Money, format_money

SCREEN_LIMIT = 160  # what we design to
HARD_LIMIT = 182  # what USSD carries in GSM-7; nothing we send is longer
FLASH_ROOM = 20  # lists leave room for a one-line error above them ("Invalid choice.")


def fit(text: str) -> str:
    """GSM-7 safe and never over the hard limit (a last resort: screens are designed to 160)."""
    text = gsm7_safe(text)
    return text if len(text) <= HARD_LIMIT else text[: HARD_LIMIT - 3] + "..."


def money(value: Money, language: str) -> str:
    # Babel formatting costs tens of microseconds a call and a balances screen makes seven of them on
    # every hop; the same amounts (0.00, a customer's balance) come back hop after hop. The key is the
    # amount's exact text (Decimal("1.0") == Decimal("1.00") but they may format differently).
    return _formatted(str(value.amount), value.asset, language)


@lru_cache(maxsize=8192)
def _formatted(amount: str, asset: Asset, language: str) -> str:
    return format_money(Money(Decimal(amount), asset), language)


def local_phone(e164: str) -> str:
    """+254712345678 -> 0712345678 (how Kenyans read their numbers)."""
    if e164.startswith("+254") and len(e164) == 13:
        return "0" + e164[4:]
    return e164


def paginate(header: str, lines: list[str], page: int, *, more: str, back: str) -> tuple[str, bool]:
    """Split `lines` into screens of at most SCREEN_LIMIT characters; return page `page` and
    whether there is a next one. Each page carries the header, and "98 More" when more follows."""
    pages: list[list[str]] = []
    current: list[str] = []
    footer_more = f"\n{more}\n{back}"
    for line in lines:
        candidate = "\n".join([header, *current, line]) + footer_more
        if current and len(candidate) > SCREEN_LIMIT - FLASH_ROOM:
            pages.append(current)
            current = []
        current.append(line[: SCREEN_LIMIT - FLASH_ROOM - len(header) - len(footer_more) - 1])
    pages.append(current)
    index = max(0, min(page, len(pages) - 1))
    has_more = index < len(pages) - 1
    body = "\n".join([header, *pages[index]])
    return body + (footer_more if has_more else f"\n{back}"), has_more
