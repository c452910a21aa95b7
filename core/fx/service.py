"""FX queries and writes: refresh from sources, latest rate with the staleness guard, disagreement
alerts, and maker-checker overrides. Keyword-only arguments; the caller's session owns the transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import Clock
from core.fx.errors import RateSourceError, RatesUnavailable, UnknownPair
from core.fx.models import FxAlert, FxOverride, FxRate, OverrideStatus, RateKind
from core.fx.policy import FxPolicy
from core.fx.rates import Rate
from core.ports import RateQuote, RateSource

log = logging.getLogger(__name__)

BASE_PAIRS = (("USD", "KES"), ("BTC", "USD"), ("USDT", "USD"))
CROSS_PAIRS = {("BTC", "KES"): ("BTC", "USD"), ("USDT", "KES"): ("USDT", "USD")}
QUOTED_PAIRS = (*BASE_PAIRS, *CROSS_PAIRS)


@dataclass
class RefreshResult:
    fetched: int = 0
    rates: list[Rate] = field(default_factory=list)  # effective and cross rates written
    errors: dict[str, str] = field(default_factory=dict)  # source name -> why it failed
    alerts: list[int] = field(default_factory=list)


async def fetch_all(
    sources: Sequence[RateSource], *, seconds: float
) -> tuple[list[tuple[str, list[RateQuote]]], dict[str, str]]:
    """Ask every source at once; a source that fails or is slower than `seconds` is skipped."""

    async def one(source: RateSource) -> list[RateQuote]:
        try:
            return await asyncio.wait_for(source.fetch(), seconds)
        except TimeoutError as exc:
            raise RateSourceError(f"{source.name}: no answer within {seconds}s") from exc

    results = await asyncio.gather(*(one(s) for s in sources), return_exceptions=True)
    answers: list[tuple[str, list[RateQuote]]] = []
    errors: dict[str, str] = {}
    for source, result in zip(sources, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result
            errors[source.name] = str(result) or type(result).__name__
            log.warning("fx source failed", extra={"source": source.name, "error": errors[source.name]})
        else:
            answers.append((source.name, result))
    return answers, errors


async def refresh(
    *, session: AsyncSession, sources: Sequence[RateSource], clock: Clock, policy: FxPolicy | None = None
) -> RefreshResult:
    """Fetch, store every answer, then write effective and cross rates. Never raises for a bad source:
    a pair nobody answered keeps its last good rate (which goes stale after `policy.max_age`).
    """
    policy = policy or FxPolicy()
    now = clock.now()
    answers, errors = await fetch_all(sources, seconds=policy.source_timeout)
    result = RefreshResult(errors=errors)
    candidates: dict[tuple[str, str], list[tuple[str, Decimal]]] = {}
    for source_name, quotes in answers:
        for quote in quotes:
            try:
                rate = Decimal(quote.rate)
            except ArithmeticError:
                result.errors[source_name] = f"{source_name}: {quote.rate!r} is not a number"
                continue
            session.add(_row(quote.base, quote.quote, RateKind.FETCHED, rate, rate, source_name, now))
            candidates.setdefault((quote.base, quote.quote), []).append((source_name, rate))
            result.fetched += 1
    for pair in BASE_PAIRS:
        if pair in candidates:
            result.rates.append(await _effective(session, pair, candidates[pair], now, policy, result))
    await session.flush()
    for cross, leg in CROSS_PAIRS.items():
        crossed = await _cross(session, cross, leg, now)
        if crossed is not None:
            result.rates.append(crossed)
    return result


def _row(
    base: str,
    quote: str,
    kind: RateKind,
    bid: Decimal,
    ask: Decimal,
    source: str,
    as_of: datetime,
    inputs: dict[str, Any] | None = None,
) -> FxRate:
    mid = bid if bid == ask else (bid + ask) / 2
    return FxRate(
        base=base, quote=quote, kind=kind.value, rate=str(mid), bid=str(bid), ask=str(ask),
        source=source[:120], as_of=as_of, fetched_at=as_of, inputs=inputs,
    )  # fmt: skip


def _to_rate(row: FxRate) -> Rate:
    return Rate(
        base=row.base, quote=row.quote, bid=Decimal(row.bid), ask=Decimal(row.ask),
        as_of=row.as_of, source=row.source, rate_id=row.id,
    )  # fmt: skip


async def _effective(
    session: AsyncSession,
    pair: tuple[str, str],
    seen: list[tuple[str, Decimal]],
    now: datetime,
    policy: FxPolicy,
    result: RefreshResult,
) -> Rate:
    """The primary's rate; if sources disagree beyond tolerance, alert staff and use both extremes."""
    primary_name, primary = seen[0]
    low = min(rate for _, rate in seen)
    high = max(rate for _, rate in seen)
    spread = (high - low) / low * 100
    bid = ask = primary
    source = primary_name
    if spread > policy.disagreement_percent:
        bid, ask = low, high
        source = "+".join(name for name, _ in seen)
        details = {
            "rates": {name: str(rate) for name, rate in seen}, "spread_percent": str(spread),
            "tolerance_percent": str(policy.disagreement_percent), "used_bid": str(bid), "used_ask": str(ask),
        }  # fmt: skip
        alert = await _raise_alert(session, f"{pair[0]}/{pair[1]}", details, now)
        result.alerts.append(alert.id)
        log.warning("fx sources disagree", extra={"pair": alert.pair, "spread": str(spread)})
    row = _row(pair[0], pair[1], RateKind.EFFECTIVE, bid, ask, source, now)
    session.add(row)
    await session.flush()
    return _to_rate(row)


