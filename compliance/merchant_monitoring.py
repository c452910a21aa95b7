"""Merchant typologies (issue 16 item 6): monitoring over a merchant's payments received and its
settlements, after the fact, raising staff alerts (compliance.cases) like the customer rules.

- `merchant_structuring`: the merchant's payments repeatedly just under a threshold in 24 h.
- `merchant_new_payers`: many payers new to the merchant within a short window (mule collection).
- `merchant_settle_after_pay`: a settlement opened minutes after payments most of which came from
  one payer (money passed through the merchant's till).

The rules are pure functions over views; `monitor_merchant(merchant_id)` (a job, staged with every
credit and settlement) loads the views and raises one alert per rule and window (deduplicated).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from compliance import cases
from compliance.rules import RuleHit, kes
from core import runtime
from core.settlements import queries as settlements
from core.settlements.types import CreditSummary

KES = 100  # minor units per shilling
WINDOW = timedelta(days=2)  # history a scan loads


@dataclass(frozen=True)
class CreditView:
    id: int
    payer: str  # the payer's identity: a Kibeti customer id ("c:12"), else the masked phone or ""
    gross_kes: int  # minor units
    created_at: datetime
    settlement_id: int | None = None


@dataclass(frozen=True)
class SettlementView:
    id: int
    created_at: datetime
    credit_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Params:
    thresholds_kes: tuple[int, ...] = (100_000 * KES, 250_000 * KES, 1_000_000 * KES)
    band: Decimal = Decimal("0.90")
    structuring_hits_24h: int = 3
    new_payers: int = 20
    new_payers_window: timedelta = timedelta(hours=1)
    settle_within: timedelta = timedelta(minutes=15)
    one_payer_share: Decimal = Decimal("0.80")
    settle_minimum_kes: int = 10_000 * KES
    scores: dict[str, int] = field(
        default_factory=lambda: {
            "merchant_structuring": 70,
            "merchant_new_payers": 55,
            "merchant_settle_after_pay": 65,
        }
    )


def merchant_structuring(credits: Sequence[CreditView], now: datetime, p: Params) -> RuleHit | None:
    def under(c: CreditView) -> int | None:
        return next((t for t in p.thresholds_kes if Decimal(t) * p.band <= c.gross_kes < t), None)

    day = [c for c in credits if now - timedelta(hours=24) <= c.created_at <= now and under(c) is not None]
    if len(day) < p.structuring_hits_24h:
        return None
    return RuleHit(
        "merchant_structuring",
        p.scores["merchant_structuring"],
        f"{len(day)} payments to the merchant in 24 h just under a threshold "
        f"({', '.join(kes(t) for t in p.thresholds_kes)}, band {p.band})",
        [c.id for c in day],
        {"hits_24h": len(day)},
    )


def merchant_new_payers(credits: Sequence[CreditView], now: datetime, p: Params) -> RuleHit | None:
    since = now - p.new_payers_window
    known = {c.payer for c in credits if c.created_at < since and c.payer}
    recent = [c for c in credits if since <= c.created_at <= now and c.payer and c.payer not in known]
    payers = {c.payer for c in recent}
    if len(payers) < p.new_payers:
        return None
    minutes = int(p.new_payers_window.total_seconds() // 60)
    return RuleHit(
        "merchant_new_payers",
        p.scores["merchant_new_payers"],
        f"{len(payers)} payers new to the merchant paid it within {minutes} min",
        [c.id for c in recent],
        {"new_payers": len(payers), "window_minutes": minutes},
    )


def merchant_settle_after_pay(
    credits: Sequence[CreditView], settlement: SettlementView, p: Params
) -> RuleHit | None:
    covered = [c for c in credits if c.id in settlement.credit_ids]
    recent = [c for c in covered if settlement.created_at - c.created_at <= p.settle_within]
    total = sum(c.gross_kes for c in covered)
    if not recent or total < p.settle_minimum_kes:
        return None
    by_payer = Counter[str]()
    for c in covered:
        if c.payer:
            by_payer[c.payer] += c.gross_kes
    if not by_payer:
        return None
    payer, amount = by_payer.most_common(1)[0]
    if Decimal(amount) < p.one_payer_share * total or not any(c.payer == payer for c in recent):
        return None
    minutes = int(p.settle_within.total_seconds() // 60)
    return RuleHit(
        "merchant_settle_after_pay",
        p.scores["merchant_settle_after_pay"],
        f"settlement S{settlement.id} of {kes(total)} opened within {minutes} min of payments, "
        f"{Decimal(amount) * 100 / total:.0f} % of it from one payer",
        [c.id for c in covered],
        {"settlement_id": settlement.id, "payer_share_kes": amount, "total_kes": total},
    )


def _payer(credit: CreditSummary) -> str:
    if credit.payer_customer_id is not None:
        return f"c:{credit.payer_customer_id}"
    return credit.payer or ""


async def _views(session: AsyncSession, merchant_id: int, since: datetime) -> list[CreditView]:
    credits = await settlements.credits_since(session=session, merchant_id=merchant_id, since=since)
    return [CreditView(c.id, _payer(c), c.gross_minor, c.created_at, c.settlement_id) for c in credits]


async def monitor_session(
    session: AsyncSession, merchant_id: int, now: datetime, params: Params | None = None
) -> list[RuleHit]:
    """Evaluate the merchant typologies as of `now`; raise an alert per hit (one per rule and day,
    and per settlement for settle-after-pay)."""
    p = params or Params()
    credits = await _views(session, merchant_id, now - WINDOW)
    hits: list[tuple[RuleHit, str]] = []
    day = now.date().isoformat()
    for rule in (merchant_structuring, merchant_new_payers):
        hit = rule(credits, now, p)
        if hit is not None:
            hits.append((hit, f"merchant:{merchant_id}:{hit.code}:{day}"))
    recent_settlements = await settlements.settlements_since(
        session=session, merchant_id=merchant_id, since=now - timedelta(days=1)
    )
    for row in recent_settlements:
        covered = tuple(c.id for c in credits if c.settlement_id == row.id)
        hit = merchant_settle_after_pay(credits, SettlementView(row.id, row.created_at, covered), p)
        if hit is not None:
            hits.append((hit, f"merchant:{merchant_id}:{hit.code}:S{row.id}"))
    for hit, key in hits:
        details: dict[str, Any] = {
            "facts": hit.facts,
            "merchant_id": merchant_id,
            "explanation": hit.explanation,
        }
        await cases.raise_alert(
            session=session, dedupe_key=key, customer_id=None, source="merchant", rule_code=hit.code,
            score=hit.score, summary=f"merchant {merchant_id}: {hit.explanation}", details=details,
            movement_ids=[], now=now,
        )  # fmt: skip
    return [hit for hit, _ in hits]


async def monitor_merchant(merchant_id: int) -> int:
    """The job: evaluate one merchant now; returns how many typologies hit."""
    rt = runtime.get()
    async with rt.session_factory() as session, session.begin():
        hits = await monitor_session(session, merchant_id, rt.clock.now())
    return len(hits)
