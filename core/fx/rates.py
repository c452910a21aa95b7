"""The pure rate value used by quotes: a pair with a bid and an ask, its source and age.

Normally bid == ask (the primary source's rate). When sources disagree beyond the configured
tolerance, bid is the lowest and ask the highest seen, so every side gets the conservative rate:
customers buying crypto pay the ask, customers selling get the bid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from core.fx.errors import RatesUnavailable

DEFAULT_MAX_AGE = timedelta(minutes=5)
DEMO_SOURCE = "demo"


class Side(StrEnum):
    BUY = "buy"  # the customer buys crypto: pays KES
    SELL = "sell"  # the customer sells crypto: receives KES


@dataclass(frozen=True, slots=True)
class Rate:
    base: str  # currency code: "BTC", "USDT", "USD"
    quote: str  # "KES", "USD"
    bid: Decimal
    ask: Decimal
    as_of: datetime
    source: str
    rate_id: int | None = None
    valid_until: datetime | None = None  # set for manual overrides, which do not go stale by age

    @property
    def pair(self) -> str:
        return f"{self.base}/{self.quote}"

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def is_demo(self) -> bool:
        return DEMO_SOURCE in self.source.split("+")

    def for_side(self, side: Side) -> Decimal:
        """The conservative reference rate for a side (house-favouring when sources disagree)."""
        return self.ask if side is Side.BUY else self.bid

    def check_fresh(self, now: datetime, max_age: timedelta = DEFAULT_MAX_AGE) -> Rate:
        """Return self, or raise RatesUnavailable when the rate is older than `max_age`."""
        if self.valid_until is not None:
            if now <= self.valid_until:
                return self
        elif now - self.as_of <= max_age:
            return self
        raise RatesUnavailable(f"{self.pair} rate from {self.as_of.isoformat()} is stale")
