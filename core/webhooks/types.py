"""Webhook delivery statuses and attempt outcomes, shared with outer packages (tables: models.py)."""

from __future__ import annotations

from enum import StrEnum


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # an attempt is due at next_attempt_at (None: at once)
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # a final answer (4xx other than 408/429), retries used up, or endpoint off


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # network error, timeout, 408, 429 or 5xx: tried again later
    FAILED = "failed"
