"""Optional Redis cache of the latest rates (`fx:latest:BASE/QUOTE`). The database is the truth:
the cache is written after each refresh and may be lost at any time without losing anything.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.fx.rates import Rate

log = logging.getLogger(__name__)
KEY = "fx:latest:{pair}"
TTL_SECONDS = 600


def _dump(rate: Rate) -> str:
    return json.dumps(
        {"base": rate.base, "quote": rate.quote, "bid": str(rate.bid), "ask": str(rate.ask),
         "as_of": rate.as_of.isoformat(), "source": rate.source, "rate_id": rate.rate_id}
    )  # fmt: skip


def _load(raw: str | bytes) -> Rate:
    data = json.loads(raw)
    return Rate(
        base=data["base"], quote=data["quote"], bid=Decimal(data["bid"]), ask=Decimal(data["ask"]),
        as_of=datetime.fromisoformat(data["as_of"]), source=data["source"], rate_id=data["rate_id"],
    )  # fmt: skip


async def store(redis: Any, rates: Iterable[Rate]) -> None:
    """Best effort: a Redis failure is logged, never raised (the DB already has the rates)."""
    if redis is None:
        return
    try:
        for rate in rates:
            await redis.set(KEY.format(pair=rate.pair), _dump(rate), ex=TTL_SECONDS)
    except Exception:  # any Redis error: the cache is optional
        log.warning("fx cache write failed", exc_info=True)


async def load(redis: Any, base: str, quote: str) -> Rate | None:
    if redis is None:
        return None
    try:
        raw = await redis.get(KEY.format(pair=f"{base}/{quote}"))
    except Exception:  # any Redis error: fall back to the database
        log.warning("fx cache read failed", exc_info=True)
        return None
    return None if raw is None else _load(raw)
