"""Money: Decimal in the domain, integer minor units in the database, never float.

Assets are per network (USDT on ERC20 and on TRC20 are different assets: no bridging), but
share a currency code for formatting and FX.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal, InvalidOperation
from enum import StrEnum

from babel.numbers import format_decimal

from core.errors import CurrencyMismatch, InvalidAmount

__all__ = ["Asset", "Money", "format_money", "parse_amount"]


class Asset(StrEnum):
    KES = "KES"
    BTC = "BTC"
    USDT_ERC20 = "USDT-ERC20"
    USDT_TRC20 = "USDT-TRC20"

    @property
    def scale(self) -> int:
        return _ASSET_SCALES[self]

    @property
    def currency(self) -> str:
        """The currency code shared across networks: KES, BTC or USDT."""
        return _ASSET_CURRENCIES[self]

    @property
    def quantum(self) -> Decimal:
        return _ASSET_QUANTA[self]

    @property
    def is_crypto(self) -> bool:
        return self is not Asset.KES

    @classmethod
    def parse(cls, text: str) -> Asset:
        key = text.strip().upper().replace("_", "-")
        for asset in cls:
            if asset.value == key:
                return asset
        raise InvalidAmount(f"unknown asset {text!r}; use one of {', '.join(a.value for a in cls)}")


_SCALES = {"KES": 2, "BTC": 8, "USDT": 6}
# Looked up on every amount a hop or a posting handles: computed once per asset, not per call.
_ASSET_CURRENCIES = {asset: asset.value.split("-", 1)[0] for asset in Asset}
_ASSET_SCALES = {asset: _SCALES[currency] for asset, currency in _ASSET_CURRENCIES.items()}
_ASSET_QUANTA = {asset: Decimal(1).scaleb(-scale) for asset, scale in _ASSET_SCALES.items()}


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount of one asset. Construct with `Money.of` to validate the scale."""

    amount: Decimal
    asset: Asset

    @classmethod
    def of(cls, amount: Decimal | int | str, asset: Asset) -> Money:
        """Exact construction: refuses more decimals than the asset allows."""
        if isinstance(amount, float):
            raise TypeError("floats are not money; pass a Decimal, int or str")
        try:
            value = Decimal(amount)
        except InvalidOperation as exc:
            raise InvalidAmount(f"not a number: {amount!r}") from exc
        if not value.is_finite():
            raise InvalidAmount(f"not a finite amount: {amount!r}")
        if value != value.quantize(asset.quantum, rounding=ROUND_DOWN):
            raise InvalidAmount(f"{asset.value} allows at most {asset.scale} decimal places, got {amount}")
        return cls(value.quantize(asset.quantum), asset)

    @classmethod
    def zero(cls, asset: Asset) -> Money:
        return cls(Decimal(0).quantize(asset.quantum), asset)

    @classmethod
    def from_minor(cls, minor: int, asset: Asset) -> Money:
        return cls(Decimal(minor).scaleb(-asset.scale).quantize(asset.quantum), asset)

    @classmethod
    def quantize(cls, value: Decimal, asset: Asset, *, rounding: str) -> Money:
        """Round an inexact Decimal to the asset's scale with an explicit rounding mode."""
        return cls(value.quantize(asset.quantum, rounding=rounding), asset)

    @classmethod
    def round_down(cls, value: Decimal, asset: Asset) -> Money:
        return cls.quantize(value, asset, rounding=ROUND_DOWN)

    @classmethod
    def round_up(cls, value: Decimal, asset: Asset) -> Money:
        return cls.quantize(value, asset, rounding=ROUND_UP)

    @property
    def minor(self) -> int:
        return int(self.amount.scaleb(self.asset.scale))

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.asset is not self.asset:
            raise CurrencyMismatch(f"cannot combine {self.asset.value} with {other.asset.value}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.asset)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.asset)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.asset)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._same(other)
        return self.amount >= other.amount

    def is_positive(self) -> bool:
        return self.amount > 0

    def whole_units(self) -> Money:
        """The whole-unit part (M-Pesa moves whole shillings); the remainder stays where it is."""
        return Money(
            self.amount.quantize(Decimal(1), rounding=ROUND_DOWN).quantize(self.asset.quantum), self.asset
        )

    def __str__(self) -> str:
        return f"{self.asset.value} {self.amount:f}"


_AMOUNT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^\.\d+$")
MAX_DIGITS = 18


def parse_amount(text: str, asset: Asset) -> Money:
    """Parse what a person typed: "1,500", "1500.50", "0.0005". Strict: one form, no signs.

    Raises InvalidAmount with a message fit to show (in English; channels translate by error class).
    """
    cleaned = text.strip().replace(" ", "")
    if not cleaned:
        raise InvalidAmount("enter an amount")
    if cleaned.startswith("-"):
        raise InvalidAmount("amount must be more than zero")
    if not _AMOUNT.match(cleaned):
        raise InvalidAmount(f"{text!r} is not an amount; type digits like 1500 or 1500.50")
    digits = cleaned.replace(",", "")
    if len(digits.replace(".", "")) > MAX_DIGITS:
        raise InvalidAmount("amount is too large")
    money = Money.of(digits, asset)
    if not money.is_positive():
        raise InvalidAmount("amount must be more than zero")
    return money


_LOCALES = {"en": "en_KE", "sw": "sw_KE"}


def format_money(
    money: Money, language: str = "en", *, with_code: bool = True, exact: bool = False, network: bool = False
) -> str:
    """The house format for an amount on every channel (USSD, SMS, Telegram, the web portals): the
    code first, then the number in Babel's en_KE / sw_KE grouping: "KES 1,500.50", "BTC 0.0003".

    KES always shows 2 decimals; crypto drops trailing zeros (keeping at least 2 places). `exact`
    shows every decimal of the asset's scale ("BTC 0.00030000": an amount to pay, as on a checkout
    page). `network` names the asset with its network ("USDT-TRC20 25.00") where nothing else on the
    page does; else the currency ("USDT 25.00"). No form rounds: every digit of the amount is kept.
    """
    locale = _LOCALES.get(language, language)
    if money.asset is Asset.KES:
        pattern = "#,##0.00"
    elif exact:
        pattern = "#,##0." + "0" * money.asset.scale
    else:
        pattern = "#,##0.00" + "#" * (money.asset.scale - 2)
    number = format_decimal(money.amount, format=pattern, locale=locale, decimal_quantization=False)
    if not with_code:
        return number
    return f"{money.asset.value if network else money.asset.currency} {number}"
