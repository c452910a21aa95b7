"""FX tunables. Read from Settings when present (FX_MAX_AGE_SECONDS, FX_DISAGREEMENT_PERCENT,
FX_SOURCE_TIMEOUT_SECONDS, QUOTE_TTL_SECONDS), else the defaults below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from core.fx.rates import DEFAULT_MAX_AGE


@dataclass(frozen=True, slots=True)
class FxPolicy:
    max_age: timedelta = DEFAULT_MAX_AGE
    disagreement_percent: Decimal = Decimal(2)
    source_timeout: float = 5.0
    quote_ttl: timedelta = timedelta(seconds=60)

    @classmethod
    def from_settings(cls, settings: object) -> FxPolicy:
        def number(name: str) -> str | None:
            value = getattr(settings, name, None)
            return None if value in (None, "") else str(value)

        defaults = cls()
        max_age = number("fx_max_age_seconds")
        tolerance = number("fx_disagreement_percent")
        timeout = number("fx_source_timeout_seconds")
        ttl = number("quote_ttl_seconds")
        return cls(
            max_age=timedelta(seconds=int(max_age)) if max_age else defaults.max_age,
            disagreement_percent=Decimal(tolerance) if tolerance else defaults.disagreement_percent,
            source_timeout=float(timeout) if timeout else defaults.source_timeout,
            quote_ttl=timedelta(seconds=int(ttl)) if ttl else defaults.quote_ttl,
        )
