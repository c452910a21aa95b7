"""Merchant invoices: an amount in KES (or USD) with a rate locked per network until expiry, one deposit
address per network per invoice, the payments seen on them (chain or M-Pesa) and an append-only log
of state changes. States follow BTCPay Server's: New -> Processing -> Settled, or Expired / Invalid,
with the additional status PaidPartial, PaidOver or PaidLate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, MinorUnits, UTCDateTime

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.invoices.models import ...` keeps working.
from core.invoices.types import OWNER_TYPE as OWNER_TYPE
from core.invoices.types import AdditionalStatus as AdditionalStatus
from core.invoices.types import InvoiceStatus as InvoiceStatus
from core.invoices.types import PaymentSource as PaymentSource
from core.invoices.types import PaymentStatus as PaymentStatus

Id = BigInteger().with_variant(Integer(), "sqlite")


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_merchant_id_id", "merchant_id", "id"),
        Index("ix_invoices_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(24), nullable=False, unique=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("merchants.id"), nullable=False)
    currency: Mapped[str] = mapped_column(String(3), nullable=False)  # KES | USD
    amount_minor: Mapped[int] = mapped_column(MinorUnits, nullable=False)  # in `currency`, cents
    kes_amount_minor: Mapped[int] = mapped_column(MinorUnits, nullable=False)  # what the merchant is owed
    usd_kes_rate: Mapped[str] = mapped_column(String(40), nullable=False, default="")  # USD invoices
    order_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    description: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    buyer_phone: Mapped[str] = mapped_column(String(16), nullable=False, default="")
    buyer_email: Mapped[str] = mapped_column(String(254), nullable=False, default="")
    redirect_url: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default=InvoiceStatus.NEW.value)
    additional_status: Mapped[str] = mapped_column(
        String(16), nullable=False, default=AdditionalStatus.NONE.value
    )
    needs_review: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # late money: staff
    tolerance_bps: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    monitoring_until: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)  # expiry + 24 h
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by_key: Mapped[str] = mapped_column(String(32), nullable=False, default="")


class InvoiceMethod(Base):
    """One way to pay an invoice: a network, its own address, the rate locked and the amount due."""

    __tablename__ = "invoice_methods"
    __table_args__ = (UniqueConstraint("invoice_id", "asset"),)  # addresses: unique in deposit_addresses

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    invoice_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("invoices.id"), nullable=False)
    asset: Mapped[str] = mapped_column(String(16), nullable=False)  # BTC | USDT-ERC20 | USDT-TRC20 | KES
    address: Mapped[str] = mapped_column(String(128), nullable=False)  # "" for M-Pesa (KES)
    rate: Mapped[str] = mapped_column(String(40), nullable=False)  # KES per unit, locked at creation
    rate_source: Mapped[str] = mapped_column(String(80), nullable=False, default="")
    due_minor: Mapped[int] = mapped_column(MinorUnits, nullable=False)  # the whole invoice in this asset
    demo: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)


class InvoicePayment(Base):
    """A payment to an invoice: recorded once per (source, asset, reference)."""

    __tablename__ = "invoice_payments"
    __table_args__ = (UniqueConstraint("source", "asset", "reference"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    invoice_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("invoices.id"), nullable=False, index=True)
    source: Mapped[str] = mapped_column(String(8), nullable=False)
    asset: Mapped[str] = mapped_column(String(16), nullable=False)
    reference: Mapped[str] = mapped_column(String(120), nullable=False)  # txid:index | M-Pesa receipt
    amount_minor: Mapped[int] = mapped_column(MinorUnits, nullable=False)  # in `asset` (0 if not ours)
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    reason: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    late: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # first seen after expiry
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    entry_id: Mapped[str] = mapped_column(String(64), nullable=False, default="")


class InvoiceEvent(Base):
    """Append-only: every state change and payment of an invoice, in order."""

    __tablename__ = "invoice_events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    invoice_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("invoices.id"), nullable=False, index=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # e.g. invoice.processing, payment.seen
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    additional_status: Mapped[str] = mapped_column(String(16), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
