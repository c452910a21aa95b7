"""The claim's shortcode daily value (the sum of today's payouts) reads today's rows through an index,
not the whole payouts table: PostgreSQL's plan for it, custom and generic (a plpgsql statement, as a
prepared one, may be planned generically after five runs), with 100 days of payouts in the table.
The claim's UPDATE is read from kibeti_claim_payout() as installed (payments_0008), its variables
made parameters, and explained as the function's plan cache would plan it."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from core.payments import service

pytestmark = [pytest.mark.postgres]

_HUNDRED_DAYS = """
INSERT INTO payouts (id, idempotency_key, kind, customer_id, account_id, phone, amount_minor, hold_id, status,
  originator_conversation_id, remarks, attempts, flagged, created_at, updated_at, submitted_at, fee_minor)
SELECT md5(g::text), 'k' || g, 'b2c', g % 5000, g % 5000, '254700000000', (100 + g % 5000) * 100, g,
  CASE WHEN g < 20 THEN 'created' WHEN g % 10 = 0 THEN 'failed' ELSE 'succeeded' END,
  md5(g::text), 'x', 1, false, ts, ts, CASE WHEN g < 20 THEN NULL ELSE ts END, 0
FROM (SELECT g, $1::timestamptz - g * interval '86.4 seconds' AS ts FROM generate_series(1, 100000) g) s
"""


# the function's variables, in its argument order, as the UPDATE's parameters
_VARIABLES = ("p_id", "p_now", "p_min", "p_max", "p_limit", "p_midnight", "p_statuses")


async def _claim_update(connection: asyncpg.Connection) -> str:
    """The UPDATE ... RETURNING in the installed function, with $1..$7 for its variables."""
    body: str = await connection.fetchval("SELECT prosrc FROM pg_proc WHERE proname = 'kibeti_claim_payout'")
    update: str = re.findall(r"UPDATE payouts .*?RETURNING \*", body, flags=re.S)[0]
    for number, name in enumerate(_VARIABLES, 1):
        update = re.sub(rf"\b{name}\b", f"${number}", update)
    assert "p_" not in update, update
    return update


def _scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (node type, index name or relation) in the plan tree."""
    found = [(plan["Node Type"], plan.get("Index Name") or plan.get("Relation Name", ""))]
    for child in plan.get("Plans", []):
        found += _scans(child)
    return found


@pytest.mark.parametrize("plan_mode", ["force_custom_plan", "force_generic_plan"])
async def test_the_claims_daily_sum_is_an_index_range_scan(clean_pg_url: str, plan_mode: str) -> None:
    dsn = clean_pg_url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn, ssl=False)
    now = datetime.now(UTC)
    try:
        await connection.execute(_HUNDRED_DAYS, now)
        await connection.execute("ANALYZE payouts")
        await connection.execute(f"SET plan_cache_mode = {plan_mode}")
        arguments = service._claim_arguments(
            hashlib.md5(b"7").hexdigest(), now, 30_000_000_000, "600000", held=False
        )[: len(_VARIABLES)]  # a created one
        statement = await connection.prepare("EXPLAIN (FORMAT JSON) " + await _claim_update(connection))
        [plan] = json.loads(await statement.fetchval(*arguments))
    finally:
        await connection.close()
    scans = _scans(plan["Plan"])
    assert ("Seq Scan", "payouts") not in scans, scans
    assert any(index == "ix_payouts_submitted_at" for _, index in scans), scans
