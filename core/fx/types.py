"""Rate kinds and override statuses, shared with outer packages (the tables are in models.py)."""

from __future__ import annotations

from enum import StrEnum


class RateKind(StrEnum):
    FETCHED = "fetched"  # exactly what one source said
    EFFECTIVE = "effective"  # the rate used for a base pair (primary, or conservative on disagreement)
    CROSS = "cross"  # BTC/KES, USDT/KES computed from effective inputs (listed in `inputs`)


class OverrideStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
