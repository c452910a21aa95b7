"""Merchant credits (one per settled invoice or Kibeti payment) and settlements (one payout each).

Amounts are KES minor units. A credit's `net_minor` is what reached the merchant's KES account
(`gross_minor - fee_minor`); a settlement pays whole shillings of the merchant's available balance
and lists the credits it covers (`settlement_id`). A failed settlement releases its credits again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, MinorUnits, UTCDateTime, utcnow

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.settlements.models import ...` keeps working.
from core.settlements.types import CreditSource as CreditSource
from core.settlements.types import MerchantView as MerchantView
from core.settlements.types import RefundMethod as RefundMethod
from core.settlements.types import RefundStatus as RefundStatus
from core.settlements.types import SettlementStatus as SettlementStatus

BigId = BigInteger().with_variant(Integer(), "sqlite")


class MerchantCredit(Base):
    __tablename__ = "merchant_credits"
    __table_args__ = (UniqueConstraint("source", "source_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    source: Mapped[str] = mapped_column(String(16))
    source_ref: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(24))  # what the merchant and payer see
    payer: Mapped[str] = mapped_column(String(20), default="")  # masked phone, or ""
    payer_customer_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    paid_asset: Mapped[str] = mapped_column(String(16), default="KES")
    paid_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    gross_minor: Mapped[int] = mapped_column(MinorUnits)
    fee_minor: Mapped[int] = mapped_column(MinorUnits)
    net_minor: Mapped[int] = mapped_column(MinorUnits)
    refunded_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    entry_id: Mapped[int] = mapped_column(BigInteger)
    settlement_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Settlement(Base):
    __tablename__ = "merchant_settlements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=SettlementStatus.PAYING.value, index=True)
    method: Mapped[str] = mapped_column(String(8))  # till | paybill | phone
    destination: Mapped[str] = mapped_column(String(20))
    account_reference: Mapped[str] = mapped_column(String(20), default="")
    gross_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    fee_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    refunds_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)  # whole shillings sent to M-Pesa
    payout_id: Mapped[str] = mapped_column(String(40), unique=True)
    receipt: Mapped[str | None] = mapped_column(String(32), nullable=True)
    failure: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Refund(Base):
    """A refund of all or part of a payment the merchant was credited for. Its money moves in new
    ledger entries (never an edit); `amount_minor` (KES) never exceeds what is left to refund."""

    __tablename__ = "merchant_refunds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    merchant_id: Mapped[int] = mapped_column(BigInteger, index=True)
    credit_id: Mapped[int] = mapped_column(BigInteger, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    method: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20), index=True)
    amount_minor: Mapped[int] = mapped_column(MinorUnits)  # KES taken from the merchant
    asset: Mapped[str] = mapped_column(String(16), default="KES")  # what the payer gets back
    payout_minor: Mapped[int] = mapped_column(MinorUnits, default=0)  # in `asset`, before the network fee
    network_fee_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    address: Mapped[str] = mapped_column(String(128), default="")
    token_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    withdrawal_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    hold_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # an excess refund: the invoice's own account the crypto came from (nothing was credited for it)
    source_account_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reason: Mapped[str] = mapped_column(String(200), default="")
    failure: Mapped[str] = mapped_column(String(255), default="")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
