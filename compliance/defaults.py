"""Default KYC tiers and monitoring-rule parameters, seeded by migration compliance_0001 and then
edited in the database (COMPLIANCE.md 3.2 and 4; design choices, not law). KES minor units."""

from __future__ import annotations

from typing import Any

KES = 100  # minor units per shilling

DEFAULT_TIERS: list[dict[str, Any]] = [
    {
        "tier": 0,
        "name": "T0 phone only",
        "requirements": ["phone"],
        "per_transaction_kes": 5_000 * KES,
        "daily_kes": 10_000 * KES,
        "monthly_kes": 50_000 * KES,
        "max_balance_kes": 20_000 * KES,
        "crypto_withdrawal_kes": 0,
    },
    {
        "tier": 1,
        "name": "T1 name, national ID, date of birth",
        "requirements": ["phone", "full_name", "id_number", "date_of_birth", "iprs_match", "sanctions_clear"],
        "per_transaction_kes": 250_000 * KES,
        "daily_kes": 500_000 * KES,
        "monthly_kes": 3_000_000 * KES,
        "max_balance_kes": 500_000 * KES,
        "crypto_withdrawal_kes": 130_000 * KES,  # about USD 1,000 (travel-rule threshold)
    },
    {
        "tier": 2,
        "name": "T2 ID photo and selfie, reviewed",
        "requirements": ["t1", "id_photo", "selfie", "staff_review"],
        "per_transaction_kes": 1_000_000 * KES,
        "daily_kes": 2_000_000 * KES,
        "monthly_kes": 20_000_000 * KES,
        "max_balance_kes": 5_000_000 * KES,
        "crypto_withdrawal_kes": 1_000_000 * KES,
    },
]

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "code": "high_value",
        "description": "Single movement at or above the threshold",
        "mode": "monitor",
        "score": 60,
        "params": {"threshold_kes": 1_000_000 * KES},
    },
    {
        "code": "structuring",
        "description": "Repeated amounts just under a reporting or product threshold",
        "mode": "monitor",
        "score": 70,
        "params": {
            "limits_kes": [130_000 * KES, 250_000 * KES, 1_940_000 * KES],
            "band": "0.90",
            "hits_24h": 3,
            "hits_7d": 5,
        },
    },
    {
        "code": "velocity",
        "description": "Too many movements in a day, or a day far above the 30-day mean",
        "mode": "monitor",
        "score": 50,
        "params": {"count_24h": 20, "volume_multiple": 5, "min_history": 5},
    },
    {
        "code": "pass_through",
        "description": "Inflow followed within 24 h by an outflow of most of it, repeatedly",
        "mode": "monitor",
        "score": 70,
        "params": {"window_hours": 24, "ratio": "0.80", "cycles_7d": 2},
    },
    {
        "code": "fan_in",
        "description": "Many distinct counterparties paying in, then an outflow",
        "mode": "monitor",
        "score": 60,
        "params": {"counterparties_7d": 10},
    },
    {
        "code": "new_account_large",
        "description": "Large movement in the first days of an account",
        "mode": "review",
        "score": 40,
        "params": {"account_age_days": 30, "threshold_kes": 100_000 * KES},
    },
    {
        "code": "dormant_reactivation",
        "description": "Activity after a long dormancy, with volume soon after",
        "mode": "monitor",
        "score": 50,
        "params": {"dormant_days": 180, "window_days": 7, "threshold_kes": 50_000 * KES},
    },
    {
        "code": "shared_mpesa_number",
        "description": "One M-Pesa number used by more than one KYC identity",
        "mode": "block",
        "score": 100,
        "params": {"lookback_days": 365},
    },
]

ALERT_SCORE_THRESHOLD = 40
