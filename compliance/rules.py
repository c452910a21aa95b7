"""Monitoring rules (COMPLIANCE.md section 4) as pure functions over a customer's movements.

Each rule takes the movement just made, the customer's earlier movements (oldest first) and its
parameters from the database, and returns a RuleHit that explains itself, or None. The engine runs
`block`/`review` rules inside the gate and `monitor` rules after the fact (compliance.jobs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from compliance import models
from compliance.models import OUTBOUND_KINDS

TOPUP = "topup"  # KES paid in through the paybill (C2B): money arriving, like a deposit
INBOUND_KINDS = frozenset({*models.INBOUND_KINDS, TOPUP})
# Money that arrives without the customer asking (ComplianceGate.check_inbound): checked against
# the per-transaction and balance limits; the daily and monthly limits count what the customer
# does (buy, sell, send, withdraw), not these.
ARRIVING_KINDS = frozenset({models.MovementKind.DEPOSIT.value, models.MovementKind.RECEIVE.value, TOPUP})


@dataclass(frozen=True)
class MovementView:
    id: int
    customer_id: int
    kind: str
    amount_kes: int  # minor units
    counterparty: str
    created_at: datetime


@dataclass(frozen=True)
class RuleContext:
    account_opened_at: datetime | None = None
    # other customers who used this movement's counterparty (an M-Pesa number) recently
    other_customers_on_counterparty: frozenset[int] = frozenset()


@dataclass(frozen=True)
class RuleHit:
    code: str
    score: int
    explanation: str
    movement_ids: list[int] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)


Rule = Callable[[MovementView, Sequence[MovementView], dict[str, Any], int, RuleContext], "RuleHit | None"]


def kes(minor: int) -> str:
    return f"KES {Decimal(minor).scaleb(-2):,.2f}"


def _within(history: Sequence[MovementView], since: datetime) -> list[MovementView]:
    return [m for m in history if m.created_at >= since]


def high_value(
    cur: MovementView, _h: Sequence[MovementView], p: dict[str, Any], score: int, _c: RuleContext
) -> RuleHit | None:
    threshold = int(p["threshold_kes"])
    if cur.amount_kes < threshold:
        return None
    return RuleHit(
        "high_value",
        score,
        f"{cur.kind} of {kes(cur.amount_kes)} is at or above the high-value threshold {kes(threshold)}",
        [cur.id],
        {"amount_kes": cur.amount_kes, "threshold_kes": threshold},
    )


def structuring(
    cur: MovementView, h: Sequence[MovementView], p: dict[str, Any], score: int, _c: RuleContext
) -> RuleHit | None:
    band = Decimal(str(p["band"]))
    limits = [int(x) for x in p["limits_kes"]]

    def just_under(m: MovementView) -> int | None:
        for limit in limits:
            if Decimal(limit) * band <= m.amount_kes < limit:
                return limit
        return None

    if just_under(cur) is None:
        return None
    week = [m for m in [*_within(h, cur.created_at - timedelta(days=7)), cur] if just_under(m) is not None]
    day = [m for m in week if m.created_at >= cur.created_at - timedelta(hours=24)]
    if len(day) < int(p["hits_24h"]) and len(week) < int(p["hits_7d"]):
        return None
    limit = just_under(cur)
    return RuleHit(
        "structuring",
        score,
        f"{len(day)} movements in 24 h and {len(week)} in 7 d just under a threshold "
        f"(band {band} of {', '.join(kes(x) for x in limits)}); "
        f"latest {kes(cur.amount_kes)} under {kes(limit or 0)}",
        [m.id for m in week],
        {"hits_24h": len(day), "hits_7d": len(week)},
    )


def velocity(
    cur: MovementView, h: Sequence[MovementView], p: dict[str, Any], score: int, _c: RuleContext
) -> RuleHit | None:
    day_start = cur.created_at - timedelta(hours=24)
    today = [*_within(h, day_start), cur]
    if len(today) >= int(p["count_24h"]):
        return RuleHit(
            "velocity",
            score,
            f"{len(today)} movements in 24 h (threshold {p['count_24h']})",
            [m.id for m in today],
            {"count_24h": len(today)},
        )
    month = [m for m in h if day_start - timedelta(days=30) <= m.created_at < day_start]
    if len(month) < int(p["min_history"]):
        return None
    mean = Decimal(sum(m.amount_kes for m in month)) / 30
    volume = sum(m.amount_kes for m in today)
    if mean > 0 and volume >= mean * int(p["volume_multiple"]):
        return RuleHit(
            "velocity",
            score,
            f"24 h volume {kes(volume)} is {Decimal(volume) / mean:.1f}x "
            f"the 30-day daily mean {kes(int(mean))}",
            [m.id for m in today],
            {"volume_24h": volume, "daily_mean_30d": str(mean.quantize(Decimal(1)))},
        )
    return None


def pass_through(
    cur: MovementView, h: Sequence[MovementView], p: dict[str, Any], score: int, _c: RuleContext
) -> RuleHit | None:
    if cur.kind not in OUTBOUND_KINDS:
        return None
    window = timedelta(hours=int(p["window_hours"]))
    ratio = Decimal(str(p["ratio"]))
    recent = [*_within(h, cur.created_at - timedelta(days=7)), cur]
    cycles: list[tuple[MovementView, MovementView]] = []
    used: set[int] = set()
    for out in (m for m in recent if m.kind in OUTBOUND_KINDS):
        for inflow in recent:
            if (
                inflow.kind in INBOUND_KINDS
                and inflow.id not in used
                and out.created_at - window <= inflow.created_at <= out.created_at
                and out.amount_kes >= inflow.amount_kes * ratio
            ):
                cycles.append((inflow, out))
                used.add(inflow.id)
                break
    if len(cycles) < int(p["cycles_7d"]) or not cycles or cycles[-1][1].id != cur.id:
        return None
    return RuleHit(
        "pass_through",
        score,
        f"{len(cycles)} in-then-out cycles in 7 d, each outflow >= {ratio:.0%} of an inflow within "
        f"{p['window_hours']} h; latest {kes(cycles[-1][0].amount_kes)} in, {kes(cur.amount_kes)} out",
        sorted({m.id for pair in cycles for m in pair}),
        {"cycles_7d": len(cycles)},
    )


def fan_in(
    cur: MovementView, h: Sequence[MovementView], p: dict[str, Any], score: int, _c: RuleContext
) -> RuleHit | None:
    if cur.kind not in OUTBOUND_KINDS:
        return None
    week = _within(h, cur.created_at - timedelta(days=7))
    inflows = [m for m in week if m.kind in INBOUND_KINDS and m.counterparty]
    sources = {m.counterparty for m in inflows}
    if len(sources) < int(p["counterparties_7d"]):
        return None
    return RuleHit(
        "fan_in",
        score,
        f"{len(sources)} distinct counterparties paid in within 7 d "
        f"({kes(sum(m.amount_kes for m in inflows))}), then an outflow of {kes(cur.amount_kes)}",
        [m.id for m in inflows] + [cur.id],
        {"counterparties_7d": len(sources)},
    )


def new_account_large(
    cur: MovementView, h: Sequence[MovementView], p: dict[str, Any], score: int, c: RuleContext
) -> RuleHit | None:
    opened = c.account_opened_at or (h[0].created_at if h else cur.created_at)
    age = cur.created_at - opened
    threshold = int(p["threshold_kes"])
    if age > timedelta(days=int(p["account_age_days"])) or cur.amount_kes < threshold:
        return None
    return RuleHit(
        "new_account_large",
        score,
        f"{kes(cur.amount_kes)} on an account {age.days} day(s) old (threshold {kes(threshold)} "
        f"in the first {p['account_age_days']} days)",
        [cur.id],
        {"account_age_days": age.days},
    )


def dormant_reactivation(
    cur: MovementView, h: Sequence[MovementView], p: dict[str, Any], score: int, _c: RuleContext
) -> RuleHit | None:
    dormant = timedelta(days=int(p["dormant_days"]))
    window = timedelta(days=int(p["window_days"]))
    ordered = [*h, cur]
    for i in range(len(ordered) - 1, 0, -1):
        gap = ordered[i].created_at - ordered[i - 1].created_at
        if gap >= dormant:
            woke = ordered[i]
            if cur.created_at - woke.created_at > window:
                return None
            since = [m for m in ordered[i:] if m.created_at <= woke.created_at + window]
            volume = sum(m.amount_kes for m in since)
            if volume < int(p["threshold_kes"]):
                return None
            return RuleHit(
                "dormant_reactivation",
                score,
                f"dormant {gap.days} days, then {kes(volume)} within {window.days} days of reactivation",
                [m.id for m in since],
                {"dormant_days": gap.days, "volume_kes": volume},
            )
    return None


def shared_mpesa_number(
    cur: MovementView, _h: Sequence[MovementView], _p: dict[str, Any], score: int, c: RuleContext
) -> RuleHit | None:
    others = sorted(c.other_customers_on_counterparty - {cur.customer_id})
    if not others or not is_msisdn(cur.counterparty):
        return None
    return RuleHit(
        "shared_mpesa_number",
        score,
        f"M-Pesa number {mask(cur.counterparty)} is also used by {len(others)} other customer(s)",
        [cur.id],
        {"other_customer_ids": others},
    )


def is_msisdn(value: str) -> bool:
    digits = value.lstrip("+")
    return digits.isdigit() and 9 <= len(digits) <= 15


def mask(phone: str) -> str:
    return phone[:-6] + "***" + phone[-3:] if len(phone) > 6 else "***"


RULES: dict[str, Rule] = {
    "high_value": high_value,
    "structuring": structuring,
    "velocity": velocity,
    "pass_through": pass_through,
    "fan_in": fan_in,
    "new_account_large": new_account_large,
    "dormant_reactivation": dormant_reactivation,
    "shared_mpesa_number": shared_mpesa_number,
}


@dataclass(frozen=True)
class RuleConfig:
    code: str
    mode: str
    score: int
    params: dict[str, Any]


def evaluate(
    configs: Sequence[RuleConfig],
    current: MovementView,
    history: Sequence[MovementView],
    context: RuleContext,
) -> list[RuleHit]:
    hits = []
    for config in configs:
        rule = RULES.get(config.code)
        if rule is None:
            continue
        hit = rule(current, history, config.params, config.score, context)
        if hit is not None:
            hits.append(hit)
    return hits
