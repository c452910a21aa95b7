"""The audit chain's genesis hash (the tables are in models.py)."""

from __future__ import annotations

GENESIS_HASH = "0" * 64
