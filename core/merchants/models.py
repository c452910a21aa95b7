"""One row per merchant: created by staff (pending), activated after the compliance screen.

`till_code` is Kibeti's own short merchant code (customers type it on USSD to pay); the settlement
fields say where M-Pesa settlements go (a Buy Goods till, a paybill + account, or a phone).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, synonym

from core.db.base import Base, MinorUnits, UTCDateTime

Id = BigInteger().with_variant(Integer(), "sqlite")


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
MIN_FEE_BPS, MAX_FEE_BPS = 100, 200
DEFAULT_INVOICE_EXPIRY_MINUTES = 15
DEFAULT_SETTLEMENT_MINIMUM_MINOR = 1_000  # KES 10.00, M-Pesa's B2C minimum
DEFAULT_INVOICE_LIMIT_MINOR = 100_000_000  # KES 1,000,000.00 per invoice
MAX_TOLERANCE_BPS = 1_000  # 10 %


class Merchant(Base):
    __tablename__ = "merchants"
    __table_args__ = (
        CheckConstraint("fee_bps >= 100 AND fee_bps <= 200", name="fee_bps_range"),
        CheckConstraint(
            "payment_tolerance_bps >= 0 AND payment_tolerance_bps <= 1000", name="tolerance_range"
        ),
        CheckConstraint(
            "invoice_expiry_minutes >= 1 AND invoice_expiry_minutes <= 1440", name="expiry_range"
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    business_name = synonym("name")
    status: Mapped[str] = mapped_column(String(12), nullable=False, default=MerchantStatus.PENDING.value)
    till_code: Mapped[str | None] = mapped_column(String(8), nullable=True, unique=True)
    kra_pin: Mapped[str] = mapped_column(String(11), nullable=False, default="")
    registration_number: Mapped[str] = mapped_column(String(40), nullable=False, default="")
    directors: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    contact_phone: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    notification_phones: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    language: Mapped[str] = mapped_column(String(2), nullable=False, default="en")
    settlement_method: Mapped[str] = mapped_column(
        String(8), nullable=False, default=SettlementMethod.PHONE.value
    )
    settlement_till: Mapped[str] = mapped_column(String(10), nullable=False, default="")
    settlement_paybill: Mapped[str] = mapped_column(String(10), nullable=False, default="")
    settlement_account: Mapped[str] = mapped_column(String(20), nullable=False, default="")
    settlement_phone: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    settlement_schedule: Mapped[str] = mapped_column(
        String(8), nullable=False, default=SettlementSchedule.INSTANT.value
    )
    settlement_minimum_minor: Mapped[int] = mapped_column(
        MinorUnits, nullable=False, default=DEFAULT_SETTLEMENT_MINIMUM_MINOR
    )
    fee_bps: Mapped[int] = mapped_column(Integer, nullable=False, default=DEFAULT_FEE_BPS)
    invoice_expiry_minutes: Mapped[int] = mapped_column(
        Integer, nullable=False, default=DEFAULT_INVOICE_EXPIRY_MINUTES
    )
    payment_tolerance_bps: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    invoice_limit_minor: Mapped[int] = mapped_column(
        MinorUnits, nullable=False, default=DEFAULT_INVOICE_LIMIT_MINOR
    )
    screening_outcome: Mapped[str] = mapped_column(String(12), nullable=False, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    created_by: Mapped[str] = mapped_column(String(100), nullable=False)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    suspension_reason: Mapped[str] = mapped_column(String(200), nullable=False, default="")

    @property
    def active(self) -> bool:
        return self.status == MerchantStatus.ACTIVE.value

    @active.setter
    def active(self, value: bool) -> None:
        self.status = (MerchantStatus.ACTIVE if value else MerchantStatus.SUSPENDED).value


class ApiIdempotencyKey(Base):
    """A merchant API POST made with an Idempotency-Key: its request's digest and the response given,
    written in the transaction of the work it did, so a retry gets the same answer and a reuse of the
    key for another body is refused."""

    __tablename__ = "merchant_api_idempotency"
    __table_args__ = (UniqueConstraint("merchant_id", "key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id"), nullable=False)
    key: Mapped[str] = mapped_column(String(255), nullable=False)
    request_digest: Mapped[str] = mapped_column(String(64), nullable=False)
    status_code: Mapped[int] = mapped_column(Integer, nullable=False)
    response: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
