"""Merchant user roles and who is signed in to a dashboard, as plain values shared with outer packages
(the tables are in models.py)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MerchantRole(StrEnum):
    OWNER = "owner"
    VIEWER = "viewer"


@dataclass(frozen=True)
class DashboardUser:
    id: int
    email: str
    role: str  # MerchantRole
    merchant_id: int


@dataclass(frozen=True)
class DashboardMerchant:
    """The merchant's terms a dashboard page shows (read-only there: staff change them)."""

    id: int
    name: str
    till_code: str | None
    fee_bps: int
    settlement_method: str
    settlement_schedule: str
    notification_phones: tuple[str, ...]
