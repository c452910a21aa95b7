"""One row per merchant: created by staff (pending), activated after the compliance screen.

`till_code` is Kibeti's own short merchant code (customers type it on USSD to pay); the settlement
fields say where M-Pesa settlements go (a Buy Goods till, a paybill + account, or a phone).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, synonym

from core.db.base import Base, MinorUnits, UTCDateTime

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.merchants.models import ...` keeps working.
from core.merchants.types import DEFAULT_FEE_BPS as DEFAULT_FEE_BPS
from core.merchants.types import DEFAULT_INVOICE_EXPIRY_MINUTES as DEFAULT_INVOICE_EXPIRY_MINUTES
from core.merchants.types import DEFAULT_INVOICE_LIMIT_MINOR as DEFAULT_INVOICE_LIMIT_MINOR
from core.merchants.types import DEFAULT_SETTLEMENT_MINIMUM_MINOR as DEFAULT_SETTLEMENT_MINIMUM_MINOR
from core.merchants.types import MAX_TOLERANCE_BPS as MAX_TOLERANCE_BPS
from core.merchants.types import MerchantStatus as MerchantStatus
from core.merchants.types import SettlementMethod as SettlementMethod
from core.merchants.types import SettlementSchedule as SettlementSchedule

Id = BigInteger().with_variant(Integer(), "sqlite")


MIN_FEE_BPS, MAX_FEE_BPS = 100, 200


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
