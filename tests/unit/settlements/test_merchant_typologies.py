"""Merchant typologies as pure functions: structuring just under a threshold, many new payers in a
short window, a settlement opened right after payments mostly from one payer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from compliance.merchant_monitoring import (
    CreditView,
    Params,
    SettlementView,
    merchant_new_payers,
    merchant_settle_after_pay,
    merchant_structuring,
)

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
P = Params()


def _credit(
    n: int, kes: int, minutes_ago: float, payer: str = "", settlement: int | None = None
) -> CreditView:
    return CreditView(n, payer or f"c:{n}", kes * 100, NOW - timedelta(minutes=minutes_ago), settlement)


def test_structuring_needs_three_just_under_a_threshold_in_24_hours() -> None:
    under = [_credit(n, 95_000 + n, 60 * n) for n in range(1, 4)]
    hit = merchant_structuring(under, NOW, P)
    assert hit is not None and hit.code == "merchant_structuring" and hit.facts == {"hits_24h": 3}
    assert merchant_structuring(under[:2], NOW, P) is None
    assert merchant_structuring([*under[:2], _credit(9, 95_000, 60 * 25)], NOW, P) is None  # older than 24 h
    assert merchant_structuring([_credit(n, 80_000, n) for n in range(5)], NOW, P) is None  # not "just under"
    assert (
        merchant_structuring([_credit(n, 100_000, n) for n in range(5)], NOW, P) is None
    )  # at it, not under


def test_many_payers_new_to_the_merchant_in_an_hour() -> None:
    regulars = [_credit(n, 500, 600 + n, payer=f"c:{n}") for n in range(10)]
    newcomers = [_credit(100 + n, 500, 30, payer=f"c:{100 + n}") for n in range(20)]
    hit = merchant_new_payers([*regulars, *newcomers], NOW, P)
    assert hit is not None and hit.facts["new_payers"] == 20
    returning = [_credit(200 + n, 500, 20, payer=f"c:{n}") for n in range(10)]  # known before the window
    assert merchant_new_payers([*regulars, *newcomers[:15], *returning], NOW, P) is None


def test_settle_right_after_payments_mostly_from_one_payer() -> None:
    settlement = SettlementView(7, NOW, (1, 2, 3))
    credits = [
        _credit(1, 45_000, 5, payer="c:9", settlement=7),
        _credit(2, 40_000, 3, payer="c:9", settlement=7),
        _credit(3, 5_000, 200, payer="c:4", settlement=7),
    ]
    hit = merchant_settle_after_pay(credits, settlement, P)
    assert hit is not None and hit.facts["settlement_id"] == 7
    spread = [_credit(n, 9_000, 5, payer=f"c:{n}", settlement=7) for n in (1, 2, 3)]
    assert merchant_settle_after_pay(spread, settlement, P) is None  # many payers
    slow = [
        _credit(1, 45_000, 120, payer="c:9", settlement=7),
        _credit(2, 40_000, 90, payer="c:9", settlement=7),
    ]
    assert merchant_settle_after_pay(slow, SettlementView(7, NOW, (1, 2)), P) is None  # not rapid
    small = [_credit(1, 4_000, 1, payer="c:9", settlement=7)]
    assert merchant_settle_after_pay(small, SettlementView(7, NOW, (1,)), P) is None  # below the minimum


@given(st.lists(st.integers(min_value=1, max_value=2_000_000), max_size=30))
def test_structuring_never_fires_on_amounts_outside_every_band(amounts: list[int]) -> None:
    outside = [a for a in amounts if not any(t * 0.9 <= a * 100 < t for t in P.thresholds_kes)]
    credits = [_credit(n, a, n) for n, a in enumerate(outside)]
    assert merchant_structuring(credits, NOW, P) is None
