"""Rail order statuses, shared with outer packages (the tables are in models.py)."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    CREATED = "created"  # written with the buy; the submit job has not run
    SUBMITTING = "submitting"  # the submit job claimed it (a crash here is re-checked, never re-sent blind)
    PENDING = "pending"  # the provider has the order; the customer has a link and has not paid
    COMPLETED = "completed"  # the provider's status query said COMPLETED; credited once
    FAILED = "failed"  # FAILED, or never paid and cancelled
    REVERSED = "reversed"  # COMPLETED, credited, then REVERSED: taken back and a staff case opened
    FLAGGED = "flagged"  # the provider's answer disagrees with our order: nothing credited, staff look


FINAL_ORDER = (OrderStatus.COMPLETED.value, OrderStatus.FAILED.value, OrderStatus.FLAGGED.value)
OPEN_ORDER = (OrderStatus.CREATED.value, OrderStatus.SUBMITTING.value, OrderStatus.PENDING.value)