async def _raise_alert(session: AsyncSession, pair: str, details: dict[str, Any], now: datetime) -> FxAlert:
    """One open alert per pair: a disagreement that persists updates it (latest rates, count, last seen)."""
    statement = select(FxAlert).where(
        FxAlert.kind == "disagreement", FxAlert.pair == pair, FxAlert.status == "open"
    )
    alert = (await session.execute(statement.limit(1))).scalar_one_or_none()
    if alert is None:
        alert = FxAlert(kind="disagreement", pair=pair, status="open", created_at=now, details={})
        session.add(alert)
    occurrences = int(alert.details.get("occurrences", 0)) + 1
    alert.details = {**details, "occurrences": occurrences, "last_seen": now.isoformat()}
    await session.flush()
    return alert


async def _latest_row(
    session: AsyncSession, base: str, quote: str, kinds: Sequence[RateKind]
) -> FxRate | None:
    statement = (
        select(FxRate)
        .where(FxRate.base == base, FxRate.quote == quote, FxRate.kind.in_([k.value for k in kinds]))
        .order_by(FxRate.as_of.desc(), FxRate.id.desc())
        .limit(1)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def _cross(
    session: AsyncSession, cross: tuple[str, str], leg: tuple[str, str], now: datetime
) -> Rate | None:
    """crypto/KES = crypto/USD x USD/KES, from the latest effective inputs; as old as the oldest one."""
    crypto = await _latest_row(session, *leg, kinds=(RateKind.EFFECTIVE,))
    usd = await _latest_row(session, "USD", "KES", kinds=(RateKind.EFFECTIVE,))
    if crypto is None or usd is None:
        return None
    if crypto.as_of < now and usd.as_of < now:
        return None  # neither input is new: the last cross rate stands
    bid = Decimal(crypto.bid) * Decimal(usd.bid)
    ask = Decimal(crypto.ask) * Decimal(usd.ask)
    inputs = {
        f"{leg[0]}/{leg[1]}": {
            "id": crypto.id,
            "bid": crypto.bid,
            "ask": crypto.ask,
            "source": crypto.source,
        },
        "USD/KES": {"id": usd.id, "bid": usd.bid, "ask": usd.ask, "source": usd.source},
    }
    source = "+".join(dict.fromkeys([*crypto.source.split("+"), *usd.source.split("+")]))
    row = _row(cross[0], cross[1], RateKind.CROSS, bid, ask, source, min(crypto.as_of, usd.as_of), inputs)
    row.fetched_at = now
    session.add(row)
    await session.flush()
    return _to_rate(row)


async def latest_rate(
    *, session: AsyncSession, base: str, quote: str, clock: Clock, max_age: timedelta | None = None
) -> Rate:
    """The rate to price with: an approved unexpired override, else the newest stored rate if fresh.

    Raises RatesUnavailable when there is none or it is older than `max_age` (default 5 minutes).
    """
    base, quote = base.upper(), quote.upper()
    if (base, quote) not in QUOTED_PAIRS:
        raise UnknownPair(f"no rate for {base}/{quote}")
    now = clock.now()
    override = await active_override(session=session, base=base, quote=quote, now=now)
    if override is not None:
        return override
    row = await _latest_row(session, base, quote, kinds=(RateKind.EFFECTIVE, RateKind.CROSS))
    if row is None:
        raise RatesUnavailable(f"no {base}/{quote} rate yet")
    return _to_rate(row).check_fresh(now, max_age or FxPolicy().max_age)


async def open_alerts(*, session: AsyncSession) -> list[FxAlert]:
    statement = select(FxAlert).where(FxAlert.status == "open").order_by(FxAlert.id)
    return list((await session.execute(statement)).scalars())


async def active_override(*, session: AsyncSession, base: str, quote: str, now: datetime) -> Rate | None:
    statement = (
        select(FxOverride)
        .where(
            FxOverride.base == base,
            FxOverride.quote == quote,
            FxOverride.status == OverrideStatus.APPROVED.value,
            FxOverride.valid_until >= now,
        )
        .order_by(FxOverride.decided_at.desc(), FxOverride.id.desc())
        .limit(1)
    )
    row = (await session.execute(statement)).scalar_one_or_none()
    if row is None or row.decided_at is None:
        return None
    value = Decimal(row.rate)
    return Rate(
        base=row.base, quote=row.quote, bid=value, ask=value, as_of=row.decided_at,
        source=f"override:{row.id}", valid_until=row.valid_until,
    )  # fmt: skip
