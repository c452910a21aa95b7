"""The quotes table: the locked numbers of every quote, as integer minor units, and its status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, MinorUnits, UTCDateTime, utcnow

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.quotes.models import ...` keeps working.
from core.quotes.types import QuoteStatus as QuoteStatus

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Quote(Base):
    __tablename__ = "quotes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    merchant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(8))
    asset: Mapped[str] = mapped_column(String(16))
    rail: Mapped[str] = mapped_column(String(8))
    given: Mapped[str] = mapped_column(String(8))
    pay_asset: Mapped[str] = mapped_column(String(16))
    pay_minor: Mapped[int] = mapped_column(MinorUnits)
    receive_asset: Mapped[str] = mapped_column(String(16))
    receive_minor: Mapped[int] = mapped_column(MinorUnits)
    fee_asset: Mapped[str] = mapped_column(String(16))
    fee_total_minor: Mapped[int] = mapped_column(MinorUnits)
    fees: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # [{"kind", "minor"}]
    margin_minor: Mapped[int] = mapped_column(MinorUnits)  # in fee_asset
    margin_percent: Mapped[str] = mapped_column(String(32))
    ref_rate: Mapped[str] = mapped_column(String(64))
    rate: Mapped[str] = mapped_column(String(64))
    rate_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rate_source: Mapped[str] = mapped_column(String(120), default="")
    liquidity_in_minor: Mapped[int | None] = mapped_column(MinorUnits, nullable=True)
    liquidity_out_minor: Mapped[int | None] = mapped_column(MinorUnits, nullable=True)
    payout_minor: Mapped[int | None] = mapped_column(MinorUnits, nullable=True)
    change_minor: Mapped[int | None] = mapped_column(MinorUnits, nullable=True)
    fee_rule_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=QuoteStatus.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    entry_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(160), nullable=True)
