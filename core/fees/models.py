"""Fee rules in the database: versioned, effective-dated, with per-KYC-tier and per-merchant overrides.

A rule's scope is (kind, asset, side, kyc_tier, merchant_id); "*" means any asset or side and NULL
any tier or merchant. Changing a fee inserts a new version with its own `effective_from`; rows are
never updated, so what applied at any moment can be replayed. Percentages are exact decimal strings;
fixed amounts and caps are minor units of `currency`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, MinorUnits, UTCDateTime, utcnow

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.fees.models import ...` keeps working.
from core.fees.types import ANY as ANY

BigId = BigInteger().with_variant(Integer(), "sqlite")


class FeeRuleRow(Base):
    __tablename__ = "fee_rules"
    __table_args__ = (Index("ix_fee_rules_kind_effective_from", "kind", "effective_from"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    asset: Mapped[str] = mapped_column(String(16), default=ANY)
    side: Mapped[str] = mapped_column(String(8), default=ANY)
    kyc_tier: Mapped[int | None] = mapped_column(Integer, nullable=True)
    merchant_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    percent: Mapped[str] = mapped_column(String(32), default="0")
    currency: Mapped[str] = mapped_column(String(16), default="")  # asset of the minor-unit columns
    fixed_minor: Mapped[int] = mapped_column(MinorUnits, default=0)
    min_minor: Mapped[int | None] = mapped_column(MinorUnits, nullable=True)
    max_minor: Mapped[int | None] = mapped_column(MinorUnits, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
