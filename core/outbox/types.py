"""Outbox job statuses, shared with outer packages (the table is in models.py)."""

from __future__ import annotations

from enum import StrEnum


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DISPATCHED = "dispatched"
    DONE = "done"
