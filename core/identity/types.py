"""Customer statuses, languages and the customer view, shared with outer packages (tables: models.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Language(StrEnum):
    EN = "en"
    SW = "sw"


class CustomerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


@dataclass(frozen=True)
class CustomerView:
    """What an outer package (compliance, reports, notices) reads of a customer: no table behind it."""

    id: int
    phone: str  # E.164
    name: str
    national_id: str | None
    language: str
    kyc_tier: int
    status: str
    created_at: datetime
