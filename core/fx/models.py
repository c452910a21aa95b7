"""FX tables: every fetched rate with its source and time, effective and cross rates with their
inputs, staff alerts when sources disagree, and maker-checker manual overrides.

Rates are stored as exact decimal strings (never float, and no Numeric round trip through SQLite).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.base import Base, UTCDateTime, utcnow

# The enums, value objects and constants live in types.py (outer packages import them from
# there); re-exported here so core's own `from core.fx.models import ...` keeps working.
from core.fx.types import OverrideStatus as OverrideStatus
from core.fx.types import RateKind as RateKind

BigId = BigInteger().with_variant(Integer(), "sqlite")


class FxRate(Base):
    __tablename__ = "fx_rates"
    __table_args__ = (Index("ix_fx_rates_pair_kind_as_of", "base", "quote", "kind", "as_of"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    base: Mapped[str] = mapped_column(String(8))
    quote: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    rate: Mapped[str] = mapped_column(String(64))  # fetched: as given; else the mid
    bid: Mapped[str] = mapped_column(String(64))
    ask: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(120))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime)  # a cross rate is as old as its oldest input
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class FxAlert(Base):
    """A staff alert: sources disagreed beyond tolerance (the conservative rate was used)."""

    __tablename__ = "fx_alerts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    pair: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FxOverride(Base):
    """A manual rate by finance staff: proposed by a maker, approved by a different checker."""

    __tablename__ = "fx_overrides"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    base: Mapped[str] = mapped_column(String(8))
    quote: Mapped[str] = mapped_column(String(8))
    rate: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=OverrideStatus.PENDING.value)
    maker_id: Mapped[int] = mapped_column(Integer)
    checker_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    valid_seconds: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
