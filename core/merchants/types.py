"""Merchant statuses, settlement options and defaults, shared with outer packages (tables: models.py)."""

from __future__ import annotations

import enum


class MerchantStatus(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"


class SettlementMethod(enum.StrEnum):
    TILL = "till"  # M-Pesa Buy Goods till
    PAYBILL = "paybill"  # paybill number + account reference
    PHONE = "phone"  # an M-Pesa phone number (B2C)


class SettlementSchedule(enum.StrEnum):
    INSTANT = "instant"
    DAILY = "daily"


DEFAULT_FEE_BPS = 150
DEFAULT_INVOICE_EXPIRY_MINUTES = 15
DEFAULT_SETTLEMENT_MINIMUM_MINOR = 1_000  # KES 10.00, M-Pesa's B2C minimum
DEFAULT_INVOICE_LIMIT_MINOR = 100_000_000  # KES 1,000,000.00 per invoice
MAX_TOLERANCE_BPS = 1_000  # 10 %
