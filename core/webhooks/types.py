"""Webhook delivery statuses, attempt outcomes and notices, shared with outer packages (tables: models.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # an attempt is due at next_attempt_at (None: at once)
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # a final answer (4xx other than 408/429), retries used up, or endpoint off


class AttemptOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # network error, timeout, 408, 429 or 5xx: tried again later
    FAILED = "failed"


@dataclass(frozen=True)
class DisabledEndpointNotice:
    """Whom to tell, in which language, that an endpoint was turned off."""

    endpoint_id: int
    url: str
    phones: tuple[str, ...]  # the merchant's notification phones, else its contact phone
    language: str
