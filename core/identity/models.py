"""Customers (one per E.164 phone number) and their one-time codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.identity.models import ...` keeps working.
from core.identity.types import CustomerStatus as CustomerStatus
from core.identity.types import Language as Language

Id = BigInteger().with_variant(Integer(), "sqlite")


class Customer(Base):
    __tablename__ = "customers"
    # One customer per national ID: the registration use case checks first; this holds under races.
    __table_args__ = (
        Index("uq_customers_national_id", "national_id", unique=True),
        # the staff portal's name search (core_0106): pg_trgm GIN on PostgreSQL, plain on SQLite
        Index(
            "ix_customers_name_trgm", "name", postgresql_using="gin", postgresql_ops={"name": "gin_trgm_ops"}
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    national_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    language: Mapped[str] = mapped_column(String(2), nullable=False, default=Language.EN.value)
    kyc_tier: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=CustomerStatus.ACTIVE.value)
    pin_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    pin_failed_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    pin_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pin_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pin_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # staff reset the PIN and an SMS code was sent: the old PIN is dead until a new one is set
    pin_reset_pending: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)

    def __repr__(self) -> str:  # never the phone, ID or hash
        return f"Customer(id={self.id}, status={self.status})"


class CustomerOtp(Base):
    """A one-time code: stored hashed, valid 5 minutes, single use, limited attempts."""

    __tablename__ = "customer_otps"
    __table_args__ = (UniqueConstraint("reference"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    reference: Mapped[str] = mapped_column(String(64), nullable=False)
    phone: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
