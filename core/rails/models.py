"""Collection orders on a hosted rail (PesaPal), and every notification a rail sent us."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, MinorUnits, UTCDateTime, utcnow

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.rails.models import ...` keeps working.
from core.rails.types import FINAL_ORDER as FINAL_ORDER
from core.rails.types import OPEN_ORDER as OPEN_ORDER
from core.rails.types import OrderStatus as OrderStatus

BigId = BigInteger().with_variant(Integer(), "sqlite")


class RailOrder(Base):
    __tablename__ = "rail_orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rail: Mapped[str] = mapped_column(String(16))
    merchant_reference: Mapped[str] = mapped_column(String(50), unique=True)  # ours, sent as PesaPal's `id`
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # buy | topup
    customer_id: Mapped[int] = mapped_column(BigInteger, index=True)
    account_id: Mapped[int] = mapped_column(Integer)  # the KES wallet credited
    phone: Mapped[str] = mapped_column(String(20))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    currency: Mapped[str] = mapped_column(String(8), default="KES")
    quote_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    tracking_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    redirect_url: Mapped[str] = mapped_column(String(500), default="")
    link_code: Mapped[str] = mapped_column(String(16), unique=True)  # our short link /p/<code>
    confirmation: Mapped[str] = mapped_column(String(64), default="")
    method: Mapped[str] = mapped_column(String(32), default="")
    provider_status: Mapped[str] = mapped_column(String(32), default="")
    flag_reason: Mapped[str] = mapped_column(String(255), default="")
    entry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reversal_entry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    refunded_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    hints: Mapped[int] = mapped_column(Integer, default=0)  # notifications received (IPN, redirect)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RailNotice(Base):
    """A notification as it arrived (IPN, redirect): a hint only; unmatched ones are flagged here."""

    __tablename__ = "rail_notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    rail: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(24))  # IPNCHANGE | CALLBACKURL | RECURRING ...
    tracking_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    merchant_reference: Mapped[str] = mapped_column(String(64), default="")
    order_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: flagged, unknown order
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RailRefund(Base):
    """A refund of a rail payment, written (with a hold on the customer's wallet) before the provider
    is asked: pending, then unknown (no answer) or accepted (PesaPal took it; it awaits the merchant's
    approval on PesaPal's dashboard), the hold staying until the provider's status shows it made
    (refunded: booked); or refused / not_refunded (the hold released)."""

    __tablename__ = "rail_refunds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(BigInteger, index=True)
    rail: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(MinorUnits)
    refunded_before_minor: Mapped[int] = mapped_column(MinorUnits)  # the order's refunded total then
    status: Mapped[str] = mapped_column(String(16), index=True)
    open_order_id: Mapped[int | None] = mapped_column(BigInteger, unique=True, nullable=True)
    hold_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    staff_email: Mapped[str] = mapped_column(String(254), default="")
    remarks: Mapped[str] = mapped_column(String(100), default="")
    outcome: Mapped[str] = mapped_column(String(255), default="")  # the provider's words, or ours
    checks: Mapped[int] = mapped_column(Integer, default=0)  # status queries made about it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
