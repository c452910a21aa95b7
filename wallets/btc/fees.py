"""Bitcoin fee estimation: sat/vB from the node (Esplora /fee-estimates), P2WPKH sizes in vbytes."""

from __future__ import annotations

import json
from decimal import ROUND_CEILING, Decimal

import httpx

from wallets.errors import NodeError

MIN_RELAY_SAT_PER_VB = Decimal(1)
# BIP141 sizes for native segwit (P2WPKH) spends: overhead 10.5 vB, input 68 vB, output 31 vB
TX_OVERHEAD_VB = Decimal("10.5")
P2WPKH_INPUT_VB = 68
P2WPKH_OUTPUT_VB = 31


async def fee_rate(client: httpx.AsyncClient, *, target_blocks: int = 3) -> Decimal:
    """sat/vB to confirm within `target_blocks`, never below the minimum relay fee."""
    try:
        response = await client.get("/fee-estimates")
        response.raise_for_status()
        estimates = json.loads(response.text, parse_float=Decimal)  # never float
    except (httpx.HTTPError, ValueError) as exc:
        raise NodeError(f"Esplora /fee-estimates failed: {exc}") from exc
    try:
        rates = {int(k): Decimal(v) for k, v in estimates.items()}
    except (AttributeError, TypeError, ValueError, ArithmeticError) as exc:
        raise NodeError("malformed fee estimates") from exc
    eligible = [blocks for blocks in rates if blocks <= target_blocks]
    if not eligible:
        raise NodeError(f"no fee estimate for {target_blocks} blocks or sooner")
    rate = rates[max(eligible)]
    if rate < 0 or rate > 10_000:
        raise NodeError(f"implausible fee rate {rate} sat/vB")
    return max(rate, MIN_RELAY_SAT_PER_VB)


def p2wpkh_vsize(inputs: int, outputs: int) -> int:
    size = TX_OVERHEAD_VB + P2WPKH_INPUT_VB * inputs + P2WPKH_OUTPUT_VB * outputs
    return int(size.to_integral_value(rounding=ROUND_CEILING))


def fee_sats(rate_sat_per_vb: Decimal, *, inputs: int = 1, outputs: int = 2) -> int:
    """The network fee of a P2WPKH transaction (a withdrawal: one payee output plus change)."""
    return int((rate_sat_per_vb * p2wpkh_vsize(inputs, outputs)).to_integral_value(rounding=ROUND_CEILING))


def inputs_needed(coin_values: list[int], amount: int, rate_sat_per_vb: Decimal) -> int | None:
    """How many coins (largest first, as withdrawals select them) pay `amount` plus the fee at this
    rate; None when they cannot."""
    total = 0
    for count, value in enumerate(sorted(coin_values, reverse=True), start=1):
        total += value
        if total >= amount + fee_sats(rate_sat_per_vb, inputs=count, outputs=2):
            return count
    return None
