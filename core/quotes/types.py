"""Quote statuses, shared with outer packages (the table is in models.py)."""

from __future__ import annotations

from enum import StrEnum


class QuoteStatus(StrEnum):
    OPEN = "open"
    EXECUTED = "executed"
