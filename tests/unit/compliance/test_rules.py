from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from compliance.defaults import DEFAULT_RULES
from compliance.rules import RULES, MovementView, RuleConfig, RuleContext, evaluate

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KES = 100
PARAMS: dict[str, dict[str, Any]] = {r["code"]: r["params"] for r in DEFAULT_RULES}
_ids = iter(range(1, 10_000))


def mv(kind: str, kes: int, at: datetime, counterparty: str = "", customer: int = 7) -> MovementView:
    return MovementView(next(_ids), customer, kind, kes * KES, counterparty, at)


def run(code: str, cur: MovementView, history: list[MovementView], ctx: RuleContext | None = None):
    return RULES[code](cur, history, PARAMS[code], 50, ctx or RuleContext())


def test_every_default_rule_has_an_implementation() -> None:
    assert {r["code"] for r in DEFAULT_RULES} == set(RULES)


def test_high_value() -> None:
    hit = run("high_value", mv("sell", 1_000_000, T0), [])
    assert hit is not None and "KES 1,000,000.00" in hit.explanation
    assert run("high_value", mv("sell", 999_999, T0), []) is None


def test_structuring_three_just_under_in_a_day() -> None:
    history = [mv("sell", 245_000, T0), mv("sell", 249_000, T0 + timedelta(hours=2))]
    hit = run("structuring", mv("sell", 240_000, T0 + timedelta(hours=5)), history)
    assert hit is not None and hit.facts["hits_24h"] == 3 and len(hit.movement_ids) == 3
    # the same count spread over more than a day and under the 7-day count: no hit
    spread = [mv("sell", 245_000, T0 - timedelta(days=3)), mv("sell", 249_000, T0 - timedelta(days=2))]
    assert run("structuring", mv("sell", 240_000, T0), spread) is None
    # amounts well under the band never count
    assert run("structuring", mv("sell", 100_000, T0), history) is None


def test_velocity_count_and_volume() -> None:
    burst = [mv("send", 100, T0 + timedelta(minutes=i)) for i in range(19)]
    assert run("velocity", mv("send", 100, T0 + timedelta(minutes=30)), burst) is not None
    assert run("velocity", mv("send", 100, T0 + timedelta(minutes=30)), burst[:5]) is None
    month = [mv("send", 1_000, T0 - timedelta(days=d)) for d in range(2, 12)]  # 10k in 30 d
    hit = run("velocity", mv("send", 5_000, T0), month)  # mean 333/day; 5,000 is 15x
    assert hit is not None and "30-day daily mean" in hit.explanation
    assert run("velocity", mv("send", 1_000, T0), month) is None


def test_pass_through_two_cycles() -> None:
    history = [
        mv("deposit", 50_000, T0),
        mv("sell", 45_000, T0 + timedelta(hours=3)),
        mv("deposit", 60_000, T0 + timedelta(days=1)),
    ]
    hit = run("pass_through", mv("sell", 55_000, T0 + timedelta(days=1, hours=2)), history)
    assert hit is not None and hit.facts["cycles_7d"] == 2
    # outflow well below the inflow is not a pass-through
    assert run("pass_through", mv("sell", 10_000, T0 + timedelta(days=1, hours=2)), history) is None


def test_fan_in_many_counterparties_then_out() -> None:
    inflows = [mv("receive", 500, T0 + timedelta(hours=i), f"+2547000000{i:02d}") for i in range(10)]
    hit = run("fan_in", mv("withdraw", 4_800, T0 + timedelta(hours=12)), inflows)
    assert hit is not None and hit.facts["counterparties_7d"] == 10
    assert run("fan_in", mv("withdraw", 4_800, T0 + timedelta(hours=12)), inflows[:9]) is None
    assert run("fan_in", mv("receive", 100, T0 + timedelta(hours=12), "+254711111111"), inflows) is None


def test_new_account_large() -> None:
    ctx = RuleContext(account_opened_at=T0 - timedelta(days=3))
    assert run("new_account_large", mv("buy", 100_000, T0), [], ctx) is not None
    old = RuleContext(account_opened_at=T0 - timedelta(days=90))
    assert run("new_account_large", mv("buy", 100_000, T0), [], old) is None
    assert run("new_account_large", mv("buy", 99_000, T0), [], ctx) is None


def test_dormant_reactivation() -> None:
    history = [mv("deposit", 1_000, T0 - timedelta(days=400)), mv("deposit", 30_000, T0)]
    hit = run("dormant_reactivation", mv("sell", 25_000, T0 + timedelta(days=2)), history)
    assert hit is not None and hit.facts["dormant_days"] == 400
    assert (
        run(
            "dormant_reactivation",
            mv("sell", 5_000, T0 + timedelta(days=2)),
            [*history[:1], mv("deposit", 1_000, T0)],
        )
        is None
    )
    active = [mv("deposit", 1_000, T0 - timedelta(days=d)) for d in (300, 200, 100, 10)]
    assert run("dormant_reactivation", mv("sell", 60_000, T0), active) is None


def test_shared_mpesa_number() -> None:
    ctx = RuleContext(other_customers_on_counterparty=frozenset({7, 99}))
    hit = run("shared_mpesa_number", mv("sell", 1_000, T0, "+254712345678"), [], ctx)
    assert hit is not None and hit.facts["other_customer_ids"] == [99]
    assert "+254712345678" not in hit.explanation  # masked
    alone = RuleContext(other_customers_on_counterparty=frozenset({7}))
    assert run("shared_mpesa_number", mv("sell", 1_000, T0, "+254712345678"), [], alone) is None


def test_evaluate_runs_only_given_configs() -> None:
    configs = [RuleConfig("high_value", "monitor", 60, PARAMS["high_value"])]
    hits = evaluate(configs, mv("sell", 2_000_000, T0), [], RuleContext())
    assert [h.code for h in hits] == ["high_value"] and hits[0].score == 60


@pytest.mark.parametrize("code", sorted(RULES))
def test_every_rule_is_quiet_on_an_ordinary_movement(code: str) -> None:
    history = [mv("buy", 1_000, T0 - timedelta(days=d)) for d in (40, 20, 5)]
    assert (
        run(code, mv("send", 500, T0), history, RuleContext(account_opened_at=T0 - timedelta(days=60)))
        is None
    )
